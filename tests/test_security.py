"""Secrets and personal data: no secret from the environment in any output, log row or table (``--debug``
included), and no raw identifying value in any table or file of the lake, for every source, after runs,
checks and maintenance."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from tests.conftest import VENV_BIN, write_files
from tests.sources.face_recognition.test_pipeline import RAW_IDENTIFIERS as RECOGNITION_IDENTIFIERS
from tests.sources.face_recognition.test_pipeline import write_inputs as write_recognition_inputs
from tests.sources.face_validation.test_pipeline import RAW_IDENTIFIERS, lake_text
from tests.sources.face_validation.test_pipeline import write_exports as write_hand_exports

from visionlake.lake import read

pytestmark = pytest.mark.slow
SECRETS = {
    "AWS_ACCESS_KEY_ID": "FAKEKEYIDVISIONLAKETEST",
    "AWS_SECRET_ACCESS_KEY": "s3cr3t-must-never-be-logged-9f8e7d",
    "VISIONLAKE_PII_KEY": "77aa9f8e" * 8,  # 64 hex characters, as a key must be,
}
EMAIL = "ana.maria@example.com"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "visionlake"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **SECRETS, **(env or {})},
    )


def _extra_export(path) -> None:
    """Documents with personal data where the allowlist does not expect it."""
    doc = {
        "_id": {"$oid": "5" * 24},
        "user_name": "veriFace",
        "file_token": "tokX999999",
        "date": "2025-01-12T10:00:00-05:00",
        "summary": {"status": "ok", "code": "1400", "desc": "antispoofing OK"},
        "user_data": {"procesoConvenioGuid": "4040404040_2025-01-12", "convenio": "c", "documento": "4040404040"},
        "contact": {"email": EMAIL},  # a new field: drift records its path and type, never its value
        EMAIL: {"consent": True},  # a key that is itself personal data: drift records its shape
    }
    broken = json.dumps({**doc, "_id": {"$oid": "6" * 24}, "total_time_ms": float("nan")})  # quarantined
    truncated = json.dumps({**doc, "_id": {"$oid": "7" * 24}})[:150]  # quarantined, holds the document number
    # Extended JSON fields take any object: an e-mail as the id, a device next to the date
    odd = json.dumps({**doc, "_id": EMAIL, "date": {"$date": "2025-01-12T15:00:00Z", "device": EMAIL}})
    write_files(path, {"extra.json": "\n".join([json.dumps(doc), broken, truncated, odd]) + "\n"})


def test_no_secret_and_no_raw_identifying_value_anywhere(tmp_path):
    write_hand_exports(tmp_path / "faces")
    _extra_export(tmp_path / "faces")
    write_files(tmp_path / "plates", {"cam-1/2022-05-02/0_05.02.2022.07.00.00.000000.json": '{"frame_id": 0}'})
    write_recognition_inputs(tmp_path / "recognition")  # names, e-mails, IPs and face embeddings in the logs
    lake = str(tmp_path / "lake")
    outputs = []
    feeds = (("face_validation", "faces"), ("alpr", "plates"), ("face_recognition", "recognition"))
    for source, feed in ((source, tmp_path / folder) for source, folder in feeds):
        result = _cli("--debug", "run", source, "--input", str(feed), "--lake", lake)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(result.stdout + result.stderr)
    checked = _cli("--debug", "check", "--lake", lake)
    no_minimum = {"VISIONLAKE__LAKE__MIN_RETAIN_HOURS": "0"}
    maintained = _cli("maintain", "--lake", lake, "--retain-hours", "0", env=no_minimum)
    assert maintained.returncode == 0, maintained.stderr
    # a failure whose message would carry a secret (a path that contains it) prints it masked
    leaky = _cli("run", "alpr", "--input", str(tmp_path / SECRETS["AWS_SECRET_ACCESS_KEY"]), "--lake", lake)
    assert leaky.returncode == 1
    assert leaky.stderr.strip() == f"visionlake: error: input folder {tmp_path / '***'} does not exist"
    outputs += [checked.stdout + checked.stderr, maintained.stdout + maintained.stderr, leaky.stdout + leaky.stderr]
    everything = lake_text(tmp_path / "lake")
    assert "new field: contact" in outputs[0]
    drift = read(f"{lake}/_quality/schema_drift").to_pylist()
    assert [(r["field_path"], r["json_type"]) for r in drift] == [("<e-mail>", "object"), ("contact", "object")]
    for name, secret in SECRETS.items():
        assert not any(secret in text for text in outputs), name
        assert secret not in everything, name
    runs = read(f"{lake}/_runs").to_pylist()
    assert any("***" in (r["message"] or "") for r in runs)  # the failed run is recorded, masked
    found = [value for value in [*RAW_IDENTIFIERS, *RECOGNITION_IDENTIFIERS, EMAIL] if value in everything]
    assert found == []
    assert not any(EMAIL in text for text in outputs)  # nor in what the commands print
