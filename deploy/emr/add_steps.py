"""Add the daily visionlake steps (steps.json beside this file) to a running EMR cluster.

    python deploy/emr/add_steps.py --cluster-id j-XXXXXXXXXXXXX --bucket my-bucket [--pii-secret NAME]
    python deploy/emr/add_steps.py --bucket my-bucket --print [--cli]

steps.json is in the EMR API's StepConfig form ({"Name", "ActionOnFailure", "HadoopJarStep"}), which boto3's
add_job_flow_steps, Airflow's EmrAddStepsOperator, Step Functions and CloudFormation take as it is. ``aws emr
add-steps --steps file://...`` wants its own form ({"Type", "Name", "ActionOnFailure", "Jar", "Args"}): ``--print
--cli`` writes that. Placeholders replaced: ``YOUR-BUCKET`` (every s3:// URI) and ``visionlake/pii-key`` (the
AWS Secrets Manager secret holding VISIONLAKE_PII_KEY). Credentials come from the usual AWS sources; the region
from --region, AWS_REGION or the AWS profile.
Needs boto3 only (``.venv`` has it); it imports nothing from visionlake.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

STEPS = Path(__file__).resolve().parent / "steps.json"
BUCKET_PLACEHOLDER = "YOUR-BUCKET"
SECRET_PLACEHOLDER = "visionlake/pii-key"


def load_steps(bucket: str, pii_secret: str = SECRET_PLACEHOLDER, path: Path = STEPS) -> list[dict]:
    """The steps of ``path`` with the placeholders replaced."""
    if not bucket or "/" in bucket or bucket.startswith("s3:"):
        raise SystemExit(f"add_steps.py: --bucket takes a bucket name, not {bucket!r}")
    steps = json.loads(path.read_text())
    for step in steps:
        args = step["HadoopJarStep"]["Args"]
        args[:] = [
            arg.replace(f"s3://{BUCKET_PLACEHOLDER}/", f"s3://{bucket}/") if arg != SECRET_PLACEHOLDER else pii_secret
            for arg in args
        ]
    return steps


def cli_form(steps: list[dict]) -> list[dict]:
    """The same steps in the form of ``aws emr add-steps --steps file://...``."""
    return [
        {
            "Type": "CUSTOM_JAR",
            "Name": s["Name"],
            "ActionOnFailure": s["ActionOnFailure"],
            "Jar": s["HadoopJarStep"]["Jar"],
            "Args": s["HadoopJarStep"]["Args"],
        }
        for s in steps
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cluster-id", help="the cluster (j-...) to add the steps to")
    parser.add_argument("--bucket", required=True, help=f"replaces {BUCKET_PLACEHOLDER} in every s3:// URI")
    parser.add_argument("--pii-secret", default=SECRET_PLACEHOLDER, help="Secrets Manager secret id of the key")
    parser.add_argument("--region", help="the cluster's region (default: AWS_REGION, else the AWS profile's)")
    parser.add_argument("--steps", type=Path, default=STEPS, help="the step file (default: steps.json here)")
    parser.add_argument("--print", action="store_true", help="print the steps instead of adding them")
    parser.add_argument("--cli", action="store_true", help="with --print: in the form of aws emr add-steps")
    args = parser.parse_args(argv)
    steps = load_steps(args.bucket, args.pii_secret, args.steps)
    if args.print:
        print(json.dumps(cli_form(steps) if args.cli else steps, indent=2))
        return 0
    if not args.cluster_id:
        parser.error("--cluster-id is required unless --print")
    import boto3

    emr = boto3.client("emr", region_name=args.region or os.environ.get("AWS_REGION") or None)
    ids = emr.add_job_flow_steps(JobFlowId=args.cluster_id, Steps=steps)["StepIds"]
    for step, step_id in zip(steps, ids, strict=True):
        print(f"{step_id}  {step['Name']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
