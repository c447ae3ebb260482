"""The workshop's own output (4,427 final attempts x 67 columns, shared/data/face-validation-seed) turned
back into documents: visionlake must reproduce each of its values (under the corrected column names).

A row becomes a document with its sizes, its non-filled scores and probabilities, and each service's
total time put in the near image's ``time_ms`` (a filled 0 / -1 / -2 means the service did not run, so
the field is left out). The five identifying columns hold the workshop's labels; visionlake replaces them
by pseudonyms, so for those the test checks that labels and pseudonyms correspond one to one.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import hmac
import json
from datetime import datetime

import pytest
from deltalake import DeltaTable
from tests.conftest import SHARED

from visionlake.config import FaceValidationSettings
from visionlake.sources.face_validation.pipeline import run

WORKSHOP_KEY = "3b" * 32  # VISIONLAKE_PII_KEY: 64 hex characters
WORKSHOP_CSV = SHARED / "data" / "face-validation-seed" / "transform_data_no_retries.csv"
RENAMED = {
    "date_day_off_week": "date_day_of_week",
    "total_time_ms_all_mircroservices": "total_time_ms_all_microservices",
    "total_time_ms_other_mircroservices": "total_time_ms_other_microservices",
}
IDENTIFYING = ["user_name", "file_token", "procesoConvenioGuid", "convenio", "documento"]
TEXT = ["api_hash", "service", "summary_status", "summary_desc", "image_quality_near_img", "image_quality_far_img",
        "aspect_ratio_near_img", "aspect_ratio_far_img", "date_month", "date_day_off_week"]  # fmt: skip
FLAGS = ["same_image_quality", "same_aspect_ratio"]
INTS = ["summary_code", "http_code", "img_size_near_img_width", "img_size_near_img_height", "img_size_far_img_width",
        "img_size_far_img_height", "date_year", "date_day", "date_hour", "date_minute", "total_time_ms"]  # fmt: skip
SERVICES = ["accessory_detector", "face_detector", "liqe", "topiq", "classic_metrics", "as_35_selfies", "ibeta2_crops",
            "ibeta2_full", "ibeta2_clip", "geometry_check"]  # fmt: skip
CLASSIC = ["sharpness", "colorfulness", "contrast", "brightness", "blur_score", "svd_score"]
PAD = ["as_35_selfies", "ibeta2_crops", "ibeta2_full", "ibeta2_clip", "as_heuristics"]


def put(document: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def to_document(index: int, row: dict[str, str]) -> dict:
    document: dict = {
        "_id": {"$oid": f"{index:024x}"},
        "api_hash": row["api_hash"],
        "user_name": row["user_name"],
        "service": row["service"],
        "file_token": row["file_token"],
        "date": row["date"].replace(" ", "T"),
        "summary": {
            "status": row["summary_status"],
            "code": f"{int(row['summary_code']):04d}",
            "desc": row["summary_desc"],
        },
        "user_data": {k: row[k] for k in ("procesoConvenioGuid", "convenio", "documento")},
        "http_code": int(row["http_code"]),
        "total_time_ms": int(row["total_time_ms"]),
    }
    for img in ("near_img", "far_img"):
        size = [int(row[f"img_size_{img}_width"]), int(row[f"img_size_{img}_height"])]
        put(document, f"metadata.{img}.integrity_dims.results.raw_img_size", size)
        for metric in ("liqe", "topiq"):
            if float(row[f"score_{metric}_{img}"]) != -2:
                put(document, f"metadata.{img}.{metric}.results.predictions.score", float(row[f"score_{metric}_{img}"]))
        for metric in CLASSIC:
            value = float(row[f"score_{metric}_classic_metrics_{img}"])
            if value != -2:
                put(document, f"metadata.{img}.classic_metrics.results.{metric}", value)
        for model in PAD:
            if float(row[f"prob_{model}_{img}"]) != -1:
                put(document, f"metadata.{img}.{model}.results.predictions.prob", float(row[f"prob_{model}_{img}"]))
    for service in SERVICES:
        total = float(row[f"total_time_ms_{service}"])
        if total == 0:
            continue
        if service == "classic_metrics":
            put(document, "metadata.near_img.classic_metrics.results.time_ms", total)
        elif service == "geometry_check":
            put(document, "metadata.geometry_check.results.predictions.time_ms", total)
        else:
            put(document, f"metadata.near_img.{service}.results.predictions.time_ms", total)
    return document


@pytest.fixture(scope="module")
def workshop(spark, cfg, tmp_path_factory):
    with WORKSHOP_CSV.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    root = tmp_path_factory.mktemp("workshop")
    (root / "in").mkdir()
    with (root / "in" / "export.json").open("w") as out:
        for index, row in enumerate(rows):
            out.write(json.dumps(to_document(index, row)) + "\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VISIONLAKE_PII_KEY", WORKSHOP_KEY)
        fv_cfg = dataclasses.replace(cfg, face_validation=FaceValidationSettings(local_timezone="America/Bogota"))
        run(spark, fv_cfg, str(root / "in"), str(root / "lake"))
    final = DeltaTable(str(root / "lake" / "gold" / "face_validation" / "transactions_final")).to_pyarrow_table()
    by_id = {r["file_token"]: r for r in final.to_pylist()}
    return rows, final, by_id


def test_one_final_row_per_workshop_row_with_the_same_columns(workshop):
    rows, final, _ = workshop
    assert len(rows) == 4427
    assert final.num_rows == 4427
    assert final.column_names == [RENAMED.get(c, c) for c in rows[0]]


def test_identifying_labels_and_pseudonyms_correspond_one_to_one(workshop):
    rows, _, by_token = workshop
    assert len(by_token) == 4427  # file_token is unique per call: it pairs workshop rows with ours
    pairs = {column: set() for column in IDENTIFYING}
    for row in rows:
        out = matched(row, by_token)
        for column in IDENTIFYING:
            pairs[column].add((row[column], out[column]))
    for column, seen in pairs.items():
        labels = {label for label, _ in seen}
        pseudonyms = {p for _, p in seen}
        assert len(seen) == len(labels) == len(pseudonyms), column
        assert not labels & pseudonyms


def matched(row: dict[str, str], by_token: dict[str, dict]) -> dict:
    """Our row for a workshop row: its file_token's pseudonym, computed with Python's hmac."""
    return by_token[hmac.new(WORKSHOP_KEY.encode(), row["file_token"].encode(), hashlib.sha256).hexdigest()]


def test_every_value_is_reproduced(workshop):
    rows, _, by_token = workshop
    mismatches = []
    for row in rows:
        out = matched(row, by_token)
        for column, expected in row.items():
            if column in IDENTIFYING:
                continue
            actual = out[RENAMED.get(column, column)]
            if column in TEXT:
                same = actual == expected
            elif column in FLAGS:
                same = actual == (expected == "True")
            elif column in INTS:
                same = actual == int(expected)
            elif column == "date":
                same = actual == datetime.fromisoformat(expected)
            else:
                same = actual == pytest.approx(float(expected), abs=1e-6)
            if not same:
                mismatches.append((row["file_token"], column, expected, actual))
    assert mismatches[:10] == []
