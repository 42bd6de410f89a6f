"""The Custom Store configuration: the store's credentials, its accounts, its limits.

The same TOML file as the sync (``state_path``, ``[[accounts]]``; the ShipStation API keys
are not needed and are ignored here) plus a ``[store]`` table::

    state_path = "backmarket-shipstation.sqlite3"

    [store]
    username_env = "BACKMARKET_SHIPSTATION_STORE_USERNAME"   # or username = "..."
    password_env = "BACKMARKET_SHIPSTATION_STORE_PASSWORD"   # or password = "..."
    refresh_seconds = 120          # how often Back Market is read into the export feed
    max_body_bytes = 1048576
    requests_per_minute = 600      # per client address
    export_overlap_minutes = 10

    [store.statuses]               # what to type in ShipStation's five status fields
    unpaid = "bm_pending"
    paid = "bm_accepted"
    shipped = "bm_shipped"
    cancelled = "bm_cancelled"
    on_hold = "bm_on_hold"

    [[accounts]]
    name = "eu"                    # served at /eu
    backmarket_token_env = "BM_EU_TOKEN"
    backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
    accept_orders = true

Environment variables win over the file: ``BACKMARKET_SHIPSTATION_STORE_USERNAME``,
``BACKMARKET_SHIPSTATION_STORE_PASSWORD``, ``BACKMARKET_SHIPSTATION_STATE``, and for a
single account the sync's ``BACKMARKET_TOKEN``, ``BACKMARKET_USER_AGENT``,
``BACKMARKET_REGION``, ``BACKMARKET_SANDBOX``, ``BACKMARKET_BASE_URL``. Secrets are kept out
of every ``repr`` and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from ..backmarket.client import validate_user_agent
from ..backmarket.regions import Region
from ..errors import ConfigurationError
from ..sync.config import read_config_file
from ..sync.store import DEFAULT_STATE_PATH
from .app import Limits, StoreCredentials
from .protocol import CustomStoreStatuses

__all__ = ["StoreAccountConfig", "StoreConfig", "load_store_config"]

USERNAME_VARIABLE = "BACKMARKET_SHIPSTATION_STORE_USERNAME"
PASSWORD_VARIABLE = "BACKMARKET_SHIPSTATION_STORE_PASSWORD"  # noqa: S105 - a variable name

_BACKMARKET_KEYS = (
    "backmarket_token",
    "backmarket_region",
    "backmarket_user_agent",
    "backmarket_sandbox",
    "backmarket_base_url",
)
_STORE_KEYS = frozenset(
    {
        "username",
        "password",
        "refresh_seconds",
        "max_body_bytes",
        "requests_per_minute",
        "export_overlap_minutes",
        "statuses",
    }
)


@attrs.frozen(kw_only=True)
class StoreAccountConfig:
    """One Back Market account served at ``/<name>``."""

    name: str
    backmarket_token: str = attrs.field(repr=False)
    backmarket_region: Region = Region.EU
    backmarket_user_agent: str
    backmarket_sandbox: bool = False
    backmarket_base_url: str | None = None
    accept_orders: bool = True
    order_key_prefix: str = "backmarket-"


@attrs.frozen(kw_only=True)
class StoreConfig:
    """Everything ``store serve`` needs."""

    accounts: tuple[StoreAccountConfig, ...]
    credentials: StoreCredentials
    state_path: str = DEFAULT_STATE_PATH
    limits: Limits = Limits()
    statuses: CustomStoreStatuses = CustomStoreStatuses()
    refresh_interval: timedelta = timedelta(minutes=2)
    overlap: timedelta = timedelta(minutes=10)
    initial_lookback: timedelta = timedelta(days=14)


def load_store_config(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> StoreConfig:
    """Build and check a :class:`StoreConfig` from ``path`` (TOML, optional) and ``env``.

    Raises :class:`~backmarket_shipstation.errors.ConfigurationError` listing every problem
    (never a secret's value).
    """
    environ = os.environ if env is None else env
    document = read_config_file(path) if path is not None else {}
    problems: list[str] = []
    store = document.get("store", {})
    if not isinstance(store, dict):
        raise ConfigurationError("`store` must be a table ([store])")
    for key in store:
        base = key[:-4] if key.endswith("_env") else key
        if base not in _STORE_KEYS:
            problems.append(f"store: unknown setting {key!r}")

    username = _secret(store, "username", USERNAME_VARIABLE, environ, problems)
    password = _secret(store, "password", PASSWORD_VARIABLE, environ, problems)

    raw_accounts = document.get("accounts", [{}])
    if not isinstance(raw_accounts, list) or not all(isinstance(a, dict) for a in raw_accounts):
        raise ConfigurationError("`accounts` must be an array of tables ([[accounts]])")
    accounts = []
    for index, raw in enumerate(raw_accounts):
        values = _resolve(raw, environ, problems, f"accounts[{index}]")
        if len(raw_accounts) == 1:
            values.update(_from_env(environ))
        account = _account(values, f"accounts[{index}]", problems)
        if account is not None:
            accounts.append(account)
    names = [a.name for a in accounts]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"account name {name!r} is used twice")
    for name in names:
        if not name or "/" in name or name != name.strip():
            problems.append(f"account name {name!r} cannot be a URL path segment")

    statuses = CustomStoreStatuses()
    raw_statuses = store.get("statuses", {})
    if not isinstance(raw_statuses, dict):
        problems.append("store.statuses must be a table")
    else:
        try:
            statuses = CustomStoreStatuses(**{str(k): str(v) for k, v in raw_statuses.items()})
        except (TypeError, ValueError) as exc:
            problems.append(f"store.statuses: {exc}")

    limits = Limits(
        max_body_bytes=_positive_int(store, "max_body_bytes", 1024 * 1024, problems),
        requests_per_minute=_positive_int(store, "requests_per_minute", 600, problems),
        overlap=timedelta(minutes=_positive_int(store, "export_overlap_minutes", 10, problems)),
    )
    refresh = _positive_int(store, "refresh_seconds", 120, problems)
    if problems:
        raise ConfigurationError("invalid configuration:\n  - " + "\n  - ".join(problems))
    return StoreConfig(
        accounts=tuple(accounts),
        credentials=StoreCredentials(username, password),
        state_path=str(
            environ.get("BACKMARKET_SHIPSTATION_STATE")
            or document.get("state_path")
            or DEFAULT_STATE_PATH
        ),
        limits=limits,
        statuses=statuses,
        refresh_interval=timedelta(seconds=refresh),
        overlap=timedelta(minutes=float(document.get("overlap_minutes", 10))),
        initial_lookback=timedelta(days=float(document.get("initial_lookback_days", 14))),
    )


def _secret(
    table: Mapping[str, Any],
    key: str,
    variable: str,
    environ: Mapping[str, str],
    problems: list[str],
) -> str:
    value = environ.get(variable) or ""
    if not value and f"{key}_env" in table:
        value = environ.get(str(table[f"{key}_env"]), "")
        if not value:
            problems.append(f"store.{key}_env: environment variable {table[f'{key}_env']} is unset")
            return ""
    if not value:
        value = str(table.get(key) or "")
    if not value.strip():
        problems.append(f"store: {key} is missing (set {variable}, or store.{key} in the file)")
    return value


def _resolve(
    raw: Mapping[str, Any], environ: Mapping[str, str], problems: list[str], where: str
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key.endswith("_env") and key[:-4] in _BACKMARKET_KEYS:
            if str(value) in environ:
                values[key[:-4]] = environ[str(value)]
            else:
                problems.append(f"{where}.{key}: environment variable {value} is unset")
        elif key.startswith("shipstation_") or key.endswith("_env"):
            continue  # the sync's settings: the Custom Store needs no ShipStation API key
        else:
            values[key] = value
    return values


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    return {key: environ[key.upper()] for key in _BACKMARKET_KEYS if environ.get(key.upper())}


def _account(
    values: Mapping[str, Any], where: str, problems: list[str]
) -> StoreAccountConfig | None:
    before = len(problems)
    for key in ("backmarket_token", "backmarket_user_agent"):
        if not str(values.get(key) or "").strip():
            problems.append(f"{where}: {key} is missing (set it, or {key.upper()})")
    try:
        region = Region(str(values.get("backmarket_region", "eu")).strip().lower())
    except ValueError:
        problems.append(f"{where}: backmarket_region must be eu, us or ap")
        region = Region.EU
    user_agent = str(values.get("backmarket_user_agent") or "")
    if user_agent:
        try:
            validate_user_agent(user_agent)
        except ConfigurationError as exc:
            problems.append(f"{where}: {exc}")
    if len(problems) > before:
        return None
    return StoreAccountConfig(
        name=str(values.get("name") or "default"),
        backmarket_token=str(values["backmarket_token"]).strip(),
        backmarket_region=region,
        backmarket_user_agent=user_agent,
        backmarket_sandbox=_flag(values.get("backmarket_sandbox", False)),
        backmarket_base_url=values.get("backmarket_base_url") or None,
        accept_orders=_flag(values.get("accept_orders", True)),
        order_key_prefix=str(values.get("order_key_prefix") or "backmarket-"),
    )


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _positive_int(table: Mapping[str, Any], key: str, default: int, problems: list[str]) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.append(f"store.{key} must be a positive whole number (got {value!r})")
        return default
    return value
