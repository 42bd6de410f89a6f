"""The ``[celery]`` table of the configuration file: broker, result backend, schedule.

Read without importing Celery, so that ``load_config`` (and ``config check``) can check the
table on a machine without the ``[celery]`` extra. :mod:`backmarket_shipstation.celery` builds
its app from :func:`celery_settings`.

Environment variables win over the file, as everywhere in the configuration:
``BACKMARKET_SHIPSTATION_BROKER_URL`` and ``BACKMARKET_SHIPSTATION_RESULT_BACKEND`` (a Redis
URL may hold a password, which then stays out of the file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from ..errors import ConfigurationError

__all__ = [
    "BROKER_URL_VARIABLE",
    "FAN_OUT_MODES",
    "CELERY_KEYS",
    "CONFIG_VARIABLE",
    "DEFAULT_BROKER_URL",
    "RESULT_BACKEND_VARIABLE",
    "CelerySettings",
    "celery_problems",
    "celery_settings",
]

CONFIG_VARIABLE = "BACKMARKET_SHIPSTATION_CONFIG"
"""The environment variable that names the configuration file a Celery worker syncs."""
BROKER_URL_VARIABLE = "BACKMARKET_SHIPSTATION_BROKER_URL"
RESULT_BACKEND_VARIABLE = "BACKMARKET_SHIPSTATION_RESULT_BACKEND"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/0"
FAN_OUT_MODES = ("account", "key_pair")
"""What one task of a fan-out syncs: one account, or every account of one ShipStation key pair
(which then share the cycle's ShipStation polls, as in one ``sync`` process)."""

CELERY_KEYS = frozenset(
    {"broker_url", "result_backend", "interval_minutes", "visibility_timeout_seconds", "fan_out"}
)
"""The keys of the ``[celery]`` table (docs/sync.md#the-celery-table)."""


@attrs.frozen(kw_only=True)
class CelerySettings:
    """How the Celery app reaches its broker and how often beat fans the accounts out."""

    broker_url: str = attrs.field(default=DEFAULT_BROKER_URL, repr=False)
    """Redis, as ``redis://[:password@]host:port/db``; kept out of reprs (a password)."""
    result_backend: str = attrs.field(default=DEFAULT_BROKER_URL, repr=False)
    """Where the tasks' results (the accounts' JSON reports) are kept: the broker by default."""
    interval: timedelta = timedelta(minutes=5)
    """Beat sends every account of the configuration out this often."""
    visibility_timeout: timedelta | None = None
    """Redis gives a message a worker took but never acknowledged to another worker after
    this long; ``None``: one :attr:`interval` (see :mod:`backmarket_shipstation.celery`)."""
    fan_out: str = "account"
    """``"account"``: one task per account; ``"key_pair"``: one task per ShipStation key pair,
    syncing its accounts together (see :data:`FAN_OUT_MODES`)."""

    @property
    def effective_visibility_timeout(self) -> timedelta:
        return self.visibility_timeout if self.visibility_timeout is not None else self.interval


def celery_problems(table: object) -> list[str]:
    """What is wrong with a ``[celery]`` table (empty when nothing is): one line each."""
    problems: list[str] = []
    _parse(table, problems)
    return problems


def celery_settings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> CelerySettings:
    """The ``[celery]`` table of the file at ``path`` with the environment's overrides.

    ``path`` defaults to ``$BACKMARKET_SHIPSTATION_CONFIG``; with neither, the defaults (and
    the environment). Raises :class:`~backmarket_shipstation.errors.ConfigurationError`
    listing every problem of the table.
    """
    from .config import read_config_file

    environ = os.environ if env is None else env
    path = path if path is not None else environ.get(CONFIG_VARIABLE) or None
    document = read_config_file(path) if path is not None else {}
    problems: list[str] = []
    values = _parse(document.get("celery", {}), problems)
    if problems:
        head = "invalid configuration" + (f" in {path}" if path is not None else "")
        if len(problems) == 1:
            raise ConfigurationError(f"{head}: {problems[0]}")
        raise ConfigurationError(f"{head}:\n  - " + "\n  - ".join(problems))
    broker = environ.get(BROKER_URL_VARIABLE) or values.get("broker_url") or DEFAULT_BROKER_URL
    backend = environ.get(RESULT_BACKEND_VARIABLE) or values.get("result_backend") or broker
    return CelerySettings(
        broker_url=broker,
        result_backend=backend,
        interval=values.get("interval", timedelta(minutes=5)),
        visibility_timeout=values.get("visibility_timeout"),
        fan_out=values.get("fan_out", "account"),
    )


def _parse(table: object, problems: list[str]) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        problems.append("celery must be a table ([celery] broker_url = ...)")
        return {}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in CELERY_KEYS:
            known = ", ".join(sorted(CELERY_KEYS))
            problems.append(f"celery: unknown setting {key!r} (one of {known})")
        elif key in ("broker_url", "result_backend"):
            if not isinstance(value, str) or not value.strip():
                problems.append(f"celery.{key} must be a URL such as {DEFAULT_BROKER_URL!r}")
            else:
                values[key] = value.strip()
        elif key == "fan_out":
            if value not in FAN_OUT_MODES:
                modes = " or ".join(repr(mode) for mode in FAN_OUT_MODES)
                problems.append(f"celery.fan_out must be {modes} (got {value!r})")
            else:
                values[key] = value
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            problems.append(f"celery.{key} must be a number above 0 (got {value!r})")
        elif key == "interval_minutes":
            values["interval"] = timedelta(minutes=value)
        else:
            values["visibility_timeout"] = timedelta(seconds=value)
    return values
