"""visionlake_daily: every source's run at 07:00 UTC, then the quality checks, then the report; the new threat
alerts of the detections run are delivered right after it.

Each task calls the ``visionlake`` command on the worker, which needs the wheel from ``make package`` installed
(``visionlake`` on its PATH), Java 17, and ``VISIONLAKE_CONF_DIR`` pointing at the packaged ``conf/`` (the wheel
does not hold it). Spark runs on the worker; for more data than one machine handles, add the EMR steps of
``deploy/emr/`` instead. Settings are Airflow Variables, read when a task runs (not when the file is parsed):

| Variable | what | |
|---|---|---|
| visionlake_lake | the lake: ``s3://bucket/lake`` or a folder | required |
| visionlake_input | the raw input root: source S reads ``<root>/S`` | required |
| visionlake_reports | the worker's folder for ``visionlake-report.html`` (replaced daily) | required |
| visionlake_pii_secret | ``VISIONLAKE_PII_KEY`` for the sources in ``NEEDS_PII_KEY`` | required |
| visionlake_alert_webhook | where ``visionlake notify detections`` POSTs each new alert | required |
| visionlake_pagerduty_secret | ``VISIONLAKE_PAGERDUTY_ROUTING_KEY`` (PagerDuty's Events v2 routing key) | required |
| visionlake_env | the conf overlay | default ``emr`` |

Airflow masks the values of Variables whose names contain "secret" in logs and rendered templates; with the
AWS Secrets Manager secrets backend the key stays in Secrets Manager. A failed run stops that day's check and
report (the DAG run fails); clearing it reruns it, and a rerun adds only what the failed run did not commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

# visionlake.cli.SOURCES, in its order (tests/deploy checks that the two agree). A new source: add it here, to
# NEEDS_PII_KEY if it pseudonymises, and its step to deploy/emr/steps.json.
SOURCES = ("alpr", "face_validation", "detections", "face_recognition")
NEEDS_PII_KEY = frozenset({"face_validation", "face_recognition"})

LAKE = "{{ var.value.visionlake_lake }}"
INPUT = "{{ var.value.visionlake_input }}"
REPORTS = "{{ var.value.visionlake_reports }}"
ENV = "{{ var.value.get('visionlake_env', 'emr') }}"
PII_KEY = "{{ var.value.visionlake_pii_secret }}"
WEBHOOK = "{{ var.value.visionlake_alert_webhook }}"
ROUTING_KEY = "{{ var.value.visionlake_pagerduty_secret }}"

with DAG(
    dag_id="visionlake_daily",
    schedule="0 7 * * *",  # in UTC, the lake's time zone (02:00 in Bogota, the face_validation API's zone)
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,  # a run takes whatever input is new: there is nothing to backfill day by day
    max_active_runs=1,
    doc_md=__doc__,
    tags=["visionlake"],
) as dag:
    runs = [
        BashOperator(
            task_id=f"run_{source}",
            bash_command=f"visionlake run {source} --input {INPUT}/{source} --lake {LAKE} --env {ENV}",
            env={"VISIONLAKE_PII_KEY": PII_KEY} if source in NEEDS_PII_KEY else None,
            append_env=True,
            retries=1,  # object-storage or network trouble; a retry is safe (runs are idempotent)
            retry_delay=timedelta(minutes=10),
            do_xcom_push=False,
        )
        for source in SOURCES
    ]
    check = BashOperator(
        task_id="check",
        bash_command=f"visionlake check --lake {LAKE} --env {ENV}",
        do_xcom_push=False,
    )
    report = BashOperator(
        task_id="report",
        bash_command=f"visionlake report --lake {LAKE} --env {ENV} --out {REPORTS}/visionlake-report.html",
        do_xcom_push=False,
    )
    # every alert exactly once (delivery is idempotent: retrying the task resends nothing delivered)
    notify = BashOperator(
        task_id="notify_detections",
        bash_command=f"visionlake notify detections --lake {LAKE} --webhook {WEBHOOK} --env {ENV}",
        env={"VISIONLAKE_PAGERDUTY_ROUTING_KEY": ROUTING_KEY},
        append_env=True,
        retries=3,
        retry_delay=timedelta(minutes=5),
        do_xcom_push=False,
    )
    runs >> check >> report
    runs[SOURCES.index("detections")] >> notify
