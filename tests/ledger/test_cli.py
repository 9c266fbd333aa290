"""``governance audit`` sub-commands, through a parser built from audit.register alone."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.cli import audit
from governance.ledger import Ledger
from governance.errors import GovernanceError
from governance.ledger.signing import LedgerSigner


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Parse and dispatch like governance.cli.main, without the other modules."""
    parser = argparse.ArgumentParser(prog="governance")
    audit.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args) or 0)
    except GovernanceError as error:
        print(f"governance: error: {error}", file=sys.stderr)
        code = error.exit_code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> Path:
    monkeypatch.setenv("GOVERNANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", db_url)
    monkeypatch.delenv("GOVERNANCE_KEYS_DIR", raising=False)
    Ledger.open(db_url, None).close()  # a named ledger database exists before jobs use it (keys init makes it)
    return tmp_path / "home"


def test_a_named_ledger_that_does_not_exist_is_not_created(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    typo = tmp_path / "ledgr.db"
    monkeypatch.setenv("GOVERNANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", f"sqlite:///{typo}")
    code, _, err = run(["audit", "record", "--action", "note", "--actor", "dpo"], capsys)
    assert code == 2 and "does not exist: jobs never create one" in err and not typo.exists()


def test_record_log_verify_export_roundtrip(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["audit", "record", "--action", "note", "--actor", "dpo", "--reason", "manual check",
                        "--record-id", "case-1", "--record-id", "case-2"], capsys)
    assert code == 0 and out.startswith("recorded entry 1 (note), hash ")
    code, out, _ = run(["audit", "record", "--action", "note", "--actor", "dpo", "--json"], capsys)
    assert code == 0 and json.loads(out)["seq"] == 2
    code, out, _ = run(["audit", "log", "--tail", "1"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 1 and "note by dpo" in out
    code, out, _ = run(["audit", "log", "--json"], capsys)
    assert [e["record_ids"] for e in json.loads(out)["entries"]] == [["case-1", "case-2"], []]

    keys = LedgerSigner(env / "keys")
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 0
    head = json.loads(run(["audit", "log", "--tail", "1", "--json"], capsys)[1])["entries"][0]["entry_hash"]
    assert out.splitlines()[0] == f"ledger OK: 2 entries, 2 checkpoints, head {head}"
    assert keys.fingerprint() in out
    code, out, _ = run(["audit", "verify", "--json", "--expect-key-id", keys.fingerprint()], capsys)
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["entries"] == 2 and report["head_key_id"] == keys.key_id()

    bundle = tmp_path / "bundle"
    code, out, _ = run(["audit", "export", str(bundle), "--json"], capsys)
    assert code == 0 and json.loads(out)["entries"] == 2
    code, out, _ = run(["audit", "verify", "--bundle", str(bundle), "--expect-key-id", keys.key_id()], capsys)
    assert code == 0 and out.startswith("ledger OK: 2 entries")
    code, out, _ = run(["audit", "verify", "--bundle", str(bundle), "--expect-key-id", "f" * 16], capsys)
    assert code == 1 and out.startswith("ledger TAMPERED: newest tree head")


def test_verify_reports_tampering_with_exit_1(env: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(3):
        assert run(["audit", "record", "--action", "note", "--actor", f"user-{n}"], capsys)[0] == 0
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        # The actor column is generated from the hashed body: the database itself refuses to edit it.
        with pytest.raises(sa.exc.DatabaseError):
            with conn.begin_nested():
                conn.execute(sa.text("UPDATE ledger_entries SET actor = 'someone' WHERE seq = 2"))
        conn.execute(sa.text("UPDATE ledger_entries SET body = replace(body, 'user-1', 'someone') WHERE seq = 2"))
    engine.dispose()
    code, out, _ = run(["audit", "verify"], capsys)
    assert code == 1
    assert out.strip() == ("ledger TAMPERED at entry 2: entry 2 does not match its hash "
                           "(entry altered, or entries before it removed)")
    code, out, _ = run(["audit", "verify", "--json"], capsys)
    assert code == 1 and json.loads(out)["first_bad_seq"] == 2


def test_expected_errors_exit_2_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GOVERNANCE_HOME", str(tmp_path / "home"))
    code, _, err = run(["audit", "verify"], capsys)
    assert code == 2 and err.startswith("governance: error: no ledger database at")
    code, _, err = run(["audit", "verify", "--bundle", str(tmp_path / "absent")], capsys)
    assert code == 2 and "bundle folder" in err and "does not exist" in err
    code, _, err = run(["audit", "record", "--action", "note", "--actor", "dpo", "--record-id", "Jane Smith"], capsys)
    assert code == 2 and "does not look like an identifier" in err and "Jane" not in err
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", "postgresql+psycopg://u:pw@127.0.0.1:1/x?connect_timeout=2")
    code, _, err = run(["audit", "log"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pw" not in err


def test_export_never_creates_a_signing_key(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "record", "--action", "note", "--actor", "dpo"], capsys)[0] == 0
    auditor_keys = tmp_path / "auditor-keys"
    monkeypatch.setenv("GOVERNANCE_KEYS_DIR", str(auditor_keys))
    code, out, _ = run(["audit", "export", str(tmp_path / "b")], capsys)
    assert code == 0 and out.startswith("exported 1 entries and 1 checkpoints")
    assert not auditor_keys.exists()
    code, _, _ = run(["audit", "verify", "--bundle", str(tmp_path / "b")], capsys)
    assert code == 0


def test_log_of_an_empty_ledger(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["audit", "record", "--action", "note", "--actor", "dpo"], capsys)[0] == 0
    code, out, _ = run(["audit", "log", "--tail", "5"], capsys)
    assert code == 0 and out.count("note by dpo") == 1
    with pytest.raises(SystemExit):
        run(["audit", "log", "--tail", "0"], capsys)


def test_full_cli_entry_point_when_available(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("governance.cli.seed", reason="governance.cli.seed not written yet")
    pytest.importorskip("governance.cli.store", reason="governance.cli.store not written yet")
    from governance.cli import main

    assert main(["audit", "record", "--action", "note", "--actor", "dpo"]) == 0
    assert main(["audit", "verify"]) == 0
    assert "ledger OK: 1 entries" in capsys.readouterr().out


def test_progress_only_for_long_runs(capsys: pytest.CaptureFixture[str]) -> None:
    update = audit._progress("verifying ledger", 200_000)
    update(10)
    assert capsys.readouterr().err == ""
    update(65_536)
    assert capsys.readouterr().err.startswith("verifying ledger: 65536/200000")


def test_keys_head_since_prove_and_verify_receipt(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  db_url: str) -> None:
    from governance.cli import keys as keys_cli

    def run_all(argv: list[str]) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="governance")
        commands = parser.add_subparsers(dest="command", required=True)
        audit.register(commands)
        keys_cli.register(commands)
        args = parser.parse_args(argv)
        try:
            code = int(args.handler(args) or 0)
        except GovernanceError as error:
            print(f"governance: error: {error}", file=sys.stderr)
            code = error.exit_code
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run_all(["keys", "init"])
    assert code == 0 and out.startswith("created ledger signing key")
    assert run_all(["keys", "init"])[1].startswith("found ledger signing key")
    for case in ("EH-2019-0412", "CIN-2024-1187"):
        assert run_all(["audit", "record", "--action", "retention.destroyed", "--actor", "retention-job",
                        "--record-id", case])[0] == 0
    code, out, _ = run_all(["audit", "head"])
    saved = tmp_path / "HEAD.json"
    saved.write_text(out)
    assert code == 0 and json.loads(out)["size"] == 2
    assert run_all(["audit", "record", "--action", "note", "--actor", "dpo"])[0] == 0
    code, out, _ = run_all(["audit", "verify", "--since", str(saved)])
    assert code == 0 and "extends your saved tree head of size 2" in out
    receipt = tmp_path / "receipt.json"
    code, _, err = run_all(["audit", "prove", "--case", "EH-2019-0412", "--out", str(receipt)])
    assert code == 0 and "receipt for entries 1 (tree size 3)" in err
    fingerprint = json.loads(run_all(["keys", "show", "--json"])[1])["fingerprint"]
    code, out, _ = run_all(["audit", "verify-receipt", str(receipt), "--expect-key-id", fingerprint])
    assert code == 0 and out.startswith("receipt OK: entries 1 ")
    forged = json.loads(receipt.read_text())
    forged["entries"][0]["body"] = forged["entries"][0]["body"].replace("EH-2019-0412", "EH-2019-0413")
    receipt.write_text(json.dumps(forged))
    code, out, _ = run_all(["audit", "verify-receipt", str(receipt)])
    assert code == 1 and out.startswith("receipt INVALID: receipt entry 1 is not included")
    receipt.write_bytes(b"\xff\xfe")
    code, _, err = run_all(["audit", "verify-receipt", str(receipt)])
    assert code == 2 and "not readable JSON" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_all(["audit", "prove", "--case", "NOPE-1"])
    assert code == 2 and "no destruction or anonymisation entry names case 'NOPE-1'" in err
    code, out, _ = run_all(["keys", "rotate", "--actor", "dpo", "--reason", "annual"])
    assert code == 0 and out.startswith("rotated ledger signing key")
    new = json.loads(run_all(["keys", "show", "--json"])[1])["fingerprint"]
    code, out, _ = run_all(["audit", "verify", "--expect-key-id", new, "--since", str(saved)])
    assert code == 0, out
    code, out, _ = run_all(["audit", "verify", "--expect-key-id", fingerprint])
    assert code == 1 and "not the expected key" in out
