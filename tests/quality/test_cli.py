"""``governance quality``: run, list the quarantine, release by hand; JSON and human output.

The parser is built here with the module's ``register`` (the way
``governance.cli.build_parser`` will once the module is registered there).
"""

from __future__ import annotations

import argparse
import json

import pytest

from governance.cli import quality
from governance.config import Settings
from governance.errors import GovernanceError
from governance.stores.seeding import seed_store

pytestmark = pytest.mark.slow


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="governance")
    quality.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


def test_run_list_and_release(governance_home, capsys) -> None:
    seed_store(Settings.from_env(), "default", families=200, seed=11)

    assert _cli(["quality", "run", "--as-of", "2026-06-30", "--json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    store = ran["stores"][0]
    assert store["store"] == "default" and store["passed"] is True
    assert store["counts"]["rules_failed"] == 13 and store["counts"]["quarantined_new"] > 0
    assert store["data_docs_uri"].endswith("quality/default/data-docs/index.html")

    assert _cli(["quality", "quarantine", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["count"] == store["counts"]["quarantined_new"]
    record = next(r for r in listed["rows"] if r["entity"] == "case")

    assert _cli(["quality", "quarantine", "release", "--store", "default", "--record", record["record_id"],
                 "--reason", "closure date corrected on the source system"]) == 0
    assert f"released {record['record_id']} from {record['rule']}" in capsys.readouterr().out
    assert _cli(["quality", "quarantine", "list", "--record", record["record_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 0
    # Nothing left to release for that record: exit 1, said in one line.
    assert _cli(["quality", "quarantine", "release", "--store", "default", "--record", record["record_id"],
                 "--reason", "again"]) == 1
    assert "0 records released" in capsys.readouterr().out

    # Human output names rules and counts, and where the Data Docs are; a failing gate exits 1.
    assert _cli(["quality", "run", "--as-of", "2026-06-30", "--max-quarantined-share", "0.001", "--no-publish"]) == 1
    out = capsys.readouterr().out
    assert "default: FAILED (share)" in out and "failed  case.closed_on.present_when_closed: 1" in out
    assert "Data Docs" not in out


def test_arguments_are_checked(governance_home, capsys) -> None:
    for argv in (["quality", "run", "--as-of", "30/06/2026"], ["quality", "run", "--max-quarantined-share", "2"],
                 ["quality", "quarantine", "release", "--store", "default", "--record", "C1"]):
        with pytest.raises(SystemExit) as exit_info:
            _cli(argv)
        assert exit_info.value.code == 2
    capsys.readouterr()
    with pytest.raises(GovernanceError, match="no case store named 'nope'"):
        _cli(["quality", "run", "--store", "nope"])
    for argv in (["quality", "--help"], ["quality", "run", "--help"], ["quality", "quarantine", "release", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            _cli(argv)
        assert exit_info.value.code == 0
