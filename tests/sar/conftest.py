"""Fixtures for the access-request tests: settings on SQLite or PostgreSQL, a seeded store, the CLI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import pytest

from governance.config import Settings, StoreConfig, sqlite_url
from governance.errors import GovernanceError


def make_settings(home: Path, db_url: str | None = None, objects_url: str | None = None,
                  s3_endpoint_url: str | None = None) -> Settings:
    """The store, the ledger and the state tables in ``db_url`` (default: SQLite files under ``home``)."""
    store_url = db_url or sqlite_url(home / "stores" / "default.db")
    return Settings(
        home=home,
        stores=(StoreConfig("default", store_url),),
        ledger_url=db_url or sqlite_url(home / "ledger.db"),
        objects_url=objects_url or (home / "objects").as_uri(),
        keys_dir=home / "keys",
        s3_endpoint_url=s3_endpoint_url,
    )


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings on SQLite, then on PostgreSQL (the ``db_url`` fixture)."""
    return make_settings(tmp_path / "var", db_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "var")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, str, str]]:
    """Run ``governance sar ...`` in-process with ``settings`` from the environment, like ``governance.cli.main``."""

    def run(settings: Settings, argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
        from governance.cli import sar

        monkeypatch.setattr("governance.cli._common.settings_from", lambda _args: settings)
        monkeypatch.setattr("governance.cli.sar.settings_from", lambda _args: settings)
        parser = argparse.ArgumentParser(prog="governance")
        sar.register(parser.add_subparsers(dest="command", required=True))
        try:
            args = parser.parse_args(argv)
            code = int(args.handler(args) or 0)
        except GovernanceError as error:
            print(f"governance: error: {error}", file=sys.stderr)
            code = error.exit_code
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def release_flagged(settings: Settings, request_id: str, by: str = "reviewer.one") -> int:
    """Decide every note flagged as third-party information: released with its redactions (as the reviewer read it)."""
    from datetime import datetime, timezone

    from governance.jobs import sar as jobs
    from governance.sar import review
    from governance.state import state_engine

    pending = jobs.prepare_review(settings, request_id)["needs_decision"]
    with state_engine(settings).begin() as conn:
        for flagged in pending:
            review.decide_flagged(conn, request_id, entity=flagged["entity"], record_id=flagged["record_id"],
                                  withhold=False, reason="read: names redacted, nothing else identifies", by=by,
                                  at=datetime(2026, 6, 2, tzinfo=timezone.utc))
    return len(pending)
