"""Who is asking, and may they: the Airflow user, mapped to the console's three roles.

Plugin endpoints are not protected by Airflow: every console route depends on
:func:`require`, which reads the user the way Airflow's own API does
(``Authorization: Bearer <JWT>`` first, else the ``_token`` cookie the UI sets
at login; :func:`airflow.api_fastapi.core_api.security.get_user` through the
configured auth manager) and then checks the page against the user's roles.
No token: 401. A valid user without the role (or an auditor asking to change
something): 403.

Roles come from the auth manager's user: SimpleAuthManager's ``role``
(admin, op, user, viewer), FAB-style ``roles`` and ``groups`` of other
managers. They map to console roles through the Airflow config option
``[governance_console] role_map`` (env ``AIRFLOW__GOVERNANCE_CONSOLE__ROLE_MAP``),
``airflow-role:console-role`` pairs separated by commas. A config option and
not an Airflow Variable: anyone who may edit Variables in the UI could
otherwise grant themselves records management.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from fastapi import Depends, HTTPException, Request, status

__all__ = ["IG", "RECORDS", "AUDITOR", "ROLES", "PAGES", "DEFAULT_ROLE_MAP", "ConsoleUser", "role_map",
           "console_roles", "require", "may_see"]

IG, RECORDS, AUDITOR = "ig", "records_management", "auditor"
ROLES = (IG, RECORDS, AUDITOR)
DEFAULT_ROLE_MAP = "admin:ig,op:ig,user:records_management,viewer:auditor"

# page -> (roles that may read it, roles that may change things through it)
PAGES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "overview": (frozenset({IG}), frozenset()),
    "retention": (frozenset({IG, AUDITOR}), frozenset({IG})),
    "requests": (frozenset({RECORDS}), frozenset({RECORDS})),
    "ledger": (frozenset({AUDITOR, IG}), frozenset()),
    "quality": (frozenset({IG}), frozenset({IG})),
}
PAGE_TITLES = {"overview": "Overview", "retention": "Retention", "requests": "Access requests",
               "ledger": "Ledger", "quality": "Quality and sharing"}


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    airflow_roles: frozenset[str]
    roles: frozenset[str]

    def may_read(self, page: str) -> bool:
        return bool(self.roles & PAGES[page][0])

    def may_write(self, page: str) -> bool:
        return bool(self.roles & PAGES[page][1])

    @property
    def read_only(self) -> bool:
        return not any(self.may_write(p) for p in PAGES)

    @property
    def pages(self) -> list[tuple[str, str]]:
        return [(p, PAGE_TITLES[p]) for p in PAGES if self.may_read(p)]

    @property
    def actor(self) -> str:
        """The ledger's actor for a change made through a page: the Airflow user's own name."""
        return f"console:{self.name}"


def parse_role_map(text: str) -> dict[str, frozenset[str]]:
    """``"admin:ig,viewer:auditor"`` -> {"admin": {"ig"}, "viewer": {"auditor"}}; unknown console roles refused."""
    from governance.errors import ConfigError

    mapping: dict[str, set[str]] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        source, sep, target = (s.strip().lower() for s in pair.partition(":"))
        if not sep or not source or target not in ROLES:
            raise ConfigError(f"[governance_console] role_map: {pair[:60]!r} is not airflow-role:console-role "
                              f"(console roles: {', '.join(ROLES)})")
        mapping.setdefault(source, set()).add(target)
    return {k: frozenset(v) for k, v in mapping.items()}


def role_map() -> dict[str, frozenset[str]]:
    from airflow.configuration import conf

    return parse_role_map(conf.get("governance_console", "role_map", fallback=DEFAULT_ROLE_MAP))


def airflow_roles(user: Any) -> frozenset[str]:
    """Role and group names an auth manager's user carries, lower-cased."""
    names: list[Any] = []
    role = getattr(user, "role", None)  # SimpleAuthManagerUser
    if role:
        names.append(role)
    for attr in ("roles", "groups"):  # FAB users (Role objects), Keycloak-style groups (strings)
        value = getattr(user, attr, None)
        if isinstance(value, (list, tuple, set, frozenset)):
            names.extend(value)
    return frozenset(str(getattr(n, "name", n)).strip().lower() for n in names if n)


def console_roles(found: Iterable[str], mapping: dict[str, frozenset[str]]) -> frozenset[str]:
    out: set[str] = set()
    for name in found:
        out |= mapping.get(name, frozenset())
    return frozenset(out)


async def current_user(request: Request) -> ConsoleUser:
    from fastapi.security import HTTPAuthorizationCredentials

    from airflow.api_fastapi.core_api.security import get_user

    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    bearer = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if scheme.lower() == "bearer" and token else None
    user = await get_user(request, None, bearer)  # 401 without a token, 403 for a bad one (Airflow's own rules)
    found = airflow_roles(user)
    return ConsoleUser(name=str(user.get_name()), airflow_roles=found, roles=console_roles(found, role_map()))


def may_see(user: ConsoleUser, page: str) -> bool:
    return user.may_read(page)


def require(page: str, *, write: bool = False):
    """FastAPI dependency: the user, if they may read (or, with ``write``, change) ``page``."""
    async def dependency(request: Request, user: ConsoleUser = Depends(current_user)) -> ConsoleUser:
        request.state.console_user = user  # an error page still shows who is asking and their pages
        allowed = user.may_write(page) if write else user.may_read(page)
        if not allowed:
            verb = "change" if write else "see"
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                detail=f"{user.name} ({', '.join(sorted(user.roles)) or 'no console role'}) "
                                       f"may not {verb} {PAGE_TITLES[page]}")
        if write:
            _same_origin(request)
        return user

    return dependency


def _same_origin(request: Request) -> None:
    """Changes made with the login cookie must come from our own pages (CSRF)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return  # an explicit token is not sent by a browser on its own
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="cross-site form refused")
    origin = request.headers.get("origin")
    if origin and origin not in ("null",) and origin.split("://", 1)[-1] != request.headers.get("host"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="form from another origin refused")
