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
    (in_home / "var").mkdir(mode=0o700)  # verify, being read-only, created no home
    keys = in_home / "var" / "keys"
    keys.mkdir(mode=0o700)
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


# -- issue 17: every failure is one line ------------------------------------------------------

def test_mapping_naming_a_missing_column_fails_jobs_in_one_line_and_store_check_reports_it(in_home, capsys, monkeypatch):
    assert main(["seed", "--families", "2", "--clean"]) == 0
    capsys.readouterr()
    mapping = (Path(__file__).resolve().parents[2] / "governance" / "stores" / "mappings" / "reference.toml").read_text()
    assert 'closed_on = "closed_on"' in mapping
    (in_home / "council.toml").write_text(mapping.replace('closed_on = "closed_on"', 'closed_on = "closure_date"'))
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_MAPPING", "council.toml")
    code, out, err = _run(["store", "check"], capsys)
    assert code == 1 and "column cases.closure_date (entity case, field closed_on) does not exist" in out, out
    code, _, err = _run(["retention", "plan", "--as-of", "2026-06-30"], capsys)
    _one_line_error(code, err, "closure_date")
    assert "governance store check" in err


def test_mapping_file_not_utf8_is_one_line(in_home, capsys, monkeypatch):
    (in_home / "latin1.toml").write_bytes('[store]\nname = "Caf\u00e9 council"\n'.encode("latin-1"))
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_MAPPING", "latin1.toml")
    for argv in (["store", "check"], ["store", "mapping", "latin1.toml"], ["retention", "plan", "--as-of", "2026-06-30"]):
        code, _, err = _run(argv, capsys)
        _one_line_error(code, err, "latin1.toml", "not UTF-8")


@pytest.mark.parametrize("home", ["a-file", "/proc/self/governance", "/sys/governance"])
def test_unusable_home_is_one_line(in_home, capsys, monkeypatch, home):
    (in_home / "a-file").write_text("not a folder")
    monkeypatch.setenv("GOVERNANCE_HOME", home)
    for argv in (["sar", "list"], ["seed", "--families", "1"], ["audit", "log"]):
        code, _, err = _run(argv, capsys)
        _one_line_error(code, err, "GOVERNANCE_HOME")


def test_read_only_database_is_one_line(in_home, capsys, monkeypatch):
    assert main(["audit", "record", "--action", "note", "--actor", "ig"]) == 0
    capsys.readouterr()
    ledger = in_home / "var" / "ledger.db"
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", f"sqlite:///file:{ledger}?mode=ro&uri=true")
    code, _, err = _run(["audit", "record", "--action", "note", "--actor", "ig"], capsys)
    _one_line_error(code, err, "readonly database")


def test_sar_open_into_an_existing_file_is_one_line(in_home, capsys):
    (in_home / "package.enc").write_bytes(b"\0" * 64)
    (in_home / "key.txt").write_text("00" * 32)
    (in_home / "taken").write_text("already here")
    code, _, err = _run(["sar", "open", "--package", "package.enc", "--key-file", "key.txt", "--out", "taken"], capsys)
    _one_line_error(code, err, "--out taken is a file")
    assert (in_home / "taken").read_text() == "already here"


def test_unexpected_exception_is_one_line_without_its_message_and_debug_shows_the_traceback(in_home, capsys, monkeypatch):
    from governance.cli import sar

    def boom(_args):
        raise RuntimeError("Alice Example, 12 Fictional Road")  # personal data in an exception's text

    monkeypatch.setattr(sar, "run_list", boom)
    code, _, err = _run(["sar", "list"], capsys)
    _one_line_error(code, err, "unexpected RuntimeError", "--debug")
    assert "Alice" not in err
    code, _, err = _run(["--debug", "sar", "list"], capsys)
    assert code == 2 and "Traceback" in err and err.startswith("governance: error: unexpected RuntimeError")
    monkeypatch.setenv("GOVERNANCE_DEBUG", "1")
    code, _, err = _run(["sar", "list"], capsys)
    assert code == 2 and "Traceback" in err


def test_argument_errors_are_one_line(in_home, capsys):
    code, _, err = _run(["retention", "plan", "--as-of", "2026-06-31"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a date" in err and "--help" in err


def test_losing_a_race_for_a_unique_key_is_one_line_without_values(db_url):
    import sqlalchemy as sa

    from governance.errors import ConcurrentChange, translate

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE batches (batch_id VARCHAR(80) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO batches VALUES ('Alice Example 2010-05-01')"))
    with pytest.raises(sa.exc.IntegrityError) as caught:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO batches VALUES ('Alice Example 2010-05-01')"))
    engine.dispose()
    error = translate(caught.value)
    assert isinstance(error, ConcurrentChange) and error.exit_code == 2
    assert "\n" not in str(error) and "Alice" not in str(error) and "2010" not in str(error)
    assert "batches" in str(error) and "run the command again" in str(error)


def test_output_cut_short_by_its_reader_ends_quietly(tmp_path):
    exe = shutil.which("governance", path=str(Path(sys.executable).parent))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    # `governance ... | head`: a reader that has already gone (the pipe's read end is closed before it starts).
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([exe, "store", "mapping", "reference", "--json"], cwd=tmp_path, env=env,
                                stdout=write_end, stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == "", result.stderr  # as if killed by SIGPIPE, silently


def test_database_errors_name_tables_and_columns_never_values(db_url):
    import sqlalchemy as sa

    from governance.errors import DatabaseError, translate

    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE people (person_id VARCHAR(20) PRIMARY KEY, date_of_birth DATE)"))
    lines = []
    for sql in ("SELECT closure_date FROM people", "SELECT 1 FROM cases",
                "INSERT INTO people VALUES ('P1', 'Alice Example born 17/04/1985', 3)"):
        with pytest.raises(sa.exc.DBAPIError) as caught:
            with engine.begin() as conn:
                conn.execute(sa.text(sql))
        error = translate(caught.value)
        assert isinstance(error, DatabaseError) and "\n" not in str(error) and "Alice" not in str(error)
        lines.append(str(error))
    engine.dispose()
    assert "closure_date" in lines[0] and "governance store check" in lines[0]
    assert "cases" in lines[1] and "governance store check" in lines[1]


def test_inspecting_a_store_that_is_not_there_creates_nothing(in_home, capsys, monkeypatch):
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_URL", f"sqlite:///{in_home / 'elsewhere' / 'council.db'}")
    for argv in (["store", "check"], ["store", "counts"]):
        code, _, err = _run(argv, capsys)
        _one_line_error(code, err, "store default: no database at", "council.db")
    assert not (in_home / "elsewhere").exists()
