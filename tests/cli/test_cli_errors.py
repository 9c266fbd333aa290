"""The CLI's promise: expected errors are one clear line and a non-zero exit, never a traceback.

Each case runs ``governance.cli.main`` in-process with its own environment
(settings are read from the environment), plus one run of the installed
console script to prove the entry point behaves the same.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from governance.cli import build_parser, main


@pytest.fixture
def in_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    return tmp_path


def _run(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse errors
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.startswith("governance")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_arguments(in_home, capsys):
    code, _, err = _run(["seed", "--families", "abc"], capsys)
    _one_line_error(code, err, "invalid int value: 'abc'")
    code, _, err = _run(["seed", "--families", "0"], capsys)
    _one_line_error(code, err, "--families must be at least 1")
    code, _, err = _run(["seed", "--families", "2", "--as-of", "2026-02-30"], capsys)
    _one_line_error(code, err, "not a date in YYYY-MM-DD form")


def test_malformed_mapping(in_home, capsys, monkeypatch):
    (in_home / "council.toml").write_text('[store]\nname = "x"\n[entities.case]\ntable = "c"\n')
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_MAPPING", "council.toml")
    code, _, err = _run(["store", "check"], capsys)
    _one_line_error(code, err, "council.toml", "required entity 'family' is not mapped")


def test_unreachable_store_and_ledger(in_home, capsys, monkeypatch):
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    code, _, err = _run(["store", "counts"], capsys)
    _one_line_error(code, err, "127.0.0.1:9", "unreachable")
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", "postgresql+psycopg://nobody@127.0.0.1:9/none")
    code, _, err = _run(["audit", "verify"], capsys)
    _one_line_error(code, err, "127.0.0.1:9")


def test_unreachable_bucket_loses_nothing(in_home, capsys, monkeypatch):
    monkeypatch.setenv("GOVERNANCE_OBJECTS_URL", "s3://gov-missing/x")
    monkeypatch.setenv("GOVERNANCE_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code, _, err = _run(["seed", "--families", "3"], capsys)
    _one_line_error(code, err, "http://127.0.0.1:9", "unreachable")


def test_wrong_or_missing_key_and_missing_ledger(in_home, capsys):
    code, _, err = _run(["audit", "verify"], capsys)
    _one_line_error(code, err, "no ledger database")
    keys = in_home / "var" / "keys"
    keys.mkdir(parents=True)
    (keys / "ledger-signing.pem").write_text("not a key")
    code, _, err = _run(["audit", "record", "--action", "note", "--actor", "ig.officer"], capsys)
    _one_line_error(code, err, "ledger-signing.pem", "malformed")
    code, out, _ = _run(["audit", "log", "--json"], capsys)
    assert code == 0 and '"entries": []' in out  # the failed record appended nothing


def test_unknown_store_and_bad_url(in_home, capsys, monkeypatch):
    code, _, err = _run(["seed", "--families", "2", "--store", "nope"], capsys)
    _one_line_error(code, err, "no case store named 'nope'")
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_URL", "not a url")
    code, _, err = _run(["store", "counts"], capsys)
    _one_line_error(code, err, "malformed")


def _all_commands(parser: argparse.ArgumentParser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _all_commands(sub, (*prefix, name))


def test_every_command_has_help(capsys):
    commands = list(_all_commands(build_parser()))
    assert ("audit", "verify") in commands and ("seed",) in commands
    for command in commands:
        code, out, _ = _run([*command, "--help"], capsys)
        assert code == 0 and "usage: governance" in out, command


def test_console_script_prints_one_line_without_traceback(tmp_path):
    exe = shutil.which("governance", path=str(Path(sys.executable).parent))
    assert exe, "the governance console script is installed with the package"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    result = subprocess.run([exe, "audit", "verify"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no ledger database" in result.stderr
    assert "Traceback" not in result.stderr
