from __future__ import annotations

import os

import pytest

from visionlake.config import StorageSettings
from visionlake.errors import EndpointError
from visionlake.lake import storage as st
from visionlake.lake import table_location


def test_normalize_local_and_s3():
    assert st.normalize("s3://bucket/a/b/") == "s3a://bucket/a/b"
    assert st.normalize("s3a://bucket") == "s3a://bucket"
    assert st.normalize("file:///tmp/x") == "/tmp/x"
    assert st.normalize("rel/dir") == os.path.join(os.getcwd(), "rel/dir")


def test_normalize_rejects_unknown_schemes_and_bucketless_uris():
    with pytest.raises(ValueError, match="unsupported scheme 'gs'"):
        st.normalize("gs://b/x")
    with pytest.raises(ValueError, match="needs a bucket"):
        st.normalize("s3a:///x")


def test_uri_forms_for_each_client():
    assert st.object_store_uri("s3a://b/k") == "s3://b/k"
    assert st.spark_uri("s3://b/k") == "s3a://b/k"
    assert st.split_s3("s3a://b/k/x.json") == ("b", "k/x.json")
    assert st.relative_to("s3a://b/k", "s3a://b/k/cam/x.json") == "cam/x.json"
    assert table_location("s3a://lake/", "silver", "alpr", "plates") == "s3a://lake/silver/alpr/plates"
    assert table_location("/l", "quarantine", "alpr") == "/l/quarantine/alpr"


def test_delta_and_s3a_settings_follow_one_storage_config():
    storage = StorageSettings(
        endpoint_url="http://127.0.0.1:9000", region="eu-west-1", path_style=True, allow_http=True, retry_seconds=60
    )
    assert st.delta_storage_options(storage) == {
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        "max_retries": "10",
        "retry_timeout": "60s",
    }
    conf = st.s3a_conf(storage)
    assert (conf["spark.hadoop.fs.s3a.retry.limit"], conf["spark.hadoop.fs.s3a.retry.interval"]) == ("15", "1s")
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert not any("secret" in key.lower() or "access.key" in key.lower() for key in conf)


def test_table_and_source_names_cannot_leave_the_lake():
    for name in ("../etc", "a/b", "..", "Frames", "x y"):
        with pytest.raises(ValueError, match="is not a table or source name"):
            table_location("/l", "silver", "alpr", name)
        with pytest.raises(ValueError, match="is not a table or source name"):
            table_location("/l", "silver", name, "frames")


class _Store:
    """Stands in for a client call: fails ``failures`` times with ``error``, then answers."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "body"


def _client_error(code: str, status: int):
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Get"
    )


def test_retrying_retries_failures_of_the_store_then_answers():
    storage = StorageSettings(retry_seconds=30)
    slow_down = _Store(3, _client_error("SlowDown", 503))
    assert st.retrying(slow_down, storage, "s3a://b/k") == "body"
    assert slow_down.calls == 4
    reset = _Store(2, ConnectionResetError(104, "Connection reset by peer"))
    assert st.retrying(reset, storage, "s3a://b/k") == "body"


def test_retrying_gives_up_after_retry_seconds_naming_the_endpoint():
    storage = StorageSettings(endpoint_url="http://127.0.0.1:9", retry_seconds=0.5)
    down = _Store(10**6, _client_error("InternalError", 500))
    with pytest.raises(EndpointError, match=r"object storage at http://127.0.0.1:9 kept failing for 0.5 s .*s3a://b/k"):
        st.retrying(down, storage, "s3a://b/k")
    assert 2 <= down.calls <= 6


def test_retrying_reports_a_missing_object_and_access_denied_at_once():
    storage = StorageSettings(retry_seconds=30)
    missing = _Store(1, _client_error("NoSuchKey", 404))
    with pytest.raises(FileNotFoundError, match="s3a://b/k: no such object"):
        st.retrying(missing, storage, "s3a://b/k")
    denied = _Store(1, _client_error("AccessDenied", 403))
    with pytest.raises(PermissionError, match=r"access denied \(AccessDenied\)"):
        st.retrying(denied, storage, "s3a://b/k")
    assert (missing.calls, denied.calls) == (1, 1)
