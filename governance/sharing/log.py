"""The sharing log as the subject-access capability needs it: who received a person's information.

UK GDPR Art. 15(1)(c): a subject-access response lists the recipients to whom
the data were disclosed. :func:`recipients_for_person` reads them from the
store's sharing records (every share is recorded: seed 002 s.3, HM Government
advice 2024), for every case the person is a member of. It returns the
agency, purpose, date and lawful basis, never what was shared.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from governance.sharing import sql
from governance.sharing.policy import FAMILY_ROLES
from governance.stores.store import CaseStore

__all__ = ["recipients_for_person"]


def recipients_for_person(store: CaseStore, person_id: str, *, as_of: date | None = None) -> list[dict[str, Any]]:
    """Shares on the cases ``person_id`` is a child, parent/carer or relative on, oldest first.

    Each item: ``sharing_id``, ``case_id``, ``shared_on`` (ISO date),
    ``agency``, ``purpose``, ``lawful_basis``, ``override_reason`` (logical
    codes). Decisions *not* to share are left out (nothing was received).
    With ``as_of``, shares dated after it are left out. A professional's own
    memberships do not count: the cases they worked on are not data about them.
    An empty list if the store keeps no sharing log.
    """
    if not store.has("sharing_record"):
        return []
    member = store.table("case_member")
    share = store.table("sharing_record")
    optional = [f for f in ("purpose", "lawful_basis", "override_reason") if store.has_field("sharing_record", f)]
    query = (
        sa.select(
            store.raw("sharing_record", "id").label("sharing_id"),
            store.raw("sharing_record", "case_id").label("case_id"),
            store.raw("sharing_record", "shared_on").label("shared_on"),
            store.column("sharing_record", "recipient_agency").label("agency"),
            *(store.column("sharing_record", f) for f in optional),
        )
        .select_from(share.join(member, store.raw("case_member", "case_id") == store.raw("sharing_record", "case_id")))
        .where(
            store.raw("case_member", "person_id") == person_id,
            store.is_("case_member", "role", *FAMILY_ROLES),
            sql.is_shared(store),
        )
        .distinct()
        .order_by(store.raw("sharing_record", "shared_on"), store.raw("sharing_record", "id"))
    )
    if as_of is not None:
        query = query.where(store.raw("sharing_record", "shared_on") <= as_of)
    with store.engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    out = []
    for row in rows:
        item = {"sharing_id": row["sharing_id"], "case_id": row["case_id"],
                "shared_on": row["shared_on"].isoformat() if row["shared_on"] else None, "agency": row["agency"]}
        for f in ("purpose", "lawful_basis", "override_reason"):
            item[f] = row.get(f)
        out.append(item)
    return out
