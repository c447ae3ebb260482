"""face_validation end to end: a dozen hand-written documents in both export forms, the real document,
the PII scan of every file under the lake, and a second run that adds nothing."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.conftest import SHARED

from visionlake.config import FaceValidationSettings
from visionlake.lake import read
from visionlake.sources.face_validation.pipeline import run
from visionlake.sources.face_validation.schema import API_CALLS

KEY = "7e" * 32  # 64 hex characters, as VISIONLAKE_PII_KEY must be
SEED_DOCUMENT = SHARED / "data" / "face-validation-seed" / "raw_document_redacted.json"


def pseudonym(value: str) -> str:
    """The expected pseudonym, computed with Python's hmac (independent of the Spark expression)."""
    return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def doc(oid, process, client, when, status, code, desc, token, document="1234567890", far=True, **extra) -> dict:
    """A small liveness document; identifying values as in real data (trazabilidad, azure_blob)."""
    near = {
        "integrity_dims": {"msg": "integrity and dimensions OK", "code": "0000",
                           "results": {"file_ext": ".jpg", "raw_img_size": [590, 896], "resized": False}},
        "accessory_detector": {"msg": "accesories OK", "code": "0200", "results": {"predictions": {
            "accessories": {"face": {"bbox": [0.5, 0.5, 0.6, 0.5], "confidence": 0.7}},
            "time_ms": 30, "queue_time_ms": 10}}},
        "face_detector": {"msg": "face OK", "code": "0100", "results": {"predictions": {
            "faces": {"bboxes": [[0, 0, 1, 0.9]], "landmarks": [[[0.41, 0.52, -0.01], [0.43, 0.55, 0.02]]],
                      "bboxes_raw": [[0.2, 0.3, 0.6, 0.5]]},
            "time_ms": 40, "queue_time_ms": 10}}},
    }  # fmt: skip
    body = {
        "_id": {"$oid": oid},
        "api_hash": "02bc5e7",
        "user_name": "veriFace",
        "service": "main",
        "file_token": token,
        "date": when,
        "summary": {"status": status, "code": code, "desc": desc},
        "metadata": {"near_img": near, **({"far_img": near} if far else {})},
        "user_data": {
            "trazabilidad": {"NumDoc": document, "Device": "Pixel 7a", "Ip": "181.49.12.7",
                             "Latitud": "4.6097", "Longitud": "-74.0817", "ProcessGuid": process},
            "procesoConvenioGuid": process,
            "convenio": client,
            "documento": document,
        },
        "http_code": 200,
        "total_time_ms": 1000,
        "azure_blob": {"near_img": {"account_name": "acmestorage", "container_name": "2025-01",
                                    "path": f"{token}/{token}~near.png"}},
    }  # fmt: skip
    body.update(extra)
    return body


CLIENT_A = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
CLIENT_B = "7A1B2C3D-0000-4000-8000-00000000000B"
P1, P2, P3, P4 = ("1010101010_2025-01-10_10:00:00", "2020202020_2025-01-10_11:00:00",
                  "3030303030_2025-01-10_10:00:00", "4040404040_2025-01-10_12:00:00")  # fmt: skip
D1 = doc("a" * 24, P1, CLIENT_A, "2025-01-10T10:00:00.000000-05:00", "error", "0302", "blur/haze", "tokA000001",
         "1010101010")  # fmt: skip
D2 = doc("b" * 24, P1, CLIENT_A, "2025-01-10T10:01:00.000000-05:00", "ok", "1400", "antispoofing OK", "tokA000002",
         "1010101010")  # fmt: skip
D3 = doc("c" * 24, P2, CLIENT_A, "2025-01-10T11:00:00.000000-05:00", "ok", "1400", "antispoofing OK", "tokA000003",
         "2020202020")  # fmt: skip
D4 = doc("d" * 24, P3, CLIENT_B, "2025-01-10T10:00:00.000000-05:00", "error", "0202", "hand", "tokB000004",
         "3030303030", far=False)  # fmt: skip
D5 = doc("e" * 24, P3, CLIENT_B, "2025-01-10T10:02:00.000000-05:00", "error", "3002", "geometry fail", "tokB000005",
         "3030303030")  # fmt: skip
D6 = doc("f" * 24, P3, CLIENT_B, "2025-01-10T10:04:00.000000-05:00", "error", "1402", "spoof image", "tokB000006",
         "3030303030")  # fmt: skip
# Extended JSON date form (UTC, milliseconds): 12:00:00.250 in Bogota.
D7 = doc("0" * 24, P4, CLIENT_B, {"$date": "2025-01-10T17:00:00.250Z"}, "ok", "1400", "antispoofing OK", "tokB000007",
         "4040404040")  # fmt: skip
MISSING_DATE = {k: v for k, v in doc("1" * 24, P4, CLIENT_B, "x", "ok", "1400", "antispoofing OK", "tokX000009",
                                     "4040404040").items() if k != "date"}  # fmt: skip
MISSING_SUMMARY = {k: v for k, v in doc("2" * 24, P4, CLIENT_B, "2025-01-10T12:30:00-05:00", "ok", "1400", "x",
                                        "tokX000010", "4040404040").items() if k != "summary"}  # fmt: skip
CONFLICT = {**D1, "total_time_ms": 999}  # same _id as D1, different content

RAW_IDENTIFIERS = [
    "1010101010", "2020202020", "3030303030", "4040404040", CLIENT_A, CLIENT_B, CLIENT_A.lower(),
    "tokA000001", "tokB000006", "Pixel 7a", "181.49.12.7", "4.6097", "-74.0817", "acmestorage", "veriFace",
    "_2025-01-10_10:00:00",
]  # fmt: skip


def write_exports(folder: Path) -> None:
    """JSON Lines: D1-D4, a truncated line, a document without date. --jsonArray: D5-D7, no summary,
    an exact copy of D3 and a different document with D1's _id."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(d) for d in (D1, D2, D3, D4)]
    lines.insert(2, json.dumps(D5)[:300])  # truncated
    lines.append(json.dumps(MISSING_DATE))
    (folder / "export-2025-01-a.json").write_text("\n".join(lines) + "\n")
    array = [D5, D6, D7, MISSING_SUMMARY, D3, CONFLICT]
    (folder / "export-2025-01-b.json").write_text("[" + ",".join(json.dumps(d) for d in array) + "]")
    (folder / "notes.txt").write_text("not an export")


def table(lake: Path, name: str) -> list[dict]:
    return read(str(lake / name)).to_pylist()


def lake_text(lake: Path) -> str:
    """Everything under the lake as text: every Parquet value (decompressed) and every other file."""
    parts = []
    for path in sorted(lake.rglob("*")):
        if path.is_file() and path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        elif path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def fv_cfg(cfg):
    return dataclasses.replace(cfg, face_validation=FaceValidationSettings(client_names={CLIENT_A: "Client A"}))


@pytest.fixture(scope="module")
def hand_lake(spark, fv_cfg, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VISIONLAKE_PII_KEY", KEY)
        root = tmp_path_factory.mktemp("fv")
        write_exports(root / "in")
        first = run(spark, fv_cfg, str(root / "in"), str(root / "lake"))
        second = run(spark, fv_cfg, str(root / "in"), str(root / "lake"))
    return root / "lake", first, second


def test_every_document_is_in_silver_or_quarantine(hand_lake):
    _, first, _ = hand_lake
    assert (first.files_listed, first.files_new, first.files_skipped) == (2, 2, 1)
    assert first.rows_out["bronze/documents"] == 12
    assert first.rows_out["silver/api_calls"] == 7
    assert dict(first.quarantined) == {
        "invalid_json": 1,
        "missing_field": 2,
        "duplicate_id": 1,
        "conflicting_duplicate_id": 1,
    }
    assert first.check == "bronze.documents 12 = silver.api_calls 7 + quarantine 5"


def test_quarantine_rows_name_the_reason_and_the_place(hand_lake):
    lake, _, _ = hand_lake
    rows = {(Path(r["source_path"]).name, r["reason"]): r for r in table(lake, "quarantine/face_validation")}
    a, b = "export-2025-01-a.json", "export-2025-01-b.json"
    assert set(rows) == {
        (a, "invalid_json"),
        (a, "missing_field"),
        (b, "missing_field"),
        (b, "duplicate_id"),
        (b, "conflicting_duplicate_id"),
    }
    assert rows[(a, "missing_field")]["detail"].endswith(": missing: date")
    assert rows[(b, "missing_field")]["detail"].endswith(": missing: summary, summary.code, summary.status")
    assert rows[(a, "invalid_json")]["raw"] is None
    d3_offset = sum(len(line) + 1 for line in (json.dumps(D1), json.dumps(D2), json.dumps(D5)[:300]))
    assert rows[(b, "duplicate_id")]["detail"].endswith(
        f"same _id and content as {rows[(a, 'invalid_json')]['source_path']} at byte {d3_offset}"
    )
    assert rows[(b, "conflicting_duplicate_id")]["detail"].endswith(f"{a} at byte 0, different content")


def test_api_calls_columns_and_values(hand_lake):
    lake, _, _ = hand_lake
    calls = {r["summary_code_raw"] + r["date"].isoformat(): r for r in table(lake, "silver/face_validation/api_calls")}
    assert len(calls) == 7
    assert list(next(iter(calls.values()))) == API_CALLS.fieldNames()
    # the 79 staging columns (their text `date` now a UTC timestamp), then summary_code_raw, summary_module, event_date
    assert len(API_CALLS.fieldNames()) == 79 + 3
    first = calls["03022025-01-10T15:00:00+00:00"]
    assert first["summary_code"] == 302
    assert first["summary_module"] == "quality"
    assert first["event_date"] == date(2025, 1, 10)
    assert first["procesoConvenioGuid"] == pseudonym(P1)
    assert first["convenio"] == pseudonym(CLIENT_A)
    assert first["documento"] == pseudonym("1010101010")
    assert first["user_name"] == pseudonym("veriFace")
    assert first["file_token"] == pseudonym("tokA000001")
    assert (first["img_size_near_img_width"], first["img_size_near_img_height"]) == (590, 896)
    assert (first["time_ms_face_detector_far_img"], first["queue_time_ms_accessory_detector_near_img"]) == (40.0, 10.0)
    assert first["score_liqe_near_img"] is None
    hand = calls["02022025-01-10T15:00:00+00:00"]
    assert (hand["summary_module"], hand["img_size_far_img_width"], hand["time_ms_face_detector_far_img"]) == (
        "accessory_detector",
        None,
        None,
    )
    assert calls["14002025-01-10T17:00:00.250000+00:00"]["date"] == datetime(2025, 1, 10, 17, 0, 0, 250000, tzinfo=UTC)


def test_gold_tables(hand_lake):
    lake, _, _ = hand_lake
    acceptance = {r["convenio"]: r for r in table(lake, "gold/face_validation/client_acceptance_daily")}
    assert acceptance[pseudonym(CLIENT_A)] | {"convenio": "A"} == {
        "convenio": "A",
        "client_name": "Client A",  # named in the config by its GUID
        "local_date": date(2025, 1, 10),
        "processes": 2,
        "accepted": 2,
        "acceptance_rate": 1.0,
        "first_attempt_acceptance_rate": 0.5,
        "attempts": 3,
        "attempts_per_process": 1.5,
    }
    b = acceptance[pseudonym(CLIENT_B)]
    assert b["client_name"] == "client-" + pseudonym(CLIENT_B)[:8]
    assert (b["processes"], b["accepted"], b["acceptance_rate"], b["attempts"], b["attempts_per_process"]) == (
        2,
        1,
        0.5,
        4,
        2.0,
    )
    final = table(lake, "gold/face_validation/transactions_final")
    assert sorted((r["procesoConvenioGuid"], r["summary_code"]) for r in final) == sorted(
        [(pseudonym(P1), 1400), (pseudonym(P2), 1400), (pseudonym(P3), 1402), (pseudonym(P4), 1400)]
    )
    transitions = {
        (r["from_summary_desc"], r["to_summary_desc"]): r["transitions"]
        for r in table(lake, "gold/face_validation/retry_transitions")
    }
    assert transitions == {
        ("blur/haze", "antispoofing OK"): 1,
        ("antispoofing OK", None): 3,
        ("hand", "geometry fail"): 1,
        ("geometry fail", "spoof image"): 1,
        ("spoof image", None): 1,
    }
    assert len(table(lake, "gold/face_validation/transactions")) == 7
    codes = {
        (r["summary_code"], r["image_quality_near_img"]): r["calls"]
        for r in table(lake, "gold/face_validation/response_codes")
    }
    assert codes == {(1400, "SD"): 3, (302, "SD"): 1, (202, "SD"): 1, (3002, "SD"): 1, (1402, "SD"): 1}
    latency = {r["service"]: r for r in table(lake, "gold/face_validation/microservice_latency_daily")}
    # accessory ran in all 7 calls: 30 + 10 near, plus 30 + 10 far except for the hand call (no far image)
    assert (latency["accessory_detector"]["calls"], latency["accessory_detector"]["mean_ms"]) == (7, (6 * 80 + 40) / 7)
    assert latency["other"]["calls"] == 7


def test_second_run_adds_nothing(hand_lake):
    lake, _, second = hand_lake
    assert (second.files_new, second.files_listed) == (0, 2)
    assert all(rows == 0 for rows in second.rows_out.values())
    assert len(table(lake, "bronze/face_validation/documents")) == 12
    assert second.check == "bronze.documents 12 = silver.api_calls 7 + quarantine 5"


def test_no_raw_identifying_value_is_anywhere_in_the_lake(hand_lake):
    lake, _, _ = hand_lake
    text = lake_text(lake)
    assert pseudonym(CLIENT_A) in text  # the scan does see the tables' values
    found = [value for value in RAW_IDENTIFIERS if value in text]
    assert found == []


def test_the_real_document_end_to_end(spark, fv_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLAKE_PII_KEY", KEY)
    shutil.copy(SEED_DOCUMENT, tmp_path / "raw_document_redacted.json")
    summary = run(spark, fv_cfg, str(tmp_path), str(tmp_path / "lake"))
    assert summary.check == "bronze.documents 1 = silver.api_calls 1 + quarantine 0"
    (row,) = table(tmp_path / "lake", "gold/face_validation/transactions")
    # values read off the document by hand
    assert (row["summary_code"], row["summary_desc"], row["total_time_ms"]) == (1402, "spoof image", 2729)
    assert row["date"] == datetime(2024, 9, 12, 12, 13, 3, 135718, tzinfo=UTC)
    assert (row["date_day_of_week"], row["date_hour"], row["date_minute"]) == ("Thursday", 7, 13)
    assert (row["image_quality_near_img"], row["aspect_ratio_far_img"]) == ("FULLHD", "PORTRAIT")
    assert row["total_time_ms_liqe"] == 113 + 135 + 5 + 2
    assert row["total_time_ms_geometry_check"] == 385 + 1
    assert row["total_time_ms_as_35_selfies"] == 34 + 19  # the far image stopped before antispoofing
    assert row["prob_as_35_selfies_far_img"] == -1.0
    assert row["convenio"] == pseudonym("00000000-0000-4000-8000-000000000001")
    text = lake_text(tmp_path / "lake")
    for raw in ("9000000001", "00000000-0000-4000-8000-000000000001", "-4hX-fjK8Q", "storageaccount", "Phone model",
                "00000000-0000-4000-8000-0000000000FF", "veriFace"):  # fmt: skip
        assert raw not in text


def test_a_later_export_that_overlaps_adds_only_new_calls(spark, fv_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLAKE_PII_KEY", KEY)
    write_exports(tmp_path / "in")
    run(spark, fv_cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    d8 = doc("9" * 24, P4, CLIENT_B, "2025-02-03T09:00:00-05:00", "error", "0406", "non-frontal", "tokB000008",
             "4040404040")  # fmt: skip
    (tmp_path / "in" / "export-2025-02.json").write_text(json.dumps(D2) + "\n" + json.dumps(d8) + "\n")
    later = run(spark, fv_cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    assert later.files_new == 1
    assert (later.rows_out["bronze/documents"], later.rows_out["silver/api_calls"]) == (2, 1)
    assert dict(later.quarantined) == {"duplicate_id": 1}
    assert later.check == "bronze.documents 14 = silver.api_calls 8 + quarantine 6"
    assert len(table(tmp_path / "lake", "gold/face_validation/transactions")) == 8
    final = {
        r["procesoConvenioGuid"]: r["summary_code"]
        for r in table(tmp_path / "lake", "gold/face_validation/transactions_final")
    }
    assert final[pseudonym(P4)] == 406  # P4's last attempt is now the February one
    # 02:00 UTC on 1 Jan 1900 is 1899 in Bogota: quarantined; its corrected export is the _id's first usable
    # document (until Dec 6 a conflicting duplicate of the quarantined one, and lost)
    early = doc("7" * 24, P4, CLIENT_B, "1900-01-01T02:00:00Z", "ok", "1400", "antispoofing OK", "tokB000009", "1")
    (tmp_path / "in" / "export-2025-03.json").write_text(json.dumps(early) + "\n")
    assert dict(run(spark, fv_cfg, str(tmp_path / "in"), str(tmp_path / "lake")).quarantined) == {"invalid_date": 1}
    fixed = {**early, "date": "2025-03-01T09:00:00-05:00"}
    (tmp_path / "in" / "export-2025-04.json").write_text(json.dumps(fixed) + "\n")
    corrected = run(spark, fv_cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    assert (dict(corrected.quarantined), corrected.rows_out["silver/api_calls"]) == ({}, 1)


def test_a_run_that_dies_in_silver_is_completed_by_the_next_without_duplicates(spark, fv_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONLAKE_PII_KEY", KEY)
    write_exports(tmp_path / "in")

    def crash(_):
        raise RuntimeError("killed after the quarantine commit")

    with monkeypatch.context() as patched:
        patched.setattr("visionlake.sources.face_validation.silver.build_api_calls", crash)
        with pytest.raises(RuntimeError, match="killed after the quarantine commit"):
            run(spark, fv_cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    assert len(table(tmp_path, "lake/quarantine/face_validation")) == 5
    runs = table(tmp_path, "lake/_runs")
    assert [(r["stage"], r["status"]) for r in runs] == [("bronze", "ok"), ("silver", "failed")]
    again = run(spark, fv_cfg, str(tmp_path / "in"), str(tmp_path / "lake"))
    assert again.files_new == 0
    assert again.rows_out["silver/api_calls"] == 7
    assert "quarantine/face_validation" not in again.rows_out  # its txn says it already consumed that bronze
    assert again.check == "bronze.documents 12 = silver.api_calls 7 + quarantine 5"
