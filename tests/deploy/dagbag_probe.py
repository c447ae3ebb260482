"""Run by tests/deploy with .venv-airflow's Python: load a DAG folder with Airflow's own DagBag, write what the
tests assert on into one JSON file (Airflow logs to stdout).

    dagbag_probe.py DAG_FOLDER VARIABLES_JSON OUT_JSON

Each DAG goes through the scheduler's serialization round trip; its schedule is read from the deserialized
timetable (the next two runs after 2026-03-01 07:00 UTC). Every task's command and environment are rendered
with VARIABLES_JSON as the Airflow Variables, through the task's own Jinja environment, so an undefined name
fails as it would in Airflow.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime


class _Variables(dict):
    """``var.value`` of a task's template context: ``var.value.NAME`` and ``var.value.get(NAME, default)``."""

    def __getattr__(self, name: str) -> str:
        return self[name]


def main(folder: str, variables: dict[str, str]) -> dict:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import DataInterval, TimeRestriction

    bag = DagBag(dag_folder=folder)
    out: dict = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    context = {"var": {"value": _Variables(variables)}}
    for dag_id, dag in bag.dags.items():
        scheduled = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        fires, after = [], datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
        for _ in range(2):
            info = scheduled.timetable.next_dagrun_info(
                last_automated_data_interval=DataInterval(after, after),
                restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
            )
            after = info.run_after
            fires.append(after.isoformat())
        tasks = {}
        for task in dag.tasks:
            jinja = task.get_template_env()
            tasks[task.task_id] = {
                "operator": type(task).__name__,
                "upstream": sorted(task.upstream_task_ids),
                "bash_command": task.render_template(task.bash_command, context, jinja),
                "env": {k: task.render_template(v, context, jinja) for k, v in (task.env or {}).items()},
                "append_env": task.append_env,
                "retries": task.retries,
                "trigger_rule": str(task.trigger_rule),
            }
        out["dags"][dag_id] = {
            "schedule": scheduled.timetable.summary,
            "timezone": str(scheduled.timezone),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "next_runs": fires,
            "tasks": tasks,
        }
    return out


if __name__ == "__main__":
    with open(sys.argv[3], "w") as out:
        json.dump(main(sys.argv[1], json.loads(sys.argv[2])), out)
