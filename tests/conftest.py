"""Fixtures shared by every test directory: a throw-away PostgreSQL server.

``postgres_url`` gives each test a new empty database on one server per session (see
``tests/postgres_server.py``). When no server can be started here, those tests skip with one
line saying why; under CI (``CI=true``) that is a failure instead, since CI installs
PostgreSQL and a skip there would hide a store that was never tested.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _load_server_module() -> ModuleType:
    # --import-mode=importlib: a helper beside conftest is not importable by name.
    path = Path(__file__).with_name("postgres_server.py")
    spec = importlib.util.spec_from_file_location("_bmss_postgres_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


postgres_server_module = _load_server_module()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _why_no_server() -> str | None:
    """Why no server can be started here (checked without starting one), or ``None``."""
    if importlib.util.find_spec("psycopg") is None:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        postgres_server_module.find_bindir()
    except postgres_server_module.ServerUnavailable as exc:
        return str(exc)
    return None


_SKIPPED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs the throw-away PostgreSQL server (fixture postgres_url)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Locally, without PostgreSQL, its cases are set aside and said so in one line."""
    needing = [
        item
        for item in items
        if "postgres_server" in getattr(item, "fixturenames", ())
        or item.get_closest_marker("postgres") is not None
    ]
    if not needing or _in_ci():
        return  # under CI the fixture fails them instead
    reason = _why_no_server()
    if reason is None:
        return
    _SKIPPED.append(f"PostgreSQL tests skipped ({len(needing)}): {reason}")
    kept = set(map(id, needing))
    config.hook.pytest_deselected(items=needing)
    items[:] = [item for item in items if id(item) not in kept]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _SKIPPED:
        terminalreporter.write_line(line, yellow=True)


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL tests skipped: {reason}"
    if _in_ci():
        pytest.fail(f"{message} (CI=true: CI must run them)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """One throw-away PostgreSQL server for the session."""
    if importlib.util.find_spec("psycopg") is None:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    try:
        server = postgres_server_module.start_server()
    except postgres_server_module.ServerUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: object) -> str:
    """The URL of a database with no state in it, on the session's server."""
    url: str = postgres_server.fresh_state()  # type: ignore[attr-defined]
    return url
