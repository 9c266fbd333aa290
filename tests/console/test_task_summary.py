"""The readable task summary: what it shows, what it leaves out, and that Airflow runs it after a task."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")


def test_summary_shows_counts_and_ids_not_long_text() -> None:
    from governance_airflow.task_summary import summary_lines

    lines = summary_lines({"batch_id": "B-default-2026-06-30-1a2b", "due": 12, "status": "proposed",
                           "due_by_class": {"early_help": 7, "child_in_need": 5}, "chunks": [0, 1, 2],
                           "review_markdown": "| class | cases |\n|---|---|\n| early_help | 7 |",
                           "quality_run": None, "exclusion_reasons": {}})
    assert lines == ["batch_id: B-default-2026-06-30-1a2b", "chunks: 0, 1, 2", "due: 12",
                     "due_by_class.child_in_need: 5", "due_by_class.early_help: 7", "exclusion_reasons: none",
                     "quality_run: None", "review_markdown: (46 characters, not shown)", "status: proposed"]
    assert summary_lines(list(range(100))) == ["result: 100 items"]
    assert len(summary_lines({f"k{i}": i for i in range(500)})) == 61


class _FinishedTask:
    """What the task runner hands a listener after a task succeeded: the task, its ids, xcom_pull."""

    def __init__(self, owner: str, value: object) -> None:
        self.task = type("Task", (), {"owner": owner})()
        self.task_id, self.map_index, self._value = "propose", -1, value

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int | None = None) -> object:
        assert (task_ids, key, map_indexes) == ("propose", "return_value", -1)
        return self._value


def test_airflow_registers_the_listener_from_the_plugins_folder(airflow_metadata, caplog) -> None:
    """Airflow's own plugin manager loads it (plugins/governance_console.py), and its hook logs the summary."""
    import logging

    from airflow.listeners.listener import get_listener_manager
    from airflow.plugins_manager import integrate_listener_plugins

    manager = get_listener_manager()
    integrate_listener_plugins(manager)
    ours = [p for p in manager.pm.get_plugins() if type(p).__name__ == "TaskSummaryListener"]
    assert ours, "TaskSummaryListener not registered by the governance_console plugin"
    caplog.set_level(logging.INFO)
    ours[0].on_task_instance_success(previous_state="running",
                                     task_instance=_FinishedTask("information-governance", {"due": 12, "batch_id": "B-1"}))
    ours[0].on_task_instance_success(previous_state="running", task_instance=_FinishedTask("someone-else", {"due": 1}))
    assert caplog.text.count("governance summary of propose") == 1 and "due: 12" in caplog.text
