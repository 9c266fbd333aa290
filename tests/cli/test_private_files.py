"""Every file the platform writes under its home is private to the user running it.

A full run of the jobs from the command line (seed, data quality, sharing,
retention sweep with its certificate, an access request bundled and opened for
checking under var/sar/opened/, a ledger export) in a home created under the
usual umask 022, then a walk of the home: no file or folder may carry a group or
other permission bit, so no other local user can read a case record, the ledger,
a key or a bundle.
"""

from __future__ import annotations

import json

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from governance.cli import main

SAR_ID = "sar-private-files"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    previous = os.umask(0o022)  # a usual login umask: anything not made private explicitly would be 0644
    yield tmp_path / "var"
    os.umask(previous)


def _open_to_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if not path.is_symlink() and mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {mode:04o}")
    return found


def _ok(argv: list[str], capsys) -> str:
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, (argv, out.err)
    return out.out


def test_a_full_run_leaves_nothing_readable_by_other_users(home, capsys):
    _ok(["seed", "--families", "12", "--seed", "5", "--clean"], capsys)
    _ok(["quality", "run", "--as-of", "2026-06-30"], capsys)
    _ok(["sharing", "run", "--as-of", "2026-06-30"], capsys)
    swept = _ok(["retention", "sweep", "--as-of", "2026-06-30", "--created-by", "ig.officer",
                 "--approved-by", "ig.manager"], capsys)
    assert "destroyed" in swept and "certificate" in swept  # the sweep did destroy and certify something
    _ok(["sar", "lodge", "--subject", "P000000000", "--received", "2026-06-01", "--request-id", SAR_ID], capsys)
    pack_hash = json.loads(_ok(["sar", "review", "--request", SAR_ID, "--json"], capsys))["pack_hash"]
    _ok(["sar", "approve", "--request", SAR_ID, "--approved-by", "records.manager", "--pack-hash", pack_hash,
         "--withhold-undecided"], capsys)
    _ok(["sar", "bundle", "--request", SAR_ID, "--as-of", "2026-06-30"], capsys)
    opened = home / "sar" / "opened" / SAR_ID
    _ok(["sar", "open", "--package", str(home / "objects" / "sar" / SAR_ID / "bundle.enc"),
         "--key-file", str(home / "sar" / "handover" / SAR_ID / "key.txt"), "--out", str(opened)], capsys)
    _ok(["audit", "export", str(home / "exports" / "ledger")], capsys)

    written = {p.relative_to(home).parts[0] for p in home.rglob("*") if p.is_file()}
    assert {"stores", "objects", "keys", "sar", "exports", "ledger.db"} <= written
    assert any(opened.iterdir()) and any(home.glob("ledger.db-*")) is not None
    assert _open_to_others(home) == []


def test_the_installed_command_makes_its_files_private_under_umask_022(tmp_path):
    exe = shutil.which("governance", path=str(Path(sys.executable).parent))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNANCE_")}
    for argv in (["audit", "record", "--action", "note", "--actor", "ig.officer"], ["audit", "export", "var/exports/x"]):
        result = subprocess.run([exe, *argv], cwd=tmp_path, env=env, capture_output=True, text=True,
                                preexec_fn=lambda: os.umask(0o022))
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "ledger.db").is_file() and (tmp_path / "var" / "exports" / "x").is_dir()
    assert _open_to_others(tmp_path / "var") == []


def test_a_home_others_can_read_gets_one_warning_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    home = tmp_path / "shared-home"
    home.mkdir()
    os.chmod(home, 0o755)
    monkeypatch.setenv("GOVERNANCE_HOME", str(home))
    from governance.cli import _common

    monkeypatch.setattr(_common, "_warned_homes", set())
    assert main(["sar", "list"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"governance: warning: GOVERNANCE_HOME {home} is readable by other local users (mode 0755); "
                   f"run: chmod 700 {home}"]
    assert stat.S_IMODE((home / "ledger.db").stat().st_mode) == 0o600  # new files private even so


def test_airflow_scripts_make_the_airflow_home_private(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
    try:
        from airflow_env import airflow_env, private_airflow_home
    finally:
        sys.path.pop(0)
    env = airflow_env(home=tmp_path / "var", base={"PATH": os.defpath})
    airflow_home = Path(env["AIRFLOW_HOME"])
    airflow_home.mkdir(parents=True)
    os.chmod(tmp_path / "var", 0o755)
    for name in ("airflow.db", "simple_auth_manager_passwords.json.generated"):
        (airflow_home / name).write_text("{}")
        os.chmod(airflow_home / name, 0o644)  # left open by an earlier run
    previous = os.umask(0o022)
    try:
        warnings = private_airflow_home(env)
        assert os.umask(0o077) == 0o077  # what Airflow, started from here, inherits
        (airflow_home / "scheduler.log").write_text("x")  # as Airflow would write under that umask
    finally:
        os.umask(previous)
    assert len(warnings) == 2 and all("mode 0755" in w for w in warnings)  # the home and Airflow's home
    assert _open_to_others(tmp_path / "var") == []


def test_sqlite_files_and_the_folders_made_for_them_are_private_without_the_cli(tmp_path):
    """Library use (a DAG task, a test) under umask 022: the database, its -wal/-shm and new folders are private."""
    import sqlalchemy as sa

    from governance.db import make_engine

    previous = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'home' / 'stores' / 'x.db'}")
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (a INTEGER)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            written = sorted(p.name for p in (tmp_path / "home" / "stores").iterdir())
            assert written == ["x.db", "x.db-shm", "x.db-wal"]  # WAL files exist while the connection is open
            assert _open_to_others(tmp_path / "home") == []
        engine.dispose()
    finally:
        os.umask(previous)
    assert _open_to_others(tmp_path / "home") == []
