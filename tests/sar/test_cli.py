"""``governance sar``: the records manager's whole path on the command line, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

from governance.stores.seeding import seed_store

SUBJECT = "P000000000"


def test_lodge_review_exempt_confirm_approve_bundle_open(sqlite_settings, cli, capsys, tmp_path) -> None:
    settings = sqlite_settings
    seed_store(settings, families=12, seed=7)
    run = lambda *argv: cli(settings, ["sar", *argv], capsys)  # noqa: E731

    code, out, _ = run("lodge", "--subject", SUBJECT, "--received", "2026-06-01", "--json")
    assert code == 0
    rid = json.loads(out)["request_id"]
    code, out, _ = run("show", "--request", rid, "--json")
    assert json.loads(out)["calculation"]["deadline"] == "2026-07-01"

    code, out, _ = run("review", "--request", rid)
    assert code == 0 and "| SCH2-P16 |" in out and "Pack hash" in out
    code, out, _ = run("review", "--request", rid, "--json")
    pack = json.loads(out)
    assert pack["needs_decision"]  # notes flagged as third-party information: held for a decision
    note = f"{'C00000000'}-N000"
    code, out, _ = run("exempt", "--request", rid, "--entity", "casenote", "--record", note, "--code", "SCH3-PT5",
                       "--reason", "child abuse data", "--by", "alice", "--json")
    exemption = json.loads(out)["exemption_id"]
    code, _, err = run("approve", "--request", rid, "--approved-by", "carol")
    assert code == 2 and "--pack-hash" in err  # an approval names the pack it approves
    code, out, _ = run("review", "--request", rid, "--json")
    code, _, err = run("approve", "--request", rid, "--approved-by", "carol", "--pack-hash",
                       json.loads(out)["pack_hash"], "--withhold-undecided")
    assert code == 2 and err.strip().startswith("governance: error:") and "second reviewer" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run("confirm", "--exemption", str(exemption), "--by", "alice")
    assert code == 2 and "other than" in err
    assert run("confirm", "--exemption", str(exemption), "--by", "bob")[0] == 0
    code, out, _ = run("approve", "--request", rid, "--approved-by", "carol", "--pack-hash", pack["pack_hash"])
    assert code == 2  # the pack changed since it was reviewed
    code, out, _ = run("review", "--request", rid, "--json")
    code, out, _ = run("approve", "--request", rid, "--approved-by", "carol", "--pack-hash",
                       json.loads(out)["pack_hash"], "--withhold-undecided", "--json")
    assert code == 0 and json.loads(out)["status"] == "approved"

    code, out, _ = run("bundle", "--request", rid, "--as-of", "2026-06-20", "--json")
    assert code == 0
    result = json.loads(out)
    key_hex = Path(result["key_file"]).read_text().splitlines()[-1]
    assert key_hex not in out, "the key must never be printed"
    code, out, _ = run("open", "--package", str(settings.home / "objects" / result["package_key"]),
                       "--key-file", result["key_file"], "--out", str(tmp_path / "opened"), "--json")
    opened = json.loads(out)
    assert code == 0 and opened["verified"] and "bundle.pdf" in opened["files"]
    assert (tmp_path / "opened" / "bundle.pdf").read_bytes().startswith(b"%PDF")

    code, out, _ = run("list", "--json")
    assert [r["status"] for r in json.loads(out)["requests"]] == ["delivered"]
    code, out, _ = run("due", "--as-of", "2026-06-29", "--json")
    assert json.loads(out)["pending"] == 0


def test_pauses_extension_close_and_errors(sqlite_settings, cli, capsys) -> None:
    settings = sqlite_settings
    seed_store(settings, families=4, seed=1)
    run = lambda *argv: cli(settings, ["sar", *argv], capsys)  # noqa: E731
    code, out, _ = run("lodge", "--subject", SUBJECT, "--received", "2026-03-10", "--identity-requested", "--json")
    rid = json.loads(out)["request_id"]
    assert json.loads(out)["deadline"] is None
    code, out, _ = run("resume", "--request", rid, "--reason", "identity", "--on", "2026-03-20", "--json")
    assert json.loads(out)["deadline"] == "2026-04-20"
    code, out, _ = run("extend", "--request", rid, "--notified-on", "2026-04-15", "--reason", "complex", "--json")
    assert json.loads(out)["deadline"] == "2026-06-22"
    code, out, _ = run("close", "--request", rid, "--status", "withdrawn", "--json")
    assert code == 0 and json.loads(out)["status"] == "withdrawn"

    for argv, fragment in (
        (["show", "--request", "sar-nope"], "no access request 'sar-nope'"),
        (["lodge", "--subject", "P999", "--received", "2026-06-01"], "has no person 'P999'"),
        (["lodge", "--subject", SUBJECT, "--received", "2026-06-01", "--requester-kind", "parent_carer"],
         "needs parent_basis"),
        (["pause", "--request", rid, "--reason", "identity", "--on", "2026-06-01"], "no further changes"),
    ):
        code, _, err = run(*argv)
        lines = [line for line in err.strip().splitlines() if line.startswith("governance")]
        assert code == 2 and len(lines) == 1 and fragment in lines[0], err
        assert "Traceback" not in err
    code, _, err = run("deadline", "--received", "2026-02-30")
    assert code == 2 and "not a date in YYYY-MM-DD form" in err


def test_the_reviewer_reads_redacts_lifts_and_decides_on_the_command_line(sqlite_settings, cli, capsys, tmp_path) -> None:
    from tests.sar.test_withheld_everywhere import SUBJECT as HAND_SUBJECT
    from tests.sar.test_withheld_everywhere import _seed

    settings = sqlite_settings
    _seed(settings)  # the hand-written children-in-need file
    run = lambda *argv: cli(settings, ["sar", *argv], capsys)  # noqa: E731
    rid = json.loads(run("lodge", "--subject", HAND_SUBJECT, "--received", "2026-06-01", "--json")[1])["request_id"]
    assert run("review", "--request", rid)[0] == 0

    code, out, _ = run("preview", "--request", rid, "--html", str(tmp_path / "preview.html"))
    assert code == 0 and "[needs_decision]" in out and "SCH2-P16 known_person_name: Leanne Whitmore]]" in out
    assert (tmp_path / "preview.html").stat().st_mode & 0o077 == 0 and "<mark" in (tmp_path / "preview.html").read_text()

    code, out, _ = run("redact", "--request", rid, "--record", "CN-101", "--quote", "GCSE options", "--code",
                       "SCH2-P16", "--reason", "identifies the year group", "--by", "alice", "--json")
    assert code == 0 and json.loads(out)["label"].startswith("M")
    code, _, err = run("redact", "--request", rid, "--record", "CN-101", "--quote", "Jade", "--code", "SCH2-P16",
                       "--reason", "x", "--by", "alice")
    assert code == 2 and "occurs 2 times" in err and len(err.strip().splitlines()) == 1
    label = next(p["label"] for r in json.loads(run("preview", "--request", rid, "--json")[1])["records"]
                 if r["record_id"] == "CN-101" for p in r["fields"]["body"] if p.get("rule") == "known_person_name")
    code, out, _ = run("lift", "--request", rid, "--label", label, "--reason", "she asked for her own mum's name",
                       "--by", "alice")
    assert code == 0 and "new pack hash" in out
    code, _, err = run("lift", "--request", rid, "--label", "R-00000000", "--reason", "x", "--by", "alice")
    assert code == 2 and "no redaction labelled" in err
    code, out, _ = run("decide", "--request", rid, "--record", "CN-102", "--withhold", "--reason",
                       "the informant is identifiable from the account", "--by", "alice", "--json")
    assert code == 0 and json.loads(out)["decision"] == "withhold"
    code, out, _ = run("exempt", "--request", rid, "--entity", "access_log", "--record", "HA-QUOLLCANARY",
                       "--code", "SCH3-P11", "--reason", "serious harm", "--by", "alice", "--json")
    code, out, _ = run("awaiting", "--json")
    assert [a["record_id"] for a in json.loads(out)["awaiting"]] == ["HA-QUOLLCANARY"]

    pack = json.loads(run("review", "--request", rid, "--json")[1])
    assert not pack["needs_decision"] and "awaiting a second reviewer" in " ".join(pack["blocking"])
    code, _, err = run("approve", "--request", rid, "--approved-by", "carol", "--pack-hash", pack["pack_hash"])
    assert code == 2 and "second reviewer" in err


def test_bundle_run_again_after_delivery_changes_nothing_and_says_so(sqlite_settings, cli, capsys) -> None:
    """Found outside-in: a rerun (a retried task, a records manager unsure it worked) said the request had
    'no approval of its current review pack' and exited 2, though it had been delivered."""
    settings = sqlite_settings
    seed_store(settings, families=4, seed=1)
    run = lambda *argv: cli(settings, ["sar", *argv], capsys)  # noqa: E731
    rid = json.loads(run("lodge", "--subject", SUBJECT, "--received", "2026-06-01", "--json")[1])["request_id"]
    pack_hash = json.loads(run("review", "--request", rid, "--json")[1])["pack_hash"]
    assert run("approve", "--request", rid, "--approved-by", "carol", "--pack-hash", pack_hash,
               "--withhold-undecided")[0] == 0
    code, out, _ = run("bundle", "--request", rid, "--as-of", "2026-06-20", "--json")
    assert code == 0
    package = settings.home / "objects" / json.loads(out)["package_key"]
    sealed = package.read_bytes()

    code, out, err = run("bundle", "--request", rid, "--as-of", "2026-06-21")

    assert code == 0 and f"{rid}: already delivered" in out and "nothing rebuilt" in out, err
    assert package.read_bytes() == sealed
    code, out, _ = run("show", "--request", rid, "--json")
    assert json.loads(out)["status"] == "delivered"


def test_approve_run_again_says_it_was_already_approved(sqlite_settings, cli, capsys) -> None:
    """Found outside-in: the same `sar approve ... --withhold-undecided` run twice said 'the review pack changed
    since it was reviewed' (the first run's recorded decisions change the hash) and exited 2."""
    settings = sqlite_settings
    seed_store(settings, families=4, seed=1)
    run = lambda *argv: cli(settings, ["sar", *argv], capsys)  # noqa: E731
    rid = json.loads(run("lodge", "--subject", SUBJECT, "--received", "2026-06-01", "--json")[1])["request_id"]
    pack_hash = json.loads(run("review", "--request", rid, "--json")[1])["pack_hash"]
    approve = ("approve", "--request", rid, "--approved-by", "carol", "--pack-hash", pack_hash, "--withhold-undecided")
    assert run(*approve)[0] == 0

    code, out, err = run(*approve)

    assert code == 0 and "already approved: nothing recorded" in out, err
    code, out, _ = run("show", "--request", rid, "--json")
    assert json.loads(out)["status"] == "approved"
    assert run("bundle", "--request", rid, "--as-of", "2026-06-20")[0] == 0
