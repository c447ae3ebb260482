"""Fixtures of the catalog tests: a fresh S3 bucket on the moto server, a small hand-written lake."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.catalog.helpers import SILVER_PLATES_FIELDS, metadata, protocol, write_log


@pytest.fixture
def s3(aws_env):
    """A boto3 S3 client of the moto server and a fresh bucket name (created)."""
    from visionlake.config import load_config
    from visionlake.lake import storage as st

    client = st.s3_client(load_config("local").storage)
    bucket = f"catalog-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest.fixture
def small_lake(tmp_path) -> Path:
    """Three tables: silver_alpr_plates (partitioned by event_date), quarantine_alpr and _runs."""
    lake = tmp_path / "lake"
    write_log(lake / "silver/alpr/plates", [protocol(), metadata(SILVER_PLATES_FIELDS, ("event_date",))])
    write_log(lake / "quarantine/alpr", [protocol(), metadata([("source_path", "string"), ("reason", "string")])])
    write_log(lake / "_runs", [protocol(), metadata([("run_id", "string"), ("seconds", "double")])])
    return lake
