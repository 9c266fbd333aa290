"""Issue 15 #1 and #6: a bundle built on one worker, delivered on another, handed over from a third machine.

Three "hosts" with their own GOVERNANCE_HOME share what a deployment shares:
PostgreSQL (store, ledger, state), objects on S3 (moto's HTTP server), the
master key (``GOVERNANCE_KEY_PROVIDER=env``) and the secret folder with the
ledger's signing key (``GOVERNANCE_KEYS_DIR``, docs/deploy.md): the hand-over
is a ledger entry too. Nothing about the hand-over may be
left on a worker's disk, and a key that is not the one that sealed the bundle
must fail the delivery, never turn it green.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from governance.cli import main
from governance.config import Settings
from governance.errors import KeyMaterialError
from governance.jobs import sar as jobs
from governance.jobs.handover import hand_over
from governance.keyprovider import open_keys
from governance.keyprovider import tables as kt
from governance.sar import tables
from governance.sar.naming import bundle_key_name
from governance.state import state_engine
from governance.stores.seeding import seed_store

SUBJECT = "P000000000"
MASTER = os.urandom(32).hex()


@pytest.fixture
def hosts(tmp_path: Path, postgres_url: str, moto_server: str, monkeypatch: pytest.MonkeyPatch):
    bucket = f"gov-handover-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    monkeypatch.setenv("GOVERNANCE_MASTER_KEY", MASTER)

    def env(name: str) -> dict[str, str]:
        return {"GOVERNANCE_HOME": str(tmp_path / name), "GOVERNANCE_KEYS_DIR": str(tmp_path / "secrets"),
                "GOVERNANCE_KEY_PROVIDER": "env",
                "GOVERNANCE_STORE_DEFAULT_URL": postgres_url, "GOVERNANCE_LEDGER_URL": postgres_url,
                "GOVERNANCE_OBJECTS_URL": f"s3://{bucket}/governance", "GOVERNANCE_S3_ENDPOINT_URL": moto_server}

    settings = {name: Settings.from_env(env(name)) for name in ("worker-a", "worker-b", "admin")}
    seed_store(settings["worker-a"], families=6, seed=11)
    from governance.keyprovider import init_keys
    init_keys(settings["admin"])
    return settings, env, bucket


def _approved(settings: Settings) -> str:
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                             actor="test")["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)
    pack = jobs.prepare_review(settings, rid)
    jobs.record_review(settings, rid, decision="approved", reviewer="reviewer.one", seen_hash=pack["pack_hash"],
                       channel="cli", actor="cli:reviewer.one", withhold_undecided=True)
    return rid


def test_built_on_one_worker_delivered_on_another_opened_on_a_third(hosts, tmp_path, monkeypatch, capsys) -> None:
    settings, env, bucket = hosts
    rid = _approved(settings["worker-a"])
    for key, value in env("admin").items():
        monkeypatch.setenv(key, value)
    assert main(["sar", "handover", "--request", rid]) == 2  # not delivered yet: one line, exit 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has not been delivered" in err

    built = jobs.build_bundle(settings["worker-b"], rid, as_of=date(2026, 6, 20))
    delivered = jobs.deliver_bundle(settings["worker-a"], rid, as_of=date(2026, 6, 20), actor="test")
    assert "key_file" not in delivered and delivered["handover_uri"].startswith(f"s3://{bucket}/")
    for name in ("worker-a", "worker-b"):  # nothing about the hand-over on a worker's disk
        assert not (tmp_path / name / "sar").exists()
    # No data key in a file: only the ledger's signing key is in the secret folder.
    assert {p.name for p in (tmp_path / "secrets").glob("*.key")} == set()

    # Records management, on another machine, writes the two files and opens the package by its s3:// URI.
    out = tmp_path / "desk" / rid
    assert main(["sar", "handover", "--request", rid, "--out", str(out), "--json"]) == 0
    handed = json.loads(capsys.readouterr().out)
    assert handed["key_id"] == built["key_id"] and handed["link_renewed"] is False
    assert oct(Path(handed["key_file"]).stat().st_mode & 0o777) == "0o600"
    code = main(["sar", "open", "--package", delivered["package_uri"], "--key-file", handed["key_file"],
                 "--expect-key-id", built["key_id"], "--out", str(tmp_path / "opened"), "--json"])
    opened = json.loads(capsys.readouterr().out)
    assert code == 0 and opened["verified"] and "bundle.pdf" in opened["files"]

    # The presigned link in the link file opens the same package, and carries an expiry.
    link = Path(handed["link_file"]).read_text().splitlines()[-1]
    assert "X-Amz-Expires" in link and handed["url_expires_at"]
    assert main(["sar", "open", "--package", link, "--key-file", handed["key_file"],
                 "--out", str(tmp_path / "opened-by-link"), "--json"]) == 0
    capsys.readouterr()

    # Another key id is refused before anything is decrypted.
    assert main(["sar", "open", "--package", delivered["package_uri"], "--key-file", handed["key_file"],
                 "--expect-key-id", "0" * 16, "--out", str(tmp_path / "x")]) == 2
    assert "not 0000000000000000" in capsys.readouterr().err

    # Asked again near the link's expiry, the hand-over renews the link (and records the new expiry).
    expires = datetime.fromisoformat(handed["url_expires_at"])
    renewed = hand_over(settings["admin"], rid, at=expires - timedelta(hours=2), actor="test",
                        out=tmp_path / "again")
    assert renewed["link_renewed"] and datetime.fromisoformat(renewed["url_expires_at"]) > expires
    assert renewed["ledger_seq"] > handed["ledger_seq"]  # a new link is a new hand-over, recorded as such
    with state_engine(settings["admin"]).connect() as conn:
        stored = conn.execute(sa.select(tables.disclosures.c.url_expires_at)).scalar_one()
    assert stored == datetime.fromisoformat(renewed["url_expires_at"])


def test_a_key_that_did_not_seal_the_bundle_fails_the_delivery(hosts) -> None:
    """What went green before: a worker's own key handed over for another worker's bundle."""
    settings, _env, _bucket = hosts
    rid = _approved(settings["worker-a"])
    jobs.build_bundle(settings["worker-a"], rid, as_of=date(2026, 6, 20))
    keys = open_keys(settings["worker-b"])
    with keys.engine.begin() as conn:  # the stored key replaced by another one
        conn.execute(kt.data_keys.delete().where(kt.data_keys.c.name == bundle_key_name(rid)))
    keys._insert(bundle_key_name(rid), os.urandom(32))
    with pytest.raises(KeyMaterialError, match="is not the key that sealed the bundle"):
        jobs.deliver_bundle(settings["worker-b"], rid, as_of=date(2026, 6, 20), actor="test")
    with state_engine(settings["admin"]).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.disclosures)).scalar_one() == 0
        status = conn.execute(sa.select(tables.requests.c.status)).scalar_one()
    assert status == "approved"  # not delivered, hold kept
