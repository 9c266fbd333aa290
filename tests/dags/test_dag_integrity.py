"""Every DAG file in dags/ parses cleanly and follows the house rules.

House rules (docs/architecture): tags, doc_md, retries with exponential
backoff, catchup off, a static start_date, an explicit schedule, the failure
alert, and nothing done at parse time: no database, no files, no governance
import outside a task. (Parse *time* is not asserted: it depends on the machine.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("airflow")

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"

DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))

def test_there_are_dags(dagbag) -> None:
    assert DAG_FILES, "no DAG files in dags/"
    assert dagbag.dags


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


def test_one_dag_per_file(dagbag) -> None:
    files = [Path(dag.fileloc).name for dag in dagbag.dags.values()]
    assert sorted(files) == sorted(set(files)), "a DAG file defines more than one DAG"
    assert set(files) == {p.name for p in DAG_FILES}, "a DAG file defines no DAG"


def _dags(dagbag):
    return sorted(dagbag.dags.values(), key=lambda d: d.dag_id)


def test_dags_document_themselves(dagbag) -> None:
    for dag in _dags(dagbag):
        assert dag.tags, f"{dag.dag_id}: no tags"
        assert dag.doc_md and len(dag.doc_md.strip()) > 80, f"{dag.dag_id}: doc_md missing or too short"


def test_dags_do_not_catch_up_and_start_statically(dagbag) -> None:
    for dag in _dags(dagbag):
        assert dag.catchup is False, f"{dag.dag_id}: catchup must be False"
        assert dag.start_date is not None, f"{dag.dag_id}: no start_date"
        # A clock read at parse time shows up as a time of day.
        assert (dag.start_date.hour, dag.start_date.minute, dag.start_date.second, dag.start_date.microsecond) == (
            0, 0, 0, 0
        ), f"{dag.dag_id}: start_date {dag.start_date} looks computed, not static"


def test_schedules_are_explicit() -> None:
    for path in DAG_FILES:
        assert "schedule=" in path.read_text("utf-8"), f"{path.name}: schedule not given explicitly"


def test_tasks_retry_with_exponential_backoff_and_alert(dagbag) -> None:
    for dag in _dags(dagbag):
        assert (dag.default_args or {}).get("retries", 0) >= 1, f"{dag.dag_id}: default_args has no retries"
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 1, f"{where}: no retries"
            # Airflow 3.3: a multiplier; True would be 1.0, i.e. no backoff at all.
            assert task.retry_exponential_backoff > 1, f"{where}: retry_exponential_backoff must be > 1"
            callbacks = task.on_failure_callback or []
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert any(getattr(cb, "__name__", "") == "alert_on_failure" for cb in callbacks), (
                f"{where}: on_failure_callback must include governance_airflow.callbacks.alert_on_failure"
            )


def _module_level_imports(tree: ast.Module) -> list[str]:
    """Modules imported outside any function body (class bodies and if-blocks count)."""
    found: list[str] = []
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
        stack.extend(ast.iter_child_nodes(node))
    return found


def test_dag_files_import_governance_inside_tasks_only() -> None:
    for path in DAG_FILES:
        modules = _module_level_imports(ast.parse(path.read_text("utf-8"), filename=str(path)))
        offending = [m for m in modules if m == "governance" or m.startswith("governance.")]
        assert not offending, f"{path.name} imports {offending} at module level; import inside the task"


def test_parsing_touches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dagbag) -> None:
    """Parse dags/ again with every governance location unusable.

    The home does not exist (and must not be created) and the connections name
    a port nobody listens on: a parse that opened a database or wrote a file
    would fail or leave a trace. Parsed again later, start dates are unchanged.
    """
    from airflow.dag_processing.dagbag import DagBag

    absent = tmp_path / "must-not-be-created"
    monkeypatch.setenv("GOVERNANCE_HOME", str(absent))
    monkeypatch.setenv("GOVERNANCE_KEYS_DIR", str(absent / "keys"))
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_LEDGER", "postgresql://nobody:secret@127.0.0.1:9/ledger")
    monkeypatch.setenv("AIRFLOW_CONN_CASE_STORE_DEFAULT", "postgresql://nobody:secret@127.0.0.1:9/cases")
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", "s3://nobody/objects?endpoint_url=http%3A%2F%2F127.0.0.1%3A9")
    monkeypatch.chdir(tmp_path)

    again = DagBag(dag_folder=str(DAGS_FOLDER))

    assert again.import_errors == {}
    assert not absent.exists(), "parsing created files under GOVERNANCE_HOME"
    assert list(tmp_path.iterdir()) == [], "parsing wrote into the working directory"
    assert {d.dag_id: d.start_date for d in again.dags.values()} == {
        d.dag_id: d.start_date for d in dagbag.dags.values()
    }
