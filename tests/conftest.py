"""Fixtures shared by every test directory: throw-away PostgreSQL and Redis servers.

``postgres_url`` gives each test a new empty database on one server per session (see
``tests/postgres_server.py``). When no server can be started here, those tests skip with one
line saying why; under CI (``CI=true``) that is a failure instead, since CI installs
PostgreSQL and a skip there would hide a store that was never tested. ``redis_url`` does the
same for the Celery tests' broker (``tests/redis_server.py``): an emptied Redis per test.
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


def _load_server_module(filename: str = "postgres_server.py") -> ModuleType:
    # --import-mode=importlib: a helper beside conftest is not importable by name.
    path = Path(__file__).with_name(filename)
    spec = importlib.util.spec_from_file_location(f"_bmss_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


postgres_server_module = _load_server_module()
redis_server_module = _load_server_module("redis_server.py")


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


def _why_no_redis() -> str | None:
    """Why the Celery tests' Redis cannot be started here, or ``None``."""
    for module in ("celery", "redis"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[test]')"
    try:
        redis_server_module.find_binary()
    except redis_server_module.ServerUnavailable as exc:
        return str(exc)
    return None


_SKIPPED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres: needs the throw-away PostgreSQL server (fixture postgres_url)"
    )
    config.addinivalue_line(
        "markers", "redis: needs the throw-away Redis server (fixture redis_url)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Locally, without PostgreSQL or Redis, their cases are set aside and said so in one line."""
    if _in_ci():
        return  # under CI the fixtures fail them instead
    for what, fixture, why in (
        ("PostgreSQL", "postgres_server", _why_no_server),
        ("Redis", "redis_server", _why_no_redis),
    ):
        marker = fixture.removesuffix("_server")
        needing = [
            item
            for item in items
            if fixture in getattr(item, "fixturenames", ())
            or item.get_closest_marker(marker) is not None
        ]
        if not needing:
            continue
        reason = why()
        if reason is None:
            continue
        _SKIPPED.append(f"{what} tests skipped ({len(needing)}): {reason}")
        kept = set(map(id, needing))
        config.hook.pytest_deselected(items=needing)
        items[:] = [item for item in items if id(item) not in kept]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _SKIPPED:
        terminalreporter.write_line(line, yellow=True)


def _unavailable(reason: str, what: str = "PostgreSQL") -> None:
    message = f"{what} tests skipped: {reason}"
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


@pytest.fixture(scope="session")
def redis_server() -> Iterator[object]:
    """One throw-away Redis server for the session (loopback, no persistence)."""
    reason = _why_no_redis()
    if reason is not None:
        _unavailable(reason, "Redis")
    try:
        server = redis_server_module.start_server()
    except redis_server_module.ServerUnavailable as exc:
        _unavailable(str(exc), "Redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: object) -> str:
    """The URL of database 0 of the session's Redis, emptied for this test."""
    redis_server.flush()  # type: ignore[attr-defined]
    url: str = redis_server.url()  # type: ignore[attr-defined]
    return url
