"""Shared fixtures of the Custom Store tests (the helpers are in customstore_support.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from customstore_support import StoreHarness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[StoreHarness]:
    with StoreHarness(tmp_path / "state.sqlite3") as built:
        yield built
