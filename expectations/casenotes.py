"""Casenotes: each belongs to an existing case and is dated no later than the as-of date.

Only identifiers and dates are read: the title and text of a note never leave
the database during validation.
"""

from __future__ import annotations

from governance.quality.rules import KeyPresent, KeyUnique, LinkResolves, NotFuture, Present, Readable

__all__ = ["DATASET", "rules"]

DATASET = "casenotes"


def rules() -> list:
    return [
        KeyPresent(entity="casenote"),
        KeyUnique(entity="casenote"),
        Present(entity="casenote", field="case_id"),
        Present(entity="casenote", field="written_on"),
        Readable(entity="casenote", field="written_on"),
        NotFuture(entity="casenote", field="written_on"),
        LinkResolves(entity="casenote", field="case_id"),
        LinkResolves(entity="casenote", field="author_id"),
    ]
