"""Locations and object IO: local paths and ``s3a://`` URIs behind one set of functions.

A location is either a local path (kept absolute) or an S3 URI. Spark sees S3 as ``s3a://``, delta-rs
as ``s3://``, boto3 as (bucket, key); these helpers translate, and build each client from one
:class:`~visionlake.config.StorageSettings` so that all three talk to the same endpoint.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from visionlake.config import StorageSettings
from visionlake.errors import EndpointError

MissingObjectError = FileNotFoundError  # an object that is not there (S3 NoSuchKey) is reported like a missing file

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


def endpoint_name(storage: StorageSettings) -> str:
    return storage.endpoint_url or f"AWS S3 ({storage.region})"


_MISSING = ("NoSuchKey", "404", "NotFound", "NoSuchBucket")
_DENIED = ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken")


# How delta-rs (object_store) and pyarrow report a store that failed after their own retries.
_STORE_FAILURES = (
    "Generic S3 error",
    "error sending request",
    "onnection reset",
    "onnection closed",
    "onnection refused",
    "roken pipe",
    "SlowDown",
    "Service Unavailable",
    "InternalError",
    "Internal Server Error",
    "timed out",
    "dispatch failure",
    "AWS Error NETWORK_CONNECTION",
    "AWS Error SLOW_DOWN",
    "AWS Error INTERNAL_FAILURE",
    "AWS Error SERVICE_UNAVAILABLE",
)


def _transient(exc: Exception) -> bool:
    """An error of the store itself (worth retrying), as opposed to an answer about the object."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or status == 429 or error.get("Code") in ("SlowDown", "Throttling", "RequestTimeout")
    if isinstance(exc, BotoCoreError | ConnectionError | TimeoutError):
        return True
    # delta-rs raises DeltaError (or OSError for some IO); never a commit conflict, which has its own type
    if type(exc).__name__ == "CommitFailedError" or isinstance(exc, FileNotFoundError | PermissionError):
        return False
    return any(text in str(exc) for text in _STORE_FAILURES)


def transient(exc: Exception) -> bool:
    """Whether ``exc`` is a failure of the store (resets, 5xx, throttling) that is worth retrying."""
    return _transient(exc)


def store_failure(exc: Exception) -> bool:
    """A pyarrow S3 error of the store itself (it retried already), not an answer about the object."""
    return (
        isinstance(exc, OSError)
        and not isinstance(exc, FileNotFoundError | PermissionError)
        and ("AWS Error" in str(exc) or "Connection" in str(exc) or "curl" in str(exc).lower())
    )


def endpoint_error(exc: Exception, storage: StorageSettings, what: str) -> EndpointError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return EndpointError(f"object storage at {endpoint_name(storage)} failed while reading {what}: {reason}")


def retrying(call, storage: StorageSettings, what: str):
    """``call()``, retried with exponential backoff while the store fails (resets, 5xx, throttling, no route)
    for up to ``storage.retry_seconds``.

    Raises:
        FileNotFoundError: the object does not exist.
        PermissionError: access is denied.
        EndpointError: the store kept failing; the message names the endpoint and ``what`` was asked.
    """
    from botocore.exceptions import ClientError

    deadline = time.monotonic() + storage.retry_seconds
    delay = 0.1
    while True:
        try:
            return call()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code in _MISSING:
                raise FileNotFoundError(f"{what}: no such object") from exc
            if code in _DENIED:
                raise PermissionError(f"{what}: access denied ({code})") from exc
            if not _transient(exc):
                raise
            failure = exc
        except Exception as exc:
            if not _transient(exc):
                raise
            failure = exc
        if time.monotonic() + delay > deadline:
            reason = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
            raise EndpointError(
                f"object storage at {endpoint_name(storage)} kept failing for {storage.retry_seconds:g} s "
                f"(storage.retry_seconds) while reading or writing {what}: {reason}"
            ) from failure
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


def get_object(client, location: str, storage: StorageSettings) -> tuple[bytes, float]:
    """(body, last-modified epoch seconds) of an S3 object, retried while the store fails (see :func:`retrying`)."""
    bucket, key = split_s3(location)

    def call() -> tuple[bytes, float]:
        answer = client.get_object(Bucket=bucket, Key=key)
        return answer["Body"].read(), answer["LastModified"].timestamp()

    return retrying(call, storage, location)


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
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
        ),
    )


@lru_cache(maxsize=8)
def arrow_filesystem(storage: StorageSettings):
    """pyarrow's native S3 file system for these settings (C++, no Python callbacks: safe at interpreter exit)."""
    from pyarrow import fs

    options = {"region": storage.region, "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=10)}
    if storage.endpoint_url:
        endpoint = urlparse(storage.endpoint_url)
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
    if storage.path_style:
        options["force_virtual_addressing"] = False
    return fs.S3FileSystem(**options)


def filesystem_path(location: str, storage: StorageSettings):
    """(pyarrow file system, path on it) for a local path, ``file://`` URI or S3 URI."""
    from pyarrow import fs

    if is_s3(location):
        bucket, key = split_s3(location)
        return arrow_filesystem(storage), f"{bucket}/{key}"
    path = urlparse(location).path if location.startswith("file://") else location
    return fs.LocalFileSystem(), unquote(path) if location.startswith("file://") else path


def open_input(location: str, storage: StorageSettings) -> BinaryIO:
    """A seekable binary reader of a local file or an S3 object (pyarrow's S3 client: ranged GETs)."""
    if not is_s3(location):
        return open(location, "rb")
    filesystem, path = filesystem_path(location, storage)
    return filesystem.open_input_file(path)


def delta_storage_options(storage: StorageSettings) -> dict[str, str]:
    """delta-rs ``storage_options`` for these settings (no credentials: delta-rs reads the environment)."""
    options = {
        "AWS_REGION": storage.region,
        "max_retries": "10",
        "retry_timeout": f"{max(1, int(storage.retry_seconds))}s",
    }
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
        # failures of the store (resets, 5xx, throttling) are retried for about storage.retry_seconds
        "spark.hadoop.fs.s3a.retry.interval": "1s",
        "spark.hadoop.fs.s3a.retry.limit": str(max(1, int(storage.retry_seconds // 4))),
        "spark.hadoop.fs.s3a.retry.throttle.interval": "1s",
        "spark.hadoop.fs.s3a.retry.throttle.limit": str(max(1, int(storage.retry_seconds // 4))),
        "spark.hadoop.fs.s3a.attempts.maximum": "3",
        "spark.hadoop.fs.s3a.connection.establish.timeout": "5000",
        "spark.hadoop.fs.s3a.connection.timeout": "30000",
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
        client = client or s3_client(storage)
        retrying(lambda: client.put_object(Bucket=bucket, Key=key, Body=data), storage, location)
        return
    Path(location).parent.mkdir(parents=True, exist_ok=True)
    Path(location).write_bytes(data)


def read_bytes(location: str, storage: StorageSettings) -> bytes | None:
    """The bytes of a local file or an S3 object; None when it does not exist."""
    try:
        if is_s3(location):
            return get_object(s3_client(storage), location, storage)[0]
        return Path(location).read_bytes()
    except FileNotFoundError:
        return None


def delete(location: str, storage: StorageSettings) -> None:
    """Remove a file or object (FileNotFoundError when a local file is not there)."""
    if is_s3(location):
        bucket, key = split_s3(location)
        client = s3_client(storage)
        retrying(lambda: client.delete_object(Bucket=bucket, Key=key), storage, location)
        return
    os.remove(location)


def upload_file(local_path: str, location: str, storage: StorageSettings, client=None) -> None:
    """Put a finished local file at ``location`` (a move for local paths, a multipart upload for S3)."""
    if is_s3(location):
        bucket, key = split_s3(location)
        client = client or s3_client(storage)
        retrying(lambda: client.upload_file(local_path, bucket, key), storage, location)
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
