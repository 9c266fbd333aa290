"""Tampering with the ledger's tables is detected, on SQLite and PostgreSQL.

Each test builds 30 entries with a checkpoint every 10 (so 10, 20, 30 are
sealed), alters the tables directly as an attacker with database access would,
and checks verify() names the first entry that cannot be trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from governance.keys import KeyStore
from governance.ledger import GENESIS_HASH, Ledger, canonical
from governance.ledger.canonical import checkpoint_payload

_JSON = ("record_ids", "counts", "details")


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys")


@pytest.fixture
def ledger(db_url: str, keys: KeyStore) -> Iterator[Ledger]:
    opened = Ledger.open(db_url, keys, checkpoint_every=10)
    opened.append_many(
        {
            "actor": f"job-{i % 3}", "action": "record.destroyed", "reason": f"retention period ended ({i})",
            "rule": "CS-25Y", "store": "default", "record_ids": [f"case-{i}", f"doc-{i}"],
            "counts": {"checked": i, "details": i, "records": 2},
            "details": {"batch": f"b-{i // 5}", "details": "x", "dry_run": False},
        }
        for i in range(1, 31)
    )
    assert opened.verify().ok
    yield opened
    opened.close()


@pytest.fixture
def db(ledger: Ledger) -> Iterator[sa.Engine]:
    """A separate engine: the attacker's own connection."""
    engine = sa.create_engine(ledger.engine.url)
    yield engine
    engine.dispose()


def _rows(db: sa.Engine) -> list[dict[str, Any]]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM ledger_entries ORDER BY seq"))]


def _rewrite(db: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with db.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_entries"))
        if rows:
            columns = ", ".join(rows[0])
            values = ", ".join(f":{c}" for c in rows[0])
            conn.execute(sa.text(f"INSERT INTO ledger_entries ({columns}) VALUES ({values})"), rows)


def _hash(row: dict[str, Any], prev: str) -> str:
    """The documented rule, computed independently of the library."""
    body = {k: (json.loads(v) if k in _JSON else v) for k, v in row.items() if k not in ("prev_hash", "entry_hash")}
    return hashlib.sha256(prev.encode() + b"\n" + canonical(body).encode()).hexdigest()


def _rechain(rows: list[dict[str, Any]], start: int) -> None:
    """Recompute prev_hash/entry_hash from index ``start`` on: an attacker hiding an edit."""
    prev = rows[start - 1]["entry_hash"] if start else GENESIS_HASH
    for row in rows[start:]:
        row["prev_hash"] = prev
        row["entry_hash"] = prev = _hash(row, prev)


def _execute(db: sa.Engine, sql: str, **params: Any) -> None:
    with db.begin() as conn:
        conn.execute(sa.text(sql), params)


def _fails(ledger: Ledger, seq: int | None, *phrases: str, **kwargs: Any) -> None:
    report = ledger.verify(**kwargs)
    assert not report.ok, report
    assert report.first_bad_seq == seq, report
    for phrase in phrases:
        assert phrase in report.reason, report.reason
    assert report.summary().startswith("ledger TAMPERED")


@pytest.mark.parametrize(
    "column, value",
    [
        ("actor", "someone-else"), ("action", "record.retained"), ("reason", "no reason"), ("rule", "CS-1Y"),
        ("store", "other"), ("record_ids", '["case-13"]'), ("counts", '{"checked":13,"details":13,"records":3}'),
        ("details", '{"batch":"b-2","details":"x","dry_run":true}'), ("recorded_at", "2001-01-01T00:00:00.000000Z"),
        ("entry_id", "00000000-0000-0000-0000-000000000000"), ("prev_hash", "1" * 64), ("entry_hash", "2" * 64),
    ],
)
def test_editing_any_field_is_detected(ledger: Ledger, db: sa.Engine, column: str, value: str) -> None:
    _execute(db, f"UPDATE ledger_entries SET {column} = :v WHERE seq = 13", v=value)
    _fails(ledger, 13)


def test_non_canonical_json_column_is_detected(ledger: Ledger, db: sa.Engine) -> None:
    _execute(db, "UPDATE ledger_entries SET counts = :v WHERE seq = 13", v='{"checked": 13, "details": 13, "records": 2}')
    _fails(ledger, 13, "does not match its hash")


@pytest.mark.parametrize("shift", ["counts-shorter", "counts-longer"])
def test_shifting_text_between_counts_and_details_is_detected(ledger: Ledger, db: sa.Engine, shift: str) -> None:
    # The stored counts and details texts are spliced into the hashed text with
    # ',"details":' between them. Both contain that separator too, so moving the
    # split keeps the hashed text byte-identical: the split itself is checked.
    rows = _rows(db)
    row = rows[12]
    joined = row["counts"] + ',"details":' + row["details"]
    parts = joined.split(',"details":', 1) if shift == "counts-shorter" else joined.rsplit(',"details":', 1)
    assert parts != [row["counts"], row["details"]]
    row["counts"], row["details"] = parts
    _rewrite(db, rows)
    _fails(ledger, 13, "malformed counts/details")


def test_edit_with_recomputed_hash_breaks_the_next_link(ledger: Ledger, db: sa.Engine) -> None:
    rows = _rows(db)
    rows[12]["actor"] = "someone-else"
    rows[12]["entry_hash"] = _hash(rows[12], rows[12]["prev_hash"])
    _rewrite(db, rows)
    _fails(ledger, 13, "chain breaks between entries 13 and 14")


def test_edit_of_the_last_entry_with_recomputed_hash_breaks_its_checkpoint(ledger: Ledger, db: sa.Engine) -> None:
    rows = _rows(db)
    rows[-1]["record_ids"] = '["case-1"]'
    _rechain(rows, 29)
    _rewrite(db, rows)
    _fails(ledger, 30, "signed checkpoint")


def test_rewriting_the_rest_of_the_chain_is_caught_by_the_next_checkpoint(ledger: Ledger, db: sa.Engine) -> None:
    rows = _rows(db)
    rows[12]["counts"] = '{"checked":13,"details":13,"records":0}'
    _rechain(rows, 12)
    _rewrite(db, rows)
    _fails(ledger, 20, "signed checkpoint")


def test_deleting_an_entry_leaves_a_gap(ledger: Ledger, db: sa.Engine) -> None:
    _execute(db, "DELETE FROM ledger_entries WHERE seq = 13")
    _fails(ledger, 13, "entry 13 is missing")


def test_deleting_the_first_entry_is_detected(ledger: Ledger, db: sa.Engine) -> None:
    rows = _rows(db)[1:]
    for row in rows:
        row["seq"] -= 1
    _rechain(rows, 0)
    _rewrite(db, rows)
    _fails(ledger, 10, "signed checkpoint")


def test_inserting_an_entry_is_detected(ledger: Ledger, db: sa.Engine) -> None:
    rows = _rows(db)
    forged = dict(rows[12], entry_id="11111111-1111-1111-1111-111111111111", actor="forger")
    rows.insert(12, forged)
    for seq, row in enumerate(rows, start=1):
        row["seq"] = seq
    naive = [dict(r) for r in rows]
    naive[12]["entry_hash"] = _hash(naive[12], naive[12]["prev_hash"])  # only the new row hashed
    _rewrite(db, naive)
    _fails(ledger, 14)
    _rechain(rows, 12)  # a careful forger re-hashes everything after it
    _rewrite(db, rows)
    _fails(ledger, 20, "signed checkpoint")


@pytest.mark.parametrize("with_hashes", [False, True])
def test_swapping_two_entries_is_detected(ledger: Ledger, db: sa.Engine, with_hashes: bool) -> None:
    rows = _rows(db)
    moved = [c for c in rows[0] if c != "seq" and (with_hashes or c not in ("prev_hash", "entry_hash"))]
    for column in moved:
        rows[11][column], rows[16][column] = rows[16][column], rows[11][column]
    _rewrite(db, rows)
    _fails(ledger, 12)


def test_truncating_the_tail_past_a_checkpoint_is_detected(ledger: Ledger, db: sa.Engine) -> None:
    _execute(db, "DELETE FROM ledger_entries WHERE seq > 25")
    _fails(ledger, 26, "entries after seq 25 missing: checkpoint at seq 30")
    _execute(db, "DELETE FROM ledger_entries")
    _fails(ledger, 1, "entries after seq 0 missing: checkpoint at seq 30")


def test_tampered_checkpoint_signature_is_detected(ledger: Ledger, db: sa.Engine) -> None:
    with db.connect() as conn:
        signature = conn.execute(sa.text("SELECT signature FROM ledger_checkpoints WHERE seq = 20")).scalar()
    flipped = ("1" if signature[0] != "1" else "2") + signature[1:]
    _execute(db, "UPDATE ledger_checkpoints SET signature = :s WHERE seq = 20", s=flipped)
    _fails(ledger, 20, "checkpoint at seq 20: signature is not valid")


@pytest.mark.parametrize(
    "column, value, phrase",
    [("entry_hash", "3" * 64, "signature is not valid"), ("signed_at", "2001-01-01T00:00:00.000000Z",
     "signature is not valid"), ("key_id", "0123456789abcdef", "unknown key"), ("signature", "zz", "not valid")],
)
def test_tampered_checkpoint_fields_are_detected(ledger: Ledger, db: sa.Engine, column: str, value: str,
                                                 phrase: str) -> None:
    _execute(db, f"UPDATE ledger_checkpoints SET {column} = :v WHERE seq = 10", v=value)
    _fails(ledger, 10, phrase)


def test_replaced_public_key_is_detected(ledger: Ledger, db: sa.Engine, tmp_path: Path) -> None:
    attacker = KeyStore(tmp_path / "attacker")
    _execute(db, "UPDATE ledger_keys SET public_key_pem = :p", p=attacker.public_key_pem().decode())
    _fails(ledger, 10, "key replaced")


def test_full_forgery_with_another_key_needs_the_published_key_id(
    ledger: Ledger, db: sa.Engine, keys: KeyStore, tmp_path: Path
) -> None:
    """An attacker who rewrites everything and re-signs with their own key makes a
    consistent ledger; only comparing the key with one published elsewhere tells."""
    attacker = KeyStore(tmp_path / "attacker")
    rows = _rows(db)
    rows[4]["actor"] = "forger"
    _rechain(rows, 4)
    _rewrite(db, rows)
    with db.begin() as conn:
        conn.execute(sa.text("DELETE FROM ledger_checkpoints"))
        conn.execute(sa.text("DELETE FROM ledger_keys"))
        conn.execute(sa.text("INSERT INTO ledger_keys VALUES (:k, :p, :t)"),
                     {"k": attacker.key_id(), "p": attacker.public_key_pem().decode(), "t": "2001-01-01T00:00:00.000000Z"})
        for seq in (10, 20, 30):
            entry_hash, signed_at = rows[seq - 1]["entry_hash"], "2001-01-01T00:00:00.000000Z"
            signature = attacker.signing_key().sign(checkpoint_payload(seq, entry_hash, signed_at, attacker.key_id()))
            conn.execute(sa.text("INSERT INTO ledger_checkpoints VALUES (:s, :h, :t, :k, :g)"),
                         {"s": seq, "h": entry_hash, "t": signed_at, "k": attacker.key_id(), "g": signature.hex()})
    report = ledger.verify()
    assert report.ok and report.key_ids == (attacker.key_id(),)  # consistent, but visibly another key
    _fails(ledger, None, "not the expected key", expect_key_id=keys.key_id())
    _fails(ledger, None, "not the expected key", expect_key_id=keys.fingerprint())


def test_entries_after_the_last_checkpoint_are_reported_unsealed(ledger: Ledger, db: sa.Engine) -> None:
    rows = _rows(db)
    extra = dict(rows[-1], seq=31, actor="late")
    rows.append(extra)
    _rechain(rows, 30)
    _rewrite(db, rows)
    report = ledger.verify()
    # A well-formed entry after the newest checkpoint cannot be told from a real
    # one until it is sealed; verify says how many such entries there are.
    assert report.ok and report.unsealed == 1 and report.entries == 31
