"""Dates as British notes write them, read back to a calendar date.

07/03/2012, 7/3/12, 07.03.12, 07-03-2012, 2012-03-07, 7 March 2012, 7th March 2012, 7th of March
2012, 7 Mar 12, March 7th, 2012. A two-digit year is read both ways (19yy and 20yy) and matches if
either is the date looked for: no clock is read to guess the century.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Iterator

__all__ = ["DATE", "DOB_CUE", "read_dates", "dates_in", "dob_cues"]

from governance.sar.redaction.memo import on_forget
from governance.sar.redaction.trie import fold

_MONTHS = {m: i for i, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")), start=1) for m in names}
_MONTH = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
# Matched on folded (lower-case) text; no leading look-behind (see trie.py): the start is checked in dates_in.
DATE = re.compile(
    r"(?P<d1>\d{1,2})(?P<sep>[./-])(?P<m1>\d{1,2})(?P=sep)(?P<y1>\d{4}|\d{2})(?![\d/-]|\.\d)"
    rf"|(?P<d2>\d{{1,2}}){_ORD}(?:\s+of)?\s+(?P<m2>{_MONTH}),?\s+(?P<y2>\d{{4}}|'?\d{{2}})(?!\d)"
    rf"|(?P<m3>{_MONTH})\s+(?P<d3>\d{{1,2}}){_ORD},?\s+(?P<y3>\d{{4}})(?!\d)"
    r"|(?P<y4>\d{4})-(?P<m4>\d{2})-(?P<d4>\d{2})(?!\d)"
)
# Words that announce a date of birth; the date follows within a few words.
DOB_CUE = re.compile(r"(?:d(?<!\w.)(?:\.?o\.?b\.?|ate of birth)|b(?<!\w.)(?:orn|irthday|\.))(?=\W)")


def _month(text: str) -> int:
    return int(text) if text.isdigit() else _MONTHS[text.lower().rstrip(".")]


def read_dates(match: re.Match[str]) -> list[date]:
    """The calendar dates a DATE match may mean (two for a two-digit year, none if impossible)."""
    g = match.groupdict()
    for n in "1234":
        if g.get(f"d{n}"):
            day, month, year = int(g[f"d{n}"]), _month(g[f"m{n}"]), g[f"y{n}"].lstrip("'")
            break
    else:  # pragma: no cover - the regex always fills one group
        return []
    years = [int(year)] if len(year) == 4 else [1900 + int(year), 2000 + int(year)]
    out = []
    for y in years:
        try:
            out.append(date(y, month, day))
        except ValueError:
            pass
    return out


def _starts_ok(text: str, m: re.Match[str]) -> bool:
    i = m.start()
    if i == 0:
        return True
    before = text[i - 1]
    return not (before.isalnum() or (before in "/.-" and m.group("m3") is None))


# Where a date may start: cheap scans that open with a digit, then DATE is tried there alone (a scan
# with DATE itself, or one opening with month letters, tries nearly every position of the text).
_START = re.compile(r"\d(?<!\w\d)\d?(?:[./-]\d\d?[./-]\d\d|(?:st|nd|rd|th)?(?:\s+of)?\s+"
                    r"(?:jan|feb|ma[ry]|apr|ju[nl]|aug|sep|oct|nov|dec))|\d(?<!\w\d)\d{3}-\d\d-")
_DAY_YEAR = re.compile(r"\d(?<!\w\d)\d?(?:st|nd|rd|th)?,?\s+\d{4}(?!\d)")  # the "7th, 2019" of "March 7th, 2019"
_MONTH_BEFORE = re.compile(rf"(?<![a-z]){_MONTH}\s+$")


def _starts(scan: str) -> list[int]:
    starts = [m.start() for m in _START.finditer(scan)]
    for m in _DAY_YEAR.finditer(scan):
        month = _MONTH_BEFORE.search(scan, max(0, m.start() - 12), m.start())
        if month:
            starts.append(month.start())
    return sorted(starts)


def dates_in(text: str) -> Iterator[tuple[int, int, list[date]]]:
    scan = fold(text)
    after = 0
    for start in _starts(scan):
        if start < after:
            continue
        m = DATE.match(scan, start)
        if m and _starts_ok(scan, m):
            after = m.end()
            days = read_dates(m)
            if days:
                yield m.start(), m.end(), days


@lru_cache(maxsize=8)
def dob_cues(text: str) -> tuple[int, ...]:
    """Where each date-of-birth cue in ``text`` ends."""
    return tuple(m.end() for m in DOB_CUE.finditer(fold(text)))
on_forget(dob_cues.cache_clear)
