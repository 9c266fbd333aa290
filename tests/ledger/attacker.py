"""What someone with write access to the ledger database (or to a bundle) can do.

Used by the tamper and mutation tests. The attacker knows the public algorithm
(canonical JSON, the entry hash, the Merkle tree) and can rewrite any row, but
holds neither the signing key nor the witness. Each mutation returns its
category (the name docs/ledger.md uses) so tests can say which ones a ledger
without a witness cannot see.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from governance.ledger import GENESIS_HASH, canonical
from governance.ledger.canonical import tree_head_hash, tree_head_payload
from governance.ledger.merkle import root_of

TABLES = {
    "ledger_entries": ("seq", "body", "entry_hash"),
    "ledger_checkpoints": ("size", "root", "head", "prev", "keys", "signed_at", "key_id", "signature", "frontier"),
    "ledger_keys": ("key_id", "position", "public_key_pem", "created_at"),
    "ledger_nodes": ("level", "idx", "hash"),
}

# Without a witness these cannot be told from a shorter, honest ledger (docs/ledger.md, "Limits").
UNDETECTABLE_WITHOUT_WITNESS = frozenset({"truncate_with_heads", "drop_newest_heads_and_rewrite_after"})


def entry_hash(prev: str, body: str) -> str:
    return hashlib.sha256(b"\x00" + prev.encode() + b"\n" + body.encode()).hexdigest()


class Database:
    """Raw SQL on the ledger's tables, through the attacker's own engine."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    def snapshot(self) -> dict[str, list[tuple]]:
        with self.engine.connect() as conn:
            return {t: [tuple(r) for r in conn.execute(sa.text(f"SELECT {', '.join(c)} FROM {t}"))]
                    for t, c in TABLES.items()}

    def restore(self, saved: dict[str, list[tuple]]) -> None:
        with self.engine.begin() as conn:
            for table, cols in TABLES.items():
                conn.execute(sa.text(f"DELETE FROM {table}"))
                if saved[table]:
                    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                         f"({', '.join(':' + c for c in cols)})"),
                                 [dict(zip(cols, row)) for row in saved[table]])

    def entries(self) -> list[list[Any]]:
        with self.engine.connect() as conn:
            return [list(r) for r in conn.execute(sa.text("SELECT seq, body, entry_hash FROM ledger_entries ORDER BY seq"))]

    def write_entries(self, rows: list[list[Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM ledger_entries"))
            if rows:
                conn.execute(sa.text("INSERT INTO ledger_entries (seq, body, entry_hash) VALUES (:s, :b, :h)"),
                             [{"s": s, "b": b, "h": h} for s, b, h in rows])

    def sql(self, statement: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(statement), params)

    def scalar(self, statement: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(statement)).scalar()


def rehash(rows: list[list[Any]], start: int = 0) -> None:
    """Recompute entry hashes from index ``start`` on, as the public algorithm says."""
    prev = rows[start - 1][2] if start else GENESIS_HASH
    for row in rows[start:]:
        row[2] = prev = entry_hash(prev, row[1])


def edit_body(body: str, rng: random.Random) -> str:
    """A plausible forgery: change who, what, which records or how many."""
    data = json.loads(body)
    field = rng.choice(["actor", "action", "record_ids", "counts", "reason", "recorded_at"])
    if field == "record_ids":
        data["record_ids"] = data["record_ids"][:-1] + ["case-9999"]
    elif field == "counts":
        data["counts"] = {**data["counts"], "records": data["counts"].get("records", 0) + 1}
    elif field == "recorded_at":
        data["recorded_at"] = "2020-01-01T00:00:00.000000Z"
    else:
        data[field] = f"forged-{rng.randrange(1000)}"
    return canonical(data)


def renumber(rows: list[list[Any]]) -> None:
    for index, row in enumerate(rows, start=1):
        data = json.loads(row[1])
        data["seq"] = index
        row[0], row[1] = index, canonical(data)


def other_key_pem() -> tuple[Ed25519PrivateKey, str, str]:
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, pem, hashlib.sha256(raw).hexdigest()[:16]


def forge_head(key: Ed25519PrivateKey, key_id: str, rows: list[list[Any]], size: int, prev: str,
               keys: list[str]) -> dict[str, Any]:
    """A tree head signed by the attacker's own key over the (forged) entries."""
    leaves = [bytes.fromhex(r[2]) for r in rows[:size]]
    root, head, signed_at = root_of(leaves).hex(), rows[size - 1][2], "2030-01-01T00:00:00.000000Z"
    signature = key.sign(tree_head_payload(size, root, head, prev, keys, signed_at, key_id)).hex()
    return {"size": size, "root": root, "head": head, "prev": prev, "keys": keys, "signed_at": signed_at,
            "key_id": key_id, "signature": signature}


def _insert_head(db: Database, head: dict[str, Any]) -> None:
    db.sql("INSERT INTO ledger_checkpoints (size, root, head, prev, keys, signed_at, key_id, signature, frontier) "
           "VALUES (:size, :root, :head, :prev, :keys, :signed_at, :key_id, :signature, '[]')",
           **{**head, "keys": json.dumps(head["keys"], separators=(",", ":"))})


# -- the database mutations -----------------------------------------------------------
# Each takes (db, rng) and returns its category; "then" says what the attacker asks the
# ledger to do afterwards (None, "checkpoint" or "export").

def m_edit(db: Database, rng: random.Random) -> str:
    rows = db.entries()
    k = rng.randrange(len(rows))
    rows[k][1] = edit_body(rows[k][1], rng)
    mode = rng.choice(["none", "one", "forward"])
    if mode == "one":
        rows[k][2] = entry_hash(rows[k - 1][2] if k else GENESIS_HASH, rows[k][1])
    elif mode == "forward":
        rehash(rows, k)
    db.write_entries(rows)
    return f"edit_{mode}"


def m_delete(db: Database, rng: random.Random) -> str:
    rows = db.entries()
    del rows[rng.randrange(len(rows) - 1)]
    if rng.random() < 0.5:
        renumber(rows)
        rehash(rows)
        db.write_entries(rows)
        return "delete_renumber_rehash"
    db.write_entries(rows)
    return "delete"


def m_insert(db: Database, rng: random.Random) -> str:
    rows = db.entries()
    k = rng.randrange(len(rows))
    rows.insert(k, [0, edit_body(rows[k][1], rng), ""])
    renumber(rows)
    rehash(rows)
    db.write_entries(rows)
    return "insert_rehash"


def m_swap(db: Database, rng: random.Random) -> str:
    rows = db.entries()
    i, j = sorted(rng.sample(range(len(rows)), 2))
    rows[i][1], rows[j][1] = rows[j][1], rows[i][1]
    renumber(rows)
    rehash(rows)
    db.write_entries(rows)
    return "swap_rehash"


def m_entry_hash(db: Database, rng: random.Random) -> str:
    seq = rng.randrange(1, len(db.entries()) + 1)
    db.sql("UPDATE ledger_entries SET entry_hash = :h WHERE seq = :s", h=f"{rng.getrandbits(256):064x}", s=seq)
    return "entry_hash"


def m_truncate(db: Database, rng: random.Random) -> str:
    sizes = [r[0] for r in db.snapshot()["ledger_checkpoints"]]
    keep = rng.choice(sorted(sizes)[:-1])
    db.sql("DELETE FROM ledger_entries WHERE seq > :k", k=keep)
    if rng.random() < 0.5:
        db.sql("DELETE FROM ledger_checkpoints WHERE size > :k", k=keep)
        return "truncate_with_heads"
    return "truncate"


def m_drop_newest_and_rewrite(db: Database, rng: random.Random) -> str:
    sizes = sorted(r[0] for r in db.snapshot()["ledger_checkpoints"])
    kept = sizes[-2]
    db.sql("DELETE FROM ledger_checkpoints WHERE size > :k", k=kept)
    rows = db.entries()
    k = rng.randrange(kept, len(rows))
    rows[k][1] = edit_body(rows[k][1], rng)
    rehash(rows, k)
    db.write_entries(rows)
    return "drop_newest_heads_and_rewrite_after"


def m_wipe_heads_keys_rewrite(db: Database, rng: random.Random) -> str:
    """The issue's attack 1: delete tree heads and keys, edit entries, recompute hashes forward."""
    db.sql("DELETE FROM ledger_checkpoints")
    db.sql("DELETE FROM ledger_keys")
    db.sql("DELETE FROM ledger_nodes")
    rows = db.entries()
    for k in sorted(rng.sample(range(len(rows)), 2)):
        rows[k][1] = edit_body(rows[k][1], rng)
    rehash(rows)
    db.write_entries(rows)
    return "wipe_heads_keys_rewrite"


def m_head_field(db: Database, rng: random.Random) -> str:
    heads = db.snapshot()["ledger_checkpoints"]
    size = rng.choice(heads)[0]
    column = rng.choice(["root", "head", "prev", "signed_at", "key_id", "signature", "keys"])
    value = {"root": f"{rng.getrandbits(256):064x}", "head": f"{rng.getrandbits(256):064x}",
             "prev": f"{rng.getrandbits(256):064x}", "signed_at": "2031-01-01T00:00:00.000000Z",
             "key_id": "0123456789abcdef", "signature": "00" * 64, "keys": "[]"}[column]
    db.sql(f"UPDATE ledger_checkpoints SET {column} = :v WHERE size = :s", v=value, s=size)
    return f"head_{column}"


def m_delete_head(db: Database, rng: random.Random) -> str:
    sizes = sorted(r[0] for r in db.snapshot()["ledger_checkpoints"])
    db.sql("DELETE FROM ledger_checkpoints WHERE size = :s", s=rng.choice(sizes[:-1]))
    return "delete_middle_head"


def m_keys(db: Database, rng: random.Random) -> str:
    if rng.random() < 0.5:
        db.sql("DELETE FROM ledger_keys")
        return "delete_keys"
    _, pem, _ = other_key_pem()
    db.sql("UPDATE ledger_keys SET public_key_pem = :p", p=pem)
    return "replace_key"


def m_own_key_head(db: Database, rng: random.Random) -> str:
    """Register an own key and chain an own-signed tree head onto the newest real one, over edited entries."""
    saved = db.snapshot()
    key, pem, key_id = other_key_pem()
    newest = max(saved["ledger_checkpoints"], key=lambda r: r[0])
    keys = json.loads(newest[4]) + [key_id]
    db.sql("INSERT INTO ledger_keys (key_id, position, public_key_pem, created_at) VALUES "
           "(:k, :p, :pem, '2030-01-01T00:00:00.000000Z')", k=key_id, p=len(keys), pem=pem)
    rows = db.entries()
    k = rng.randrange(len(rows))
    rows[k][1] = edit_body(rows[k][1], rng)
    rows.append([0, rows[-1][1], ""])  # one more entry, so the forged head has a size of its own
    renumber(rows)
    rehash(rows)
    db.write_entries(rows)
    prev_head = dict(zip(TABLES["ledger_checkpoints"], newest))
    prev_head["keys"] = json.loads(prev_head["keys"])
    prev_head.pop("frontier")
    _insert_head(db, forge_head(key, key_id, rows, len(rows), tree_head_hash(prev_head), keys))
    return "own_key_head"


def m_full_forgery(db: Database, rng: random.Random) -> str:
    """Everything rewritten and re-signed with the attacker's own key, from genesis."""
    rows = db.entries()
    rows[rng.randrange(len(rows))][1] = edit_body(rows[0][1], rng)
    renumber(rows)
    rehash(rows)
    db.write_entries(rows)
    key, pem, key_id = other_key_pem()
    db.sql("DELETE FROM ledger_checkpoints")
    db.sql("DELETE FROM ledger_nodes")
    db.sql("DELETE FROM ledger_keys")
    db.sql("INSERT INTO ledger_keys (key_id, position, public_key_pem, created_at) VALUES "
           "(:k, 1, :pem, '2030-01-01T00:00:00.000000Z')", k=key_id, pem=pem)
    _insert_head(db, forge_head(key, key_id, rows, len(rows), GENESIS_HASH, [key_id]))
    return "full_forgery_own_key"


DB_MUTATIONS: list[Callable[[Database, random.Random], str]] = [
    m_edit, m_delete, m_insert, m_swap, m_entry_hash, m_truncate, m_drop_newest_and_rewrite,
    m_wipe_heads_keys_rewrite, m_head_field, m_delete_head, m_keys, m_own_key_head, m_full_forgery,
]


# -- the bundle mutations ---------------------------------------------------------------

def fix_manifest(bundle: Path) -> None:
    """What a careful attacker does after editing files: update every listed sha256."""
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    manifest["files"] = {name: hashlib.sha256((bundle / name).read_bytes()).hexdigest()
                         for name in manifest["files"] if (bundle / name).is_file()}
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _entry_lines(bundle: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (bundle / "entries.jsonl").read_text("utf-8").splitlines()]


def _write_lines(bundle: Path, name: str, items: list[dict[str, Any]]) -> None:
    (bundle / name).write_bytes(b"".join(canonical(i).encode() + b"\n" for i in items))


def _rechain_lines(entries: list[dict[str, Any]]) -> None:
    prev = GENESIS_HASH
    for number, entry in enumerate(entries, start=1):
        entry["seq"] = number
        body = {k: v for k, v in entry.items() if k not in ("prev_hash", "entry_hash")}
        entry["prev_hash"] = prev
        entry["entry_hash"] = prev = entry_hash(prev, canonical(body))


def b_entries(bundle: Path, rng: random.Random) -> str:
    entries = _entry_lines(bundle)
    kind = rng.choice(["edit", "delete", "insert", "swap", "truncate"])
    k = rng.randrange(len(entries) - 1)
    if kind == "edit":
        entries[k][rng.choice(["actor", "action", "reason"])] = "forged"
    elif kind == "delete":
        del entries[k]
    elif kind == "insert":
        entries.insert(k, dict(entries[k], actor="forged"))
    elif kind == "swap":
        entries[k], entries[k + 1] = entries[k + 1], entries[k]
    else:
        entries = entries[:k + 1]
    if rng.random() < 0.7:
        _rechain_lines(entries)
    _write_lines(bundle, "entries.jsonl", entries)
    return f"bundle_entries_{kind}"


def b_heads(bundle: Path, rng: random.Random) -> str:
    heads = [json.loads(line) for line in (bundle / "checkpoints.jsonl").read_text().splitlines()]
    kind = rng.choice(["drop_newest", "drop_middle", "reorder", "empty", "edit"])
    if kind == "drop_newest":
        heads = heads[:-1]
    elif kind == "drop_middle":
        del heads[rng.randrange(len(heads) - 1)]
    elif kind == "reorder":
        heads[0], heads[1] = heads[1], heads[0]
    elif kind == "empty":
        heads = []
    else:
        heads[rng.randrange(len(heads))]["signed_at"] = "2031-01-01T00:00:00.000000Z"
    _write_lines(bundle, "checkpoints.jsonl", heads)
    return f"bundle_heads_{kind}"


def b_manifest(bundle: Path, rng: random.Random) -> str:
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    field = rng.choice(["fingerprints", "key_ids", "entries", "head_hash", "exported_at", "format", "checkpoints",
                        "tree_size", "root", "signature", "signed_by", "extra"])
    if field == "fingerprints":
        manifest[field] = {k: "f" * 64 for k in manifest[field]}
    elif field == "key_ids":
        manifest[field] = list(reversed(manifest[field])) + ["0123456789abcdef"]
    elif field in ("entries", "checkpoints", "tree_size"):
        manifest[field] += 1
    elif field in ("head_hash", "root"):
        manifest[field] = "0" * 64
    elif field == "exported_at":
        manifest[field] = "yesterday"
    elif field == "format":
        manifest[field] = "governance-ledger-bundle/1"
    elif field == "signature":
        manifest[field] = None
        manifest["signed_by"] = None
    elif field == "signed_by":
        manifest[field] = "0123456789abcdef"
    else:
        manifest["note"] = "added"
    (bundle / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return f"bundle_manifest_{field}"


def b_files(bundle: Path, rng: random.Random) -> str:
    kind = rng.choice(["verify_md", "verify_md_fingerprint", "add_file", "replace_key", "bad_utf8_heads",
                       "bad_utf8_entries", "delete_key"])
    if kind == "verify_md":
        (bundle / "VERIFY.md").write_text((bundle / "VERIFY.md").read_text() + "\nAll fine, no need to check.\n")
    elif kind == "verify_md_fingerprint":
        text = original = (bundle / "VERIFY.md").read_text()
        for fingerprint in json.loads((bundle / "MANIFEST.json").read_text())["fingerprints"].values():
            text = text.replace(fingerprint, "a" * 64)  # the one auditors are told to compare
        assert text != original
        (bundle / "VERIFY.md").write_text(text)
    elif kind == "add_file":
        (bundle / "public-keys" / "notes.txt").write_text("x")
        manifest = json.loads((bundle / "MANIFEST.json").read_text())
        manifest["files"]["public-keys/notes.txt"] = ""
        (bundle / "MANIFEST.json").write_text(json.dumps(manifest))
    elif kind == "replace_key":
        pem = next((bundle / "public-keys").glob("*.pem"))
        pem.write_text(other_key_pem()[1])
    elif kind == "bad_utf8_heads":
        (bundle / "checkpoints.jsonl").write_bytes((bundle / "checkpoints.jsonl").read_bytes()[:20] + b"\xff\xfe\n")
    elif kind == "bad_utf8_entries":
        (bundle / "entries.jsonl").write_bytes(b"\xc3\x28" + (bundle / "entries.jsonl").read_bytes())
    else:
        next((bundle / "public-keys").glob("*.pem")).unlink()
    return f"bundle_{kind}"


BUNDLE_MUTATIONS = [b_entries, b_heads, b_manifest, b_files]
