"""The deploy tests' fixture: what ``make package`` builds, built once per test run into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import build_once, run_command


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> Path:
    """``make package DIST=<tmp>/dist``, once per run: both deploy test files use it, and two ``make package`` at
    once in one checkout race on setuptools' ``build/`` folder. Read-only (copy it to change it)."""
    return build_once(tmp_path_factory, "package", _make_package) / "dist"


def _make_package(folder: Path) -> None:
    result = run_command(["make", "--no-print-directory", "package", f"DIST={folder / 'dist'}"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
