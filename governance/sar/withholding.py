"""Withheld in full means withheld everywhere: what a withheld record may still show of itself.

A record withheld in full (any entity: casenote, document, sharing record,
consent, access-log entry) shows no text and none of its details: no purpose,
no recipient, no reason the family was not told, no author, no title. What
remains depends on the exemption:

- **Acknowledged** withholdings (third-party documents, restricted material,
  police intelligence, privilege, court data, third-party information...)
  keep a placeholder where the record stood: its kind, date and the code that
  withholds it. Telling the requester that something was withheld, and under
  which exemption, is the norm (ICO: explain the exemptions you rely on).
- **Silent** withholdings (serious harm, Sch. 3 Part 3 para 11; child abuse
  data, Sch. 3 Part 5) leave no trace at all: no placeholder, not counted in
  the cover letter (recipients, categories, sources), not in the legend of
  exemptions. Saying that such a record exists (a MARAC referral, a referral
  the family was not told about) would itself disclose what the exemption
  protects, so the bundle neither confirms nor denies it.

Withheld records of either kind contribute nothing to the cover letter's
counts and lists: a count of shares to an agency would disclose a withheld
share. The controller's own evidence (review pack, ``sar_redactions``, the
ledger's counts, the search log in ``sar_searches``) keeps the full numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from governance.sar.discovery import Discovery, Record
from governance.sar.redaction import Redaction

__all__ = ["SILENT_CODES", "is_withheld", "is_silent", "released_view", "withheld_codes"]

SILENT_CODES = frozenset({"SCH3-P11", "SCH3-PT5"})


def withheld_codes(items: Iterable[Redaction]) -> list[str]:
    return sorted({r.code for r in items if r.withholds})


def is_withheld(items: Iterable[Redaction]) -> bool:
    return any(r.withholds for r in items)


def is_silent(items: Iterable[Redaction]) -> bool:
    """Withheld under a code whose very mention would disclose the record."""
    return bool(SILENT_CODES.intersection(withheld_codes(items)))


def released_view(discovery: Discovery, redactions: dict[tuple[str, str], list[Redaction]]
                  ) -> tuple[Discovery, Discovery]:
    """(what the bundle lists, what the cover letter counts).

    The first drops silently withheld records; the second drops every
    withheld record, so no count or list in the letter comes from one.
    """
    def keep(record: Record, *, silent_only: bool) -> bool:
        items = redactions.get(record.key, [])
        return not (is_silent(items) if silent_only else is_withheld(items))

    listed = replace(discovery, records=[r for r in discovery.records if keep(r, silent_only=True)])
    counted = replace(discovery, records=[r for r in discovery.records if keep(r, silent_only=False)])
    return listed, counted
