"""The file access log (seed 003 s.2.5): each entry names an existing case and a time not in the future.

Whether non-staff access carried a reason is a compliance question for the
sharing capability, not a data-quality one.
"""

from __future__ import annotations

from governance.quality.rules import KeyPresent, KeyUnique, LinkResolves, NotFuture, Present

__all__ = ["DATASET", "rules"]

DATASET = "access_log"


def rules() -> list:
    return [
        KeyPresent(entity="access_log"),
        KeyUnique(entity="access_log"),
        Present(entity="access_log", field="accessed_at"),
        Present(entity="access_log", field="is_staff"),
        NotFuture(entity="access_log", field="accessed_at"),
        LinkResolves(entity="access_log", field="case_id"),
    ]
