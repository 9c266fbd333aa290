"""``governance research``: register, approve, build, export, end, certificate; errors in one line.

The sub-commands are registered on a parser of their own here, so these tests
do not depend on the shared ``governance.cli`` command list.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from governance.cli import research as research_cli
from governance.errors import GovernanceError
from governance.stores.seeding import seed_store
from governance.config import Settings
from tests.research.conftest import spec_dict


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="governance")
    commands = parser.add_subparsers(dest="command", required=True)
    research_cli.register(commands)
    args = parser.parse_args(argv)
    try:
        code = int(args.handler(args) or 0)
    except GovernanceError as error:
        print(f"governance: error: {error}", file=__import__("sys").stderr)
        code = error.exit_code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GOVERNANCE_STORES", "GOVERNANCE_LEDGER_URL", "GOVERNANCE_OBJECTS_URL", "GOVERNANCE_KEYS_DIR",
                 "GOVERNANCE_STATE_URL", "GOVERNANCE_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVERNANCE_HOME", str(tmp_path / "var"))
    seed_store(Settings.from_env(), "default", families=150, seed=5)
    return tmp_path


def test_a_study_through_the_command_line(home: Path, capsys) -> None:
    spec = spec_dict("CLI-1")
    del spec["approved_on"]
    path = home / "study.json"
    path.write_text(json.dumps(spec))

    assert _run(["research", "register", str(path), "--as-of", "2026-01-05"], capsys)[:2] == (0, "CLI-1: registered\n")
    assert _run(["research", "register", str(path)], capsys)[1] == "CLI-1: registered (unchanged)\n"
    code, _, err = _run(["research", "build", "CLI-1", "--as-of", "2026-06-30"], capsys)
    assert code == 2 and err.count("\n") == 1 and "only approved studies" in err
    assert _run(["research", "approve", "CLI-1", "--by", "IG board", "--as-of", "2026-01-06"], capsys)[0] == 0

    code, out, _ = _run(["research", "build", "CLI-1", "--as-of", "2026-06-30", "--json"], capsys)
    built = json.loads(out)
    assert code == 0 and built["status"] == "released" and built["extract_id"] == "CLI-1-x1"
    code, out, _ = _run(["research", "export", "CLI-1", "--to", str(home / "out"), "--as-of", "2026-07-01"], capsys)
    exported = out.split()
    assert code == 0 and all(Path(p).is_file() for p in exported)

    code, out, _ = _run(["research", "overdue", "--as-of", "2027-01-03"], capsys)
    assert code == 1 and "OVERDUE CLI-1" in out
    code, out, _ = _run(["research", "end", "CLI-1", "--as-of", "2027-01-03"], capsys)
    assert code == 0 and "CLI-1: anonymised on 2027-01-03" in out and "1 local cop(ies) deleted" in out
    assert not any(Path(p).exists() for p in exported)

    code, out, _ = _run(["research", "list", "--json"], capsys)
    assert json.loads(out)["studies"][0]["status"] == "ended"
    code, out, _ = _run(["research", "show", "CLI-1", "--json"], capsys)
    shown = json.loads(out)
    assert shown["extracts"][0]["status"] == "destroyed" and shown["extracts"][0]["report"]["passed"] is True
    code, out, _ = _run(["research", "certificate", "CLI-1"], capsys)
    assert code == 0 and json.loads(out)["summary"]["outcome"] == "anonymised"


def test_errors_are_one_line(home: Path, capsys) -> None:
    bad = home / "bad.toml"
    bad.write_text('id = "X"\n')
    for argv, fragment in (
        (["research", "register", str(bad)], "start: not a date"),
        (["research", "register", str(home / "missing.toml")], "cannot read"),
        (["research", "end", "NOPE"], "no study 'NOPE'"),
        (["research", "certificate", "NOPE"], "no certificate"),
    ):
        code, out, err = _run(argv, capsys)
        assert code == 2 and out == "" and err.count("\n") == 1 and fragment in err, (argv, err)


@pytest.mark.parametrize("action", ["register", "approve", "list", "show", "build", "export", "end", "overdue",
                                    "certificate"])
def test_every_action_has_help(action: str, capsys) -> None:
    parser = argparse.ArgumentParser(prog="governance")
    research_cli.register(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["research", action, "--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
