from __future__ import annotations

import re
import shutil

import pytest

from visionlake.config import CONF_DIR_ENV, DEFAULT_CONF_DIR, load_config
from visionlake.errors import ConfigError


def test_load_config_local_overlays_base():
    cfg = load_config("local", environ={})
    assert cfg.spark.master == "local[*]"
    assert cfg.spark.conf["spark.sql.session.timeZone"] == "UTC"
    assert cfg.spark.conf["spark.driver.memory"] == "4g"
    assert cfg.alpr.low_confidence_threshold == 70.0
    assert cfg.storage.endpoint_url is None
    assert cfg.storage.path_style is False


def test_load_config_standard_aws_variables_set_storage():
    cfg = load_config("local", environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"})
    assert cfg.storage.endpoint_url == "http://127.0.0.1:9000"
    assert cfg.storage.region == "eu-west-1"
    assert cfg.storage.path_style is True
    assert cfg.storage.allow_http is True


def test_load_config_s3_specific_endpoint_wins():
    environ = {"AWS_ENDPOINT_URL": "http://a:1", "AWS_ENDPOINT_URL_S3": "https://b:2"}
    cfg = load_config("local", environ=environ)
    assert cfg.storage.endpoint_url == "https://b:2"
    assert cfg.storage.allow_http is False


def test_load_config_visionlake_variables_override_any_setting():
    cfg = load_config(
        "local", environ={"VISIONLAKE__ALPR__HOURLY_PRICE": "1.5", "VISIONLAKE__INGEST__READ_THREADS": "8"}
    )
    assert cfg.alpr.hourly_price == 1.5
    assert cfg.ingest.read_threads == 8


def test_load_config_unknown_environment_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"unknown environment 'nope'.*known: .*local"):
        load_config("nope", environ={})


def test_a_session_time_zone_other_than_utc_is_refused(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf)
    base = (conf / "base.yaml").read_text()
    assert "spark.sql.session.timeZone: UTC" in base
    (conf / "base.yaml").write_text(base.replace("timeZone: UTC", "timeZone: America/Bogota"))
    expected = "spark.conf spark.sql.session.timeZone must be UTC, not 'America/Bogota': the lake's dates are UTC dates"
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        load_config("local", environ={CONF_DIR_ENV: str(conf)})
    (conf / "base.yaml").write_text(base.replace("timeZone: UTC", "timeZone: Etc/UTC"))
    assert load_config("local", environ={CONF_DIR_ENV: str(conf)}).spark.conf["spark.sql.session.timeZone"] == "Etc/UTC"
    (conf / "base.yaml").write_text(base.replace("    spark.sql.session.timeZone: UTC\n", ""))
    assert load_config("local", environ={CONF_DIR_ENV: str(conf)}).spark.conf["spark.sql.session.timeZone"] == "UTC"


def test_site_time_zones_must_be_iana_zones():
    ok = load_config("local", environ={"VISIONLAKE__DETECTIONS__SITE_TIME_ZONES__SITE-07": "Europe/Berlin"})
    assert ok.detections.site_time_zones == {"site-07": "Europe/Berlin"}
    expected = (
        "detections.site_time_zones: site 'site-07' has 'Mars/Olympus', which is no IANA time zone (such as "
        "America/New_York)"
    )
    with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
        load_config("local", environ={"VISIONLAKE__DETECTIONS__SITE_TIME_ZONES__SITE-07": "Mars/Olympus"})
    # zones Python reads and Spark's JVM does not (until Dec 6 accepted here, then every run failed)
    for zone in ("posix/Europe/Berlin", "right/UTC", "localtime", "Factory"):
        with pytest.raises(ConfigError, match=f"^detections.site_time_zones: site 'site-07' has '{zone}', which is no"):
            load_config("local", environ={"VISIONLAKE__DETECTIONS__SITE_TIME_ZONES__SITE-07": zone})


def test_the_face_validation_time_zone_must_be_an_iana_zone():
    ok = load_config("local", environ={"VISIONLAKE__FACE_VALIDATION__LOCAL_TIMEZONE": "Asia/Tokyo"})
    assert ok.face_validation.local_timezone == "Asia/Tokyo"
    for zone in ("Mars/Olympus", "posix/Asia/Tokyo"):
        expected = f"face_validation.local_timezone is '{zone}', which is no IANA time zone (such as America/Bogota)"
        with pytest.raises(ConfigError, match=f"^{re.escape(expected)}$"):
            load_config("local", environ={"VISIONLAKE__FACE_VALIDATION__LOCAL_TIMEZONE": zone})


def test_load_config_unknown_setting_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown setting\\(s\\) in 'alpr': hourly_prise"):
        load_config("local", environ={"VISIONLAKE__ALPR__HOURLY_PRISE": "1"})


def test_face_validation_settings_and_their_override():
    cfg = load_config("local", environ={})
    assert cfg.face_validation.local_timezone == "America/Bogota"
    assert cfg.face_validation.suffixes == (".json", ".jsonl", ".ndjson")
    other = load_config("local", environ={"VISIONLAKE__FACE_VALIDATION__LOCAL_TIMEZONE": "America/Lima"})
    assert other.face_validation.local_timezone == "America/Lima"


def test_face_recognition_settings_read_durations_and_refuse_what_gold_cannot_use():
    from visionlake.config import BurnRule
    from visionlake.sources.face_recognition.gold import check_settings

    environ = {
        "VISIONLAKE__FACE_RECOGNITION__BURN_RULES": "[{long: 2h, short: 10m, factor: 7.5}]",
        "VISIONLAKE__FACE_RECOGNITION__K6_THRESHOLDS": '{"http_req_failed": "rate<0.01"}',  # merged with the base
    }
    settings = load_config("local", environ=environ).face_recognition
    assert settings.burn_rules == (BurnRule(7200, 600, 7.5, "page"),)
    assert settings.k6_thresholds == {"http_req_duration": ("p(95)<3000",), "http_req_failed": ("rate<0.01",)}
    assert (settings.availability_slo, settings.latency_target_ms) == (0.9999, 1000)
    refused = [
        ("VISIONLAKE__FACE_RECOGNITION__BURN_RULES", "[{long: 1 hour, short: 5m, factor: 14.4}]"),
        ("VISIONLAKE__FACE_RECOGNITION__AVAILABILITY_SLO", "99.99"),
        (
            "VISIONLAKE__FACE_RECOGNITION__BURN_RULES",
            "[{long: 1h, short: 5m, factor: 14.4}, {long: 6h, short: 30m, factor: 6}, "
            "{long: 1h, short: 5m, factor: 6, severity: ticket}]",
        ),
        ("VISIONLAKE__FACE_RECOGNITION__THRESHOLD_GRID", "[0.5, .nan]"),
    ]
    messages = []
    for name, value in refused:
        with pytest.raises(ConfigError) as raised:
            load_config("local", environ={name: value})
        messages.append(str(raised.value))
    assert messages == [
        "face_recognition.burn_rules[0].long: '1 hour' is not a duration such as 30s, 5m, 1h or 3d",
        "face_recognition.availability_slo must be a share between 0 and 1 (e.g. 0.999)",
        "face_recognition.burn_rules[2] has the windows of burn_rules[0] (3600 s and 300 s): give each rule its own"
        " pair of windows",
        "face_recognition.threshold_grid must hold finite numbers (a NaN or infinity is none)",
    ]
    # a window that is not whole 5-minute buckets loads, and is refused before anything runs
    seven = load_config(
        "local", environ={"VISIONLAKE__FACE_RECOGNITION__BURN_RULES": "[{long: 1h, short: 7m, factor: 2}]"}
    )
    with pytest.raises(ConfigError, match=r"^face_recognition: burn rule \(3600, 420, 2.0\)"):
        check_settings(seven.face_recognition)


def test_heap_cache_is_256_mb_locally_none_elsewhere_and_not_negative():
    assert load_config("local", environ={}).lake.heap_cache_mb == 256  # the local JVM runs the throughput collector
    assert load_config("minio", environ={}).lake.heap_cache_mb == 256  # so does MinIO's
    assert load_config("emr", environ={}).lake.heap_cache_mb == 0  # executors' G1 heaps
    with pytest.raises(ConfigError, match=r"^lake.heap_cache_mb must be 0 \(never\) or more, not -1$"):
        load_config("local", environ={"VISIONLAKE__LAKE__HEAP_CACHE_MB": "-1"})
