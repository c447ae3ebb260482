from __future__ import annotations

import os

import pytest

from visionlake.config import StorageSettings
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
        endpoint_url="http://127.0.0.1:9000", region="eu-west-1", path_style=True, allow_http=True
    )
    assert st.delta_storage_options(storage) == {
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
    }
    conf = st.s3a_conf(storage)
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert not any("secret" in key.lower() or "access.key" in key.lower() for key in conf)
