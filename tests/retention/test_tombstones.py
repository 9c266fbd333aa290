"""Tombstones: recorded once per identifier, found again when the identifier comes back."""

from __future__ import annotations

import sqlalchemy as sa

from governance.db import make_engine
from governance.retention import tables
from governance.retention.tombstones import _tokens, add_tombstones, token
from governance.state import METADATA


def test_tombstones_are_keyed_hashes_recorded_once_each(db_url: str) -> None:
    engine = make_engine(db_url)
    METADATA.create_all(engine)
    key = b"k" * 32
    ids = [f"C{i:05d}" for i in range(3000)]
    with engine.begin() as conn:
        assert add_tombstones(conn, key, store="s1", batch_id="B1", entity="case", ids=ids) == 3000
    with engine.begin() as conn:
        # A case destroyed twice (restored from backup, destroyed again) keeps its first tombstone.
        again = add_tombstones(conn, key, store="s1", batch_id="B2", entity="case", ids=ids[:10] + ["C99999"])
        assert again == 1
        other_store = add_tombstones(conn, key, store="s2", batch_id="B3", entity="case", ids=ids[:5])
        assert other_store == 5
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tables.tombstones)).all()
    assert len(rows) == 3006
    by_token = {(r.store, r.token): r.batch_id for r in rows}
    assert by_token[("s1", token(key, "case", "C00000"))] == "B1"
    assert by_token[("s1", token(key, "case", "C99999"))] == "B2"
    assert _tokens(key, "case", ["C00001"]) == [token(key, "case", "C00001")]
    # No identifier is stored in the clear.
    assert not any(r.token.startswith("C") or "C0000" in r.token for r in rows)
