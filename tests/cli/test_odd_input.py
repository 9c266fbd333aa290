"""Odd ids and dates an operator types: one line naming what was typed (quoted, so a stray space shows), exit 2.

Found by an outside-in pass on a seeded store: an empty ``--subject`` surfaced as
"unexpected KeyError"; ids with a trailing space were echoed unquoted (the space
invisible); ``sar handover`` called an unknown request "not delivered"; ``audit
prove --entry`` past the ledger's end asked for a checkpoint that could never
cover it; ``--entry abc`` named argparse's private helper; and ``--as-of``
accepted ``20261206`` and week dates the help does not promise.
"""

from __future__ import annotations

import os

import pytest

from governance.cli import main

SUBJECT = "P000000000"  # the generator's first person


@pytest.fixture
def seeded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GOVERNANCE_HOME", str(tmp_path / "home"))
    assert main(["seed", "--families", "2", "--seed", "3"]) == 0
    return tmp_path


def _error(argv, capsys) -> str:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line.startswith("governance")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "unexpected" not in lines[0], err
    return lines[0]


def test_access_request_ids_are_quoted_and_an_empty_subject_is_named(seeded, capsys):
    assert "a request needs its subject's person id" in _error(
        ["sar", "lodge", "--subject", "", "--received", "2026-06-01"], capsys)
    assert f"has no person '{SUBJECT} '" in _error(
        ["sar", "lodge", "--subject", f"{SUBJECT} ", "--received", "2026-06-01"], capsys)
    assert "no access request ''" in _error(["sar", "show", "--request", ""], capsys)
    assert "no access request 'sar-nope'" in _error(["sar", "handover", "--request", "sar-nope"], capsys)
    assert "no access request 'x" in _error(["sar", "show", "--request", "x" * 5000], capsys)
    assert len(_error(["sar", "show", "--request", "x" * 5000], capsys)) < 200


def test_audit_prove_names_an_entry_past_the_end_and_a_number_that_is_not_one(seeded, capsys):
    assert main(["audit", "record", "--action", "test.note", "--actor", "tester"]) == 0
    assert "there is no entry 99999" in _error(["audit", "prove", "--entry", "99999"], capsys)
    assert "'abc' is not a whole number" in _error(["audit", "prove", "--entry", "abc"], capsys)
    assert "names case 'C00000000 '" in _error(["audit", "prove", "--case", "C00000000 "], capsys)


@pytest.mark.parametrize("typed", ["20260630", "2026-W27-2", "2026-13-01", "06/12/2026", "2026-12-06T10:00", ""])
def test_dates_on_the_command_line_are_yyyy_mm_dd_only(seeded, capsys, typed):
    line = _error(["retention", "plan", "--as-of", typed, "--summary"], capsys)
    assert f"{typed!r} is not a date in YYYY-MM-DD form" in line


@pytest.mark.parametrize("url", ["notaurl", ""])
def test_a_malformed_ledger_url_is_named_by_every_command(seeded, capsys, monkeypatch, url):
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", url)
    assert "database URL is malformed" in _error(["audit", "verify"], capsys)  # was "unexpected ArgumentError"
    assert "database URL is malformed" in _error(["retention", "hold", "list", "--as-of", "2026-06-30"], capsys)


@pytest.mark.parametrize("argv", [["sar", "deadline", "--received", "9999-12-31"],
                                  ["sar", "due", "--as-of", "9999-12-31"],
                                  ["retention", "plan", "--as-of", "0001-01-01"]])
def test_dates_the_platform_cannot_count_from_are_named(seeded, capsys, argv):
    assert "outside the years 1900-2999" in _error(argv, capsys)  # was "unexpected ValueError / OverflowError"


def test_a_mistyped_future_year_neither_places_a_hold_nor_lodges_a_request(seeded, capsys):
    """2062 for 2026: the hold would keep nothing until 2062 while `hold add` said it was placed; the request's
    deadline would be in 2062, so `sar due` would never flag it."""
    line = _error(["retention", "hold", "add", "--kind", "litigation", "--source", "Family court", "--reason", "order",
                   "--placed-on", "2062-06-01", "--review-on", "2063-01-01", "--placed-by", "legal",
                   "--case-id", "C00000000"], capsys)
    assert "a hold placed on 2062-06-01 is placed after today" in line
    assert "received date 2062-06-21 is after today" in _error(
        ["sar", "lodge", "--subject", SUBJECT, "--received", "2062-06-21"], capsys)
    capsys.readouterr()
    assert main(["sar", "list"]) == 0 and "no requests" in capsys.readouterr().out


def test_an_unreachable_state_database_is_named(seeded, capsys, monkeypatch):
    """Store, state and ledger can each be down; the line says which (was 'a database operation failed')."""
    monkeypatch.setenv("GOVERNANCE_STATE_URL", "postgresql+psycopg://postgres:secretpw@127.0.0.1:1/x?connect_timeout=2")
    message = _error(["sar", "due", "--as-of", "2026-06-30"], capsys)
    assert "state database" in message and "unreachable" in message and "secretpw" not in message
