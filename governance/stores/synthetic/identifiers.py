"""Fictional identifiers in real formats, so pattern redaction has work to do.

Each generator is fictional by construction (see the module docstrings of the
package): nothing here can be a real person's number or address.
"""

from __future__ import annotations

import random

__all__ = ["phone", "postcode", "nhs_number", "ni_number", "email", "nhs_check_digit"]

# Ofcom reserves these for drama: 07700 900000-900999, 020 7946 0000-0999,
# 0113 496 0000-0999, 0161 496 0000-0999.
_PHONE_FORMS = ("07700 900{n3:03d}", "020 7946 0{n3:03d}", "0113 496 0{n3:03d}", "0161 496 0{n3:03d}")
# No UK postcode area starts with Q, V or X, so these are valid in form and fictional.
_AREAS = ("QA", "QE", "VA", "VN", "XL", "XR")
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters used in real inward codes
# NI prefixes: Q is never a first letter, so QQ/QZ are safely fictional.
_NI_PREFIXES = ("QQ", "QZ")


def phone(rng: random.Random) -> str:
    return rng.choice(_PHONE_FORMS).format(n3=rng.randrange(1000))


def postcode(rng: random.Random) -> str:
    area = rng.choice(_AREAS)
    inward = f"{rng.randrange(10)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
    return f"{area}{rng.randrange(1, 20)} {inward}"


def nhs_check_digit(nine_digits: str) -> int | None:
    """Modulus-11 check digit of an NHS number; None when the body is invalid (check 10)."""
    total = sum(int(d) * w for d, w in zip(nine_digits, range(10, 1, -1)))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def nhs_number(rng: random.Random) -> str:
    """A valid-checksum NHS number in the 999 range NHS England reserves for testing."""
    while True:
        body = "999" + f"{rng.randrange(1_000_000):06d}"
        check = nhs_check_digit(body)
        if check is not None:
            digits = body + str(check)
            return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


def ni_number(rng: random.Random) -> str:
    digits = f"{rng.randrange(1_000_000):06d}"
    return f"{rng.choice(_NI_PREFIXES)} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"


def email(given: str, family: str, rng: random.Random) -> str:
    return f"{given.lower()}.{family.lower()}{rng.randrange(10, 99)}@example.org"
