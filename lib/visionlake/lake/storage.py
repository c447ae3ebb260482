"""Locations and object IO: local paths and ``s3a://`` URIs behind one set of functions.

A location is either a local path (kept absolute) or an S3 URI. Spark sees S3 as ``s3a://``, delta-rs
as ``s3://``, boto3 as (bucket, key); these helpers translate, and build each client from one
:class:`~visionlake.config.StorageSettings` so that all three talk to the same endpoint.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

from visionlake.config import StorageSettings

S3_SCHEMES = ("s3", "s3a", "s3n")


def is_s3(location: str) -> bool:
    return urlparse(location).scheme in S3_SCHEMES


def normalize(location: str) -> str:
    """An absolute local path, or ``s3a://bucket/key`` with no trailing slash."""
    parsed = urlparse(location)
    if parsed.scheme in S3_SCHEMES:
        if not parsed.netloc:
            raise ValueError(f"{location}: an S3 URI needs a bucket (s3a://bucket/prefix)")
        key = parsed.path.strip("/")
        return f"s3a://{parsed.netloc}/{key}" if key else f"s3a://{parsed.netloc}"
    if parsed.scheme == "file":
        return os.path.abspath(parsed.path)
    if parsed.scheme:
        raise ValueError(f"{location}: unsupported scheme '{parsed.scheme}' (use a local path or s3a://)")
    return os.path.abspath(location)


def join(base: str, *parts: str) -> str:
    if is_s3(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])
    return os.path.join(base, *parts)


def split_s3(location: str) -> tuple[str, str]:
    """(bucket, key) of an S3 URI; the key has no leading slash."""
    parsed = urlparse(location)
    return parsed.netloc, parsed.path.lstrip("/")


def spark_uri(location: str) -> str:
    """The form Spark's Hadoop file systems expect."""
    if is_s3(location):
        bucket, key = split_s3(location)
        return f"s3a://{bucket}/{key}"
    return location


def object_store_uri(location: str) -> str:
    """The form delta-rs expects (``s3://``)."""
    if is_s3(location):
        bucket, key = split_s3(location)
        return f"s3://{bucket}/{key}"
    return location


def relative_to(root: str, location: str) -> str:
    """``location`` relative to ``root``, with forward slashes."""
    prefix = root.rstrip("/") + "/"
    if not location.startswith(prefix):
        raise ValueError(f"{location} is not under {root}")
    return location[len(prefix) :]


def s3_client(storage: StorageSettings, max_pool_connections: int = 10):
    """A boto3 S3 client for these settings; credentials come from the environment or instance role."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=storage.endpoint_url,
        region_name=storage.region,
        config=BotoConfig(
            s3={"addressing_style": "path" if storage.path_style else "auto"},
            max_pool_connections=max_pool_connections,
            retries={"max_attempts": 5, "mode": "adaptive"},
        ),
    )


def open_input(location: str, storage: StorageSettings) -> BinaryIO:
    """A seekable binary reader of a local file or an S3 object (pyarrow's S3 client: ranged GETs)."""
    if not is_s3(location):
        return open(location, "rb")
    from pyarrow import fs

    options = {"region": storage.region}
    if storage.endpoint_url:
        endpoint = urlparse(storage.endpoint_url)
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
    if storage.path_style:
        options["force_virtual_addressing"] = False
    bucket, key = split_s3(location)
    return fs.S3FileSystem(**options).open_input_file(f"{bucket}/{key}")


def delta_storage_options(storage: StorageSettings) -> dict[str, str]:
    """delta-rs ``storage_options`` for these settings (no credentials: delta-rs reads the environment)."""
    options = {"AWS_REGION": storage.region}
    if storage.endpoint_url:
        options["AWS_ENDPOINT_URL"] = storage.endpoint_url
    if storage.allow_http:
        options["AWS_ALLOW_HTTP"] = "true"
    if storage.path_style:
        options["AWS_VIRTUAL_HOSTED_STYLE_REQUEST"] = "false"
    return options


def s3a_conf(storage: StorageSettings) -> dict[str, str]:
    """Hadoop S3A settings (as ``spark.hadoop.*``) for these settings."""
    conf = {
        "spark.hadoop.fs.s3a.endpoint.region": storage.region,
        "spark.hadoop.fs.s3a.fast.upload": "true",
        "spark.hadoop.fs.s3a.connection.maximum": "200",
        "spark.hadoop.fs.s3a.threads.max": "64",
    }
    if storage.endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = storage.endpoint_url
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(not storage.allow_http).lower()
        conf["spark.hadoop.fs.s3a.change.detection.mode"] = "none"
    conf["spark.hadoop.fs.s3a.path.style.access"] = str(storage.path_style).lower()
    return conf


def write_bytes(location: str, data: bytes, storage: StorageSettings, client=None) -> None:
    if is_s3(location):
        bucket, key = split_s3(location)
        (client or s3_client(storage)).put_object(Bucket=bucket, Key=key, Body=data)
        return
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    Path(location).write_bytes(data)


def upload_file(local_path: str, location: str, storage: StorageSettings, client=None) -> None:
    """Put a finished local file at ``location`` (a move for local paths, a multipart upload for S3)."""
    if is_s3(location):
        bucket, key = split_s3(location)
        (client or s3_client(storage)).upload_file(local_path, bucket, key)
        os.remove(local_path)
        return
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    shutil.move(local_path, location)


def write_many(
    root: str, files: Iterable[tuple[str, bytes, float | None]], storage: StorageSettings, threads: int = 32
) -> int:
    """Write (relative path, body, mtime) triples under ``root``; returns how many were written.

    Local files get the given modification time; S3 objects get the time of the upload.
    """
    root = normalize(root)
    if not is_s3(root):
        made: set[str] = set()
        count = 0
        for relative, body, mtime in files:
            path = os.path.join(root, relative)
            folder = os.path.dirname(path)
            if folder not in made:
                os.makedirs(folder, exist_ok=True)
                made.add(folder)
            with open(path, "wb") as handle:
                handle.write(body)
            if mtime is not None:
                os.utime(path, (mtime, mtime))
            count += 1
        return count
    client = s3_client(storage, max_pool_connections=threads)
    bucket, prefix = split_s3(root)

    def put(item: tuple[str, bytes, float | None]) -> None:
        key = f"{prefix}/{item[0]}" if prefix else item[0]
        client.put_object(Bucket=bucket, Key=key, Body=item[1])

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(1 for _ in pool.map(put, files))
