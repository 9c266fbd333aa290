"""Shared fixtures: databases on SQLite and PostgreSQL, a moto S3 server.

PostgreSQL tests use the server named by ``GOVERNANCE_TEST_POSTGRES_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test gets
its own fresh database, dropped afterwards. Where no server answers, those tests
are skipped with the reason shown in pytest's summary (``-ra``); with
``CI=true`` a missing server fails them instead, because CI has one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get("GOVERNANCE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_admin_engine() -> sa.Engine | None:
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "no server here"
        engine.dispose()
        return None
    return engine


_ADMIN: list[sa.Engine | None] = []


def _admin() -> sa.Engine | None:
    if not _ADMIN:
        _ADMIN.append(_postgres_admin_engine())
    return _ADMIN[0]


@pytest.fixture
def postgres_url() -> str:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    admin = _admin()
    if admin is None:
        message = f"PostgreSQL not reachable at {make_url(POSTGRES_URL).render_as_string(hide_password=True)}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run in CI)")
        pytest.skip(message + ": PostgreSQL tests skipped")
    name = f"gov_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"),
            {"n": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def moto_server():
    """A moto S3 server over HTTP on 127.0.0.1 (random port), for boto3 to talk to."""
    import logging

    from moto.server import ThreadedMotoServer

    # moto's werkzeug logs every request; keep failing tests' output readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-2")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
