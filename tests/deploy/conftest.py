"""The deploy tests' fixture: what ``make package`` builds, built once per session into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import run_command


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> Path:
    """``make package DIST=<tmp>/dist``; treat it as read-only (copy it to change it)."""
    dist = tmp_path_factory.mktemp("package") / "dist"
    result = run_command(["make", "--no-print-directory", "package", f"DIST={dist}"], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return dist
