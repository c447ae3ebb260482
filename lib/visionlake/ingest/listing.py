"""Listing input files once, without Hadoop: ``os.scandir`` locally, ListObjectsV2 in parallel on S3."""

from __future__ import annotations

import os
from collections.abc import Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from visionlake.config import StorageSettings
from visionlake.errors import InputError
from visionlake.lake import storage as st

UNKNOWN_CAMERA = "unknown"


@dataclass(frozen=True)
class FileEntry:
    """One input file: its location, size in bytes and modification time (epoch seconds)."""

    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Listing:
    root: str
    files: list[FileEntry]  # input files not in ``known``, sorted by path
    known: int  # input files that were in ``known`` (not statted, not returned)
    skipped: int  # files under root that do not end with the input suffix

    @property
    def total(self) -> int:
        return len(self.files) + self.known


def _hidden(name: str) -> bool:
    # Spark and Hadoop treat names starting with "." or "_" as hidden (checksums, _SUCCESS, ...).
    return name.startswith((".", "_"))


def _scan_local(root: str, suffix: str | tuple[str, ...], known: Set[str]) -> tuple[list[FileEntry], int, int]:
    files: list[FileEntry] = []
    skipped = seen = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if _hidden(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=True):
                    stack.append(entry.path)
                elif not entry.name.endswith(suffix):
                    skipped += 1
                elif entry.path in known:
                    seen += 1
                else:
                    try:
                        info = entry.stat()
                        files.append(FileEntry(entry.path, info.st_size, info.st_mtime))
                    except OSError:  # a dangling link or a file deleted meanwhile: reading it will say why
                        files.append(FileEntry(entry.path, 0, 0.0))
    return files, seen, skipped


def _list_s3_prefix(client, bucket: str, prefix: str, delimiter: str | None):
    objects, prefixes = [], []
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    for page in client.get_paginator("list_objects_v2").paginate(**kwargs):
        objects.extend(page.get("Contents", []))
        prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return objects, prefixes


def _scan_s3(
    root: str, suffix: str | tuple[str, ...], storage: StorageSettings, threads: int, known: Set[str]
) -> tuple[list[FileEntry], int, int]:
    from botocore.exceptions import ClientError

    bucket, key = st.split_s3(root)
    prefix = f"{key}/" if key else ""
    client = st.s3_client(storage, max_pool_connections=threads)
    try:
        top_objects, sub_prefixes = _list_s3_prefix(client, bucket, prefix, "/")
        with ThreadPoolExecutor(max_workers=threads) as pool:
            nested = pool.map(lambda p: _list_s3_prefix(client, bucket, p, None)[0], sub_prefixes)
            objects = top_objects + [o for group in nested for o in group]
    except ClientError as exc:
        raise InputError(f"cannot list {root}: {exc.response['Error'].get('Message') or exc}") from exc
    files: list[FileEntry] = []
    skipped = seen = 0
    for obj in objects:
        name = obj["Key"].rsplit("/", 1)[-1]
        relative_parts = obj["Key"][len(prefix) :].split("/")
        if any(_hidden(part) for part in relative_parts) or not name:
            continue
        if not name.endswith(suffix):
            skipped += 1
            continue
        path = f"s3a://{bucket}/{obj['Key']}"
        if path in known:
            seen += 1
            continue
        files.append(FileEntry(path, obj["Size"], obj["LastModified"].timestamp()))
    return files, seen, skipped


def list_input(
    root: str,
    storage: StorageSettings,
    suffix: str | tuple[str, ...] = ".json",
    threads: int = 32,
    known: Set[str] = frozenset(),
) -> Listing:
    """The input files under ``root`` that are not in ``known``, sorted by path.

    Known files are only counted: they are never statted, so finding the new files of a daily increment
    costs one directory walk, not a look at every old file.

    Raises:
        InputError: a local root that does not exist or is not a folder, or an S3 prefix that cannot be listed.
    """
    root = st.normalize(root)
    if st.is_s3(root):
        files, seen, skipped = _scan_s3(root, suffix, storage, threads, known)
    else:
        if not os.path.isdir(root):
            raise InputError(f"input folder {root} does not exist")
        files, seen, skipped = _scan_local(root, suffix, known)
    files.sort(key=lambda f: f.path)
    return Listing(root=root, files=files, known=seen, skipped=skipped)


def camera_of(root: str, path: str) -> str:
    """The first folder below the input root, or ``unknown`` for a file in the root itself."""
    parts = st.relative_to(root, path).split("/")
    return parts[0] if len(parts) > 1 else UNKNOWN_CAMERA
