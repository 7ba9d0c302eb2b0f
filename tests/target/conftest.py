"""Fixtures for the target tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .target_testkit import Loader


@pytest.fixture
def loader(tmp_path: Path) -> Loader:
    """Runs the target against a fresh SQLite file."""
    return Loader(tmp_path)
