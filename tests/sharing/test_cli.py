"""``governance sharing``: registered on a parser of its own (the CLI's __init__ is not ours to edit).

Errors are one line and exit 2, as ``governance.cli.main`` prints them.
"""

from __future__ import annotations

import argparse
import json

import pytest

from governance.cli import sharing
from governance.errors import GovernanceError
from tests.sharing.scenario import build


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="governance")
    sharing.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _run(argv, capsys):
    """What governance.cli.main does, with this parser."""
    try:
        args = _parser().parse_args(argv)
        code = int(args.handler(args) or 0)
    except GovernanceError as error:
        print(f"governance: error: {error}", file=__import__("sys").stderr)
        code = error.exit_code
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path, monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("GOVERNANCE_")]:
        monkeypatch.delenv(key)
    home = tmp_path / "var"
    monkeypatch.setenv("GOVERNANCE_HOME", str(home))
    build(f"sqlite:///{home / 'stores' / 'default.db'}")
    return home


def test_check_answers_as_json_and_in_words(home, capsys):
    code, out, _ = _run(["sharing", "check", "--family", "F1", "--agency", "police", "--on", "2024-03-01", "--json"], capsys)
    assert code == 0
    answer = json.loads(out)
    assert (answer["decision"], answer["basis"], answer["reasons"]) == ("refused", None, ["agency_opted_out"])
    assert answer["consent"]["consent_id"] == "K1" and answer["consent"]["opted_out"] == ["police"]
    assert answer["lawful_overrides"] == ["significant_harm", "crime", "court_order", "not_reasonably_practicable"]
    code, out, _ = _run(["sharing", "check", "--family", "F2", "--agency", "police", "--on", "2024-03-01"], capsys)
    assert code == 0 and out.startswith("allowed (basis: legal_duty)")


def test_errors_are_one_line_exit_2(home, capsys):
    code, out, err = _run(["sharing", "check", "--family", "F9", "--agency", "police", "--on", "2024-03-01"], capsys)
    assert (code, out, err.strip()) == (2, "", "governance: error: store default: no family F9")
    code, _, err = _run(["sharing", "check", "--family", "F1", "--agency", "space", "--on", "2024-03-01"], capsys)
    assert code == 2 and "invalid choice" in err
    code, _, err = _run(["sharing", "check", "--family", "F1", "--agency", "police", "--on", "1 March"], capsys)
    assert code == 2 and "is not a date" in err
    code, _, err = _run(["sharing", "check", "--family", "F1", "--agency", "police", "--on", "2024-03-01",
                         "--store", "nope"], capsys)
    assert code == 2 and err.count("\n") == 1 and "no case store named 'nope'" in err


def test_consent_history(home, capsys):
    code, out, _ = _run(["sharing", "consent", "--family", "F1", "--on", "2025-06-01", "--json"], capsys)
    assert code == 0
    forms = json.loads(out)["forms"]
    assert [(f["consent_id"], f["withdrawn_on"]) for f in forms] == [("K1", "2024-06-01"), ("K2", None)]


def test_run_findings_resolve_and_recipients(home, capsys):
    code, out, err = _run(["sharing", "run", "--as-of", "2026-01-01", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    [store] = result["stores"]
    assert store["by_rule"]["share_after_withdrawal"] == 3 and store["ledger_seq"] >= 1
    assert "SHARING COMPLIANCE" not in out  # the alert goes to the log, not stdout

    code, out, _ = _run(["sharing", "findings", "--status", "open", "--rule", "share_to_opted_out_agency", "--json"], capsys)
    assert [f["finding_key"] for f in json.loads(out)["findings"]] == ["share_to_opted_out_agency:S6"]

    code, out, _ = _run(["sharing", "resolve", "share_to_opted_out_agency:S6", "--note", "consent re-confirmed",
                         "--by", "ig.officer", "--json"], capsys)
    assert code == 0 and json.loads(out)["status"] == "resolved"
    code, out, _ = _run(["sharing", "findings", "--status", "resolved", "--json"], capsys)
    assert "consent re-confirmed" not in out
    assert [f["finding_key"] for f in json.loads(out)["findings"]] == ["share_to_opted_out_agency:S6"]

    code, _, err = _run(["sharing", "resolve", "nope:1", "--note", "n", "--by", "ig"], capsys)
    assert code == 2 and "no sharing finding nope:1" in err

    code, out, _ = _run(["sharing", "recipients", "--person", "P4", "--json"], capsys)
    assert [r["sharing_id"] for r in json.loads(out)["recipients"]] == ["S4"]


@pytest.mark.parametrize("command", ["check", "consent", "run", "findings", "resolve", "recipients"])
def test_every_subcommand_has_help(command, capsys):
    code, out, _ = _run(["sharing", command, "--help"], capsys)
    assert code == 0 and "usage:" in out
