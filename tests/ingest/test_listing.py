from __future__ import annotations

import os

import pytest
from tests.conftest import write_files

from visionlake.config import StorageSettings
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
