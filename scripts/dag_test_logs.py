"""File the task logs of an ``airflow dags test`` run where Airflow's UI reads them.

``airflow dags test`` (what the main job runs) executes each task inside its
own process (``dag.test()`` -> ``run_task_in_process``): the task's lines go to
that process's output, and no per-task log file is written, so the UI's log tab
said "Log file not found" for the demo's runs. A scheduler-run task's supervisor
writes ``{base_log_folder}/{log_filename_template}`` (``dag_id=.../run_id=.../
task_id=.../attempt=N.log``), one JSON record per line; the API server's log
reader (``FileTaskHandler._read_from_local``) reads that file.

This script splits the saved output of a ``dags test`` run into those files.
``dag.test()`` brackets every task it runs with ``[DAG TEST] starting task_id=..``
and ``[DAG TEST] end task ..``, and names the task instance's id in
``[DAG TEST] running task <TaskInstance: .. ti_id=..>``; the lines in between
are that task's (tasks run one at a time there). The task instance is looked up
in Airflow's metadata database and its file name rendered by the configured task
log handler itself, with the run's own log template, so the path is the one the
reader looks for by construction. Lines outside any task (the run's set-up, the
wait for a reviewer) stay in the saved output only.

Each rendered line (``2026-06-30T10:00:00.000000Z [info     ] event [logger] k=v``)
becomes a record ``{"timestamp", "level", "event", "logger"}`` as a worker writes;
continuation lines of a multi-line event join it; anything else is kept as text.

    python scripts/dag_test_logs.py var/logs/main-job/01-platform_foundation.log

Runs with the Airflow environment of the ``dags test`` run (``scripts/airflow_env.py``).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["task_segments", "records", "file_task_logs", "main"]

_STARTING = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_RUNNING_ID = re.compile(r"\[DAG TEST\] running task <TaskInstance: .*?ti_id=([0-9a-fA-F-]{36})>")
_ENDING = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")
_RECORD = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) \[(\w+)\s*\] (.*)$")
# The renderer ends a record with " [logger] key=value ..." (the event is padded before it).
_TAIL = re.compile(r"^(.*?)\s+\[([^\]\s]+)\]((?: [\w.]+=\S*)*)\s*$", re.DOTALL)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Segment:
    """The lines of one task instance's run inside ``dag.test()``."""

    task_id: str
    map_index: int
    ti_id: str | None = None
    lines: list[str] = field(default_factory=list)


def task_segments(lines: list[str]) -> list[Segment]:
    """Cut a ``dags test`` output into the runs of its tasks (a deferred task has two)."""
    segments: list[Segment] = []
    current: Segment | None = None
    for raw in lines:
        line = _ANSI.sub("", raw.rstrip("\n"))
        started = _STARTING.search(line)
        if started:
            current = Segment(started.group(1), int(started.group(2)))
            segments.append(current)
        if current is None:
            continue
        current.lines.append(line)
        identified = _RUNNING_ID.search(line)
        if identified and current.ti_id is None:
            current.ti_id = identified.group(1)
        if _ENDING.search(line):
            current = None
    return segments


def records(lines: list[str]) -> list[dict[str, str]]:
    """Rendered log lines -> the JSON records a worker writes (text kept where a line is not one)."""
    out: list[dict[str, str]] = []
    open_record: dict[str, str] | None = None  # a multi-line event still waiting for its " [logger]" tail

    def close(record: dict[str, str]) -> bool:
        tail = _TAIL.match(record["event"])
        if tail:
            record["event"], record["logger"] = tail.group(1).rstrip(), tail.group(2)
        return bool(tail)

    for line in lines:
        match = _RECORD.match(line)
        if match:
            if open_record is not None:
                out.append(open_record)
            record = {"timestamp": match.group(1), "level": match.group(2), "event": match.group(3)}
            open_record = None if close(record) else record
            if open_record is None:
                out.append(record)
        elif open_record is not None:
            open_record["event"] += "\n" + line
            if close(open_record):
                out.append(open_record)
                open_record = None
        elif line.strip():
            out.append({"event": line})  # printed by the task (stdout), not logged
    if open_record is not None:
        out.append(open_record)
    return out


def file_task_logs(dag_test_output: Path) -> list[Path]:
    """Write one log file per task instance of the run saved in ``dag_test_output``; their paths."""
    from uuid import UUID

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.log.file_task_handler import FileTaskHandler
    from airflow.utils.log.log_reader import TaskLogReader
    from airflow.utils.session import create_session

    handler = TaskLogReader().log_handler
    if not isinstance(handler, FileTaskHandler):
        raise SystemExit(f"task logs go to {type(handler).__name__}, not local files; nothing filed")
    by_instance: dict[str, list[str]] = {}
    for segment in task_segments(dag_test_output.read_text(errors="replace").splitlines()):
        if segment.ti_id:
            by_instance.setdefault(segment.ti_id, []).extend(segment.lines)
    written = []
    with create_session() as session:
        for ti_id, lines in by_instance.items():
            ti = session.get(TaskInstance, UUID(ti_id))
            if ti is None:
                continue
            # The reader's own rendering (FileTaskHandler._read renders the same way), so the paths agree.
            path = Path(handler.local_base, handler._render_filename(ti, ti.try_number, session=session))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in records(lines)), encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    from airflow.configuration import conf

    filed = [path for name in argv for path in file_task_logs(Path(name))]
    folder = conf.get("logging", "base_log_folder")
    print(f"task logs: {len(filed)} task instance(s) of {len(argv)} run(s) filed under {folder} (the UI's log tab)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
