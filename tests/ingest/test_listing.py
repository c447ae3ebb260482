from __future__ import annotations

import os

import boto3
import pytest
from tests.conftest import write_files

from visionlake.config import StorageSettings, load_config
from visionlake.errors import InputError
from visionlake.ingest.listing import camera_of, list_input


def test_list_input_finds_json_files_at_any_depth_and_counts_others(tmp_path):
    write_files(
        tmp_path,
        {
            "cam-1/2022-05-02/a.json": "{}",
            "cam-1/b.json": "{}",
            "root.json": "{}",
            "cam-1/readme.txt": "x",
            "cam-1/.b.json.crc": "x",
            "cam-1/_SUCCESS": "",
            "_tmp/c.json": "{}",
            ".git/d.json": "{}",
        },
    )
    listing = list_input(str(tmp_path), StorageSettings())
    assert [os.path.relpath(f.path, tmp_path) for f in listing.files] == [
        "cam-1/2022-05-02/a.json",
        "cam-1/b.json",
        "root.json",
    ]
    assert listing.skipped == 1
    assert [f.size for f in listing.files] == [2, 2, 2]


def test_list_input_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        list_input(str(tmp_path / "missing"), StorageSettings())
    (tmp_path / "one.json").write_text("{}")
    with pytest.raises(InputError, match=r"^input .*/one.json is a file: --input takes the folder that holds the"):
        list_input(str(tmp_path / "one.json"), StorageSettings())


def test_list_input_keeps_a_dangling_link_for_the_reader_to_quarantine(tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "x.json")
    listing = list_input(str(tmp_path), StorageSettings())
    assert [(os.path.basename(f.path), f.size) for f in listing.files] == [("x.json", 0)]


def test_camera_of_is_the_first_folder_below_the_root():
    assert camera_of("/in", "/in/cam-7/2022-05-02/x.json") == "cam-7"
    assert camera_of("/in", "/in/x.json") == "unknown"
    assert camera_of("s3a://raw/alpr", "s3a://raw/alpr/gate-2/x.json") == "gate-2"


def test_the_new_files_are_told_before_the_ingested_ones_are_checked_for_changes(tmp_path):
    """``on_new`` gets the new files (a file that cannot be read among them), and only them; the listing still
    checks the ingested files: one whose size differs is changed, one that is a dangling link now is seen."""
    write_files(tmp_path, {"cam/same.json": "{}", "cam/grown.json": "{ }", "cam/new.json": "{}"})
    os.symlink(tmp_path / "gone", tmp_path / "cam" / "broken.json")
    os.symlink(tmp_path / "gone", tmp_path / "cam" / "was-read.json")
    mtime = os.stat(tmp_path / "cam" / "same.json").st_mtime
    known = {
        str(tmp_path / "cam" / "same.json"): (2, mtime),
        str(tmp_path / "cam" / "grown.json"): (2, os.stat(tmp_path / "cam" / "grown.json").st_mtime),
        str(tmp_path / "cam" / "was-read.json"): (2, mtime),
    }
    told = []
    listing = list_input(str(tmp_path), StorageSettings(), known=known, on_new=told.append)
    assert len(told) == 1
    assert sorted((os.path.basename(f.path), f.size, f.error is not None) for f in told[0]) == [
        ("broken.json", 0, True),
        ("new.json", 2, False),
    ]
    assert [os.path.basename(f.path) for f in listing.files] == ["broken.json", "new.json"]
    # a copy: the caller sums it while the listing sorts its own list in place (a list being sorted reads as empty)
    assert told[0] is not listing.files
    assert listing.known == 3
    assert listing.changed == [str(tmp_path / "cam" / "grown.json")]


def test_the_new_files_of_s3_are_told_too(aws_env):
    s3 = boto3.client("s3", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket="told")
    s3.put_object(Bucket="told", Key="in/cam/a.json", Body=b"{}")
    s3.put_object(Bucket="told", Key="in/cam/b.json", Body=b"{ }")
    told = []
    listing = list_input(
        "s3a://told/in", load_config("local").storage, known={"s3a://told/in/cam/a.json": (2, 0.0)}, on_new=told.append
    )
    assert [(f.path, f.size) for f in told[0]] == [("s3a://told/in/cam/b.json", 3)]
    assert listing.changed == ["s3a://told/in/cam/a.json"]  # its modification time is not 1970's
