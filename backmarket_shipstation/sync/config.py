"""Sync configuration: from arguments, a TOML file, or environment variables; checked up front.

Precedence, highest first: explicit arguments, environment variables, the TOML file. One
configuration may hold several accounts (say an EU and a US Back Market account), each bound to
its own ShipStation store. Secrets are kept out of every ``repr``.

Environment variables (one account, named ``default``)::

    BACKMARKET_TOKEN, BACKMARKET_REGION (eu, us, ap), BACKMARKET_USER_AGENT,
    BACKMARKET_SANDBOX (1 for the preprod host), BACKMARKET_BASE_URL,
    SHIPSTATION_API_KEY, SHIPSTATION_API_SECRET, SHIPSTATION_STORE_ID, SHIPSTATION_BASE_URL,
    BACKMARKET_SHIPSTATION_STATE (path of the SQLite state file)

TOML file::

    state_path = "backmarket-shipstation.sqlite3"
    overlap_minutes = 10

    [[accounts]]
    name = "eu"
    backmarket_token = "..."            # or backmarket_token_env = "BM_EU_TOKEN"
    backmarket_region = "eu"
    backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
    shipstation_api_key_env = "SHIPSTATION_API_KEY"
    shipstation_api_secret_env = "SHIPSTATION_API_SECRET"
    shipstation_store_id = 518236
    accept_orders = true
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from ..backmarket.client import validate_user_agent
from ..backmarket.regions import Region
from ..errors import ConfigurationError
from .store import DEFAULT_STATE_PATH

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["AccountConfig", "SyncConfig", "load_config", "read_config_file"]

_SECRET_FIELDS = ("backmarket_token", "shipstation_api_key", "shipstation_api_secret")
_ACCOUNT_KEYS = frozenset(
    {
        "name",
        "backmarket_token",
        "backmarket_region",
        "backmarket_user_agent",
        "backmarket_sandbox",
        "backmarket_base_url",
        "shipstation_api_key",
        "shipstation_api_secret",
        "shipstation_store_id",
        "shipstation_base_url",
        "accept_orders",
        "order_key_prefix",
    }
)


@attrs.frozen(kw_only=True)
class AccountConfig:
    """One Back Market account and the ShipStation store its orders go to."""

    name: str
    backmarket_token: str = attrs.field(repr=False)
    backmarket_region: Region
    backmarket_user_agent: str
    shipstation_api_key: str = attrs.field(repr=False)
    shipstation_api_secret: str = attrs.field(repr=False)
    shipstation_store_id: int | None = None
    """The Back Market store in ShipStation; orders are created there and only its
    shipments are sent back. ``None``: the account's default store (not recommended)."""
    backmarket_sandbox: bool = False
    """Use Back Market's preprod host (a separate account and token)."""
    backmarket_base_url: str | None = None
    shipstation_base_url: str | None = None
    accept_orders: bool = True
    """Accept new Back Market orders (``new_state`` 2) on import: orders not accepted in time
    are lost, so this is on by default."""
    order_key_prefix: str = "backmarket-"
    """``orderKey`` prefix in ShipStation: give each account its own when several accounts
    share one ShipStation account (order ids of different platforms may collide)."""


@attrs.frozen(kw_only=True)
class SyncConfig:
    """Everything a sync run needs."""

    accounts: tuple[AccountConfig, ...]
    state_path: str = DEFAULT_STATE_PATH
    overlap: timedelta = timedelta(minutes=10)
    """How far back each poll reaches behind its cursor: Back Market's ``date_modification``
    and ShipStation's Pacific-time filters are not exact, so windows overlap and results are
    de-duplicated."""
    initial_lookback: timedelta = timedelta(days=14)
    """How far back the first run looks when there is no cursor yet."""


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SyncConfig:
    """Build and validate a :class:`SyncConfig`.

    ``path`` is a TOML file (optional); ``env`` defaults to ``os.environ``; ``overrides`` are
    explicit values (e.g. from command-line arguments) for a single account, applied last.
    Raises :class:`~backmarket_shipstation.errors.ConfigurationError` listing every problem.
    """
    environ = os.environ if env is None else env
    document = read_config_file(path) if path is not None else {}

    problems: list[str] = []
    raw_accounts = document.get("accounts")
    if raw_accounts is None:
        raw_accounts = [{}]
    if not isinstance(raw_accounts, list) or not all(isinstance(a, dict) for a in raw_accounts):
        raise ConfigurationError("`accounts` must be an array of tables ([[accounts]])")

    single = len(raw_accounts) == 1
    accounts: list[AccountConfig] = []
    for index, raw in enumerate(raw_accounts):
        values = _resolve_env_references(raw, environ, problems, index)
        if single:
            # Environment variables and arguments describe the single account.
            values = {**values, **_from_env(environ), **dict(overrides or {})}
        account = _build_account(values, index, problems)
        if account is not None:
            accounts.append(account)

    names = [a.name for a in accounts]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"account name {duplicate!r} is used twice")
    if problems:
        raise ConfigurationError("invalid configuration:\n  - " + "\n  - ".join(problems))

    state_path = str(
        (overrides or {}).get("state_path")
        or environ.get("BACKMARKET_SHIPSTATION_STATE")
        or document.get("state_path")
        or DEFAULT_STATE_PATH
    )
    overlap = _minutes(document.get("overlap_minutes", 10), "overlap_minutes")
    lookback = _minutes(document.get("initial_lookback_days", 14) * 24 * 60, "initial_lookback")
    return SyncConfig(
        accounts=tuple(accounts),
        state_path=state_path,
        overlap=overlap,
        initial_lookback=lookback,
    )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The TOML configuration file as a dict, unchecked (``load_config`` checks it)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from None


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    mapping = {
        "BACKMARKET_TOKEN": "backmarket_token",
        "BACKMARKET_REGION": "backmarket_region",
        "BACKMARKET_USER_AGENT": "backmarket_user_agent",
        "BACKMARKET_SANDBOX": "backmarket_sandbox",
        "BACKMARKET_BASE_URL": "backmarket_base_url",
        "SHIPSTATION_API_KEY": "shipstation_api_key",
        "SHIPSTATION_API_SECRET": "shipstation_api_secret",
        "SHIPSTATION_STORE_ID": "shipstation_store_id",
        "SHIPSTATION_BASE_URL": "shipstation_base_url",
    }
    return {key: environ[var] for var, key in mapping.items() if environ.get(var)}


def _resolve_env_references(
    raw: Mapping[str, Any], environ: Mapping[str, str], problems: list[str], index: int
) -> dict[str, Any]:
    """``<field>_env = "VAR"`` reads the field from an environment variable."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key.endswith("_env") and key[:-4] in _ACCOUNT_KEYS:
            if str(value) in environ:
                values[key[:-4]] = environ[str(value)]
            else:
                problems.append(f"accounts[{index}].{key}: environment variable {value} is unset")
        elif key in _ACCOUNT_KEYS:
            values[key] = value
        else:
            problems.append(f"accounts[{index}]: unknown setting {key!r}")
    return values


def _build_account(
    values: Mapping[str, Any], index: int, problems: list[str]
) -> AccountConfig | None:
    where = f"accounts[{index}]"
    before = len(problems)
    for key in ("backmarket_token", "backmarket_user_agent", *_SECRET_FIELDS[1:]):
        if not str(values.get(key) or "").strip():
            env_name = key.upper()
            problems.append(f"{where}: {key} is missing (set it, or {env_name})")
    region: Region | None = None
    try:
        region = Region(str(values.get("backmarket_region", "eu")).strip().lower())
    except ValueError:
        problems.append(
            f"{where}: backmarket_region must be eu, us or ap "
            f"(got {values.get('backmarket_region')!r})"
        )
    user_agent = str(values.get("backmarket_user_agent") or "")
    if user_agent:
        try:
            validate_user_agent(user_agent)
        except ConfigurationError as exc:
            problems.append(f"{where}: {exc}")
    store_id: int | None = None
    raw_store = values.get("shipstation_store_id")
    if raw_store not in (None, ""):
        try:
            store_id = int(str(raw_store))
        except ValueError:
            problems.append(f"{where}: shipstation_store_id must be a number (got {raw_store!r})")
    if len(problems) > before or region is None:
        return None
    return AccountConfig(
        name=str(values.get("name") or "default"),
        backmarket_token=str(values["backmarket_token"]).strip(),
        backmarket_region=region,
        backmarket_user_agent=user_agent,
        shipstation_api_key=str(values["shipstation_api_key"]).strip(),
        shipstation_api_secret=str(values["shipstation_api_secret"]).strip(),
        shipstation_store_id=store_id,
        backmarket_sandbox=_flag(values.get("backmarket_sandbox", False)),
        backmarket_base_url=values.get("backmarket_base_url") or None,
        shipstation_base_url=values.get("shipstation_base_url") or None,
        accept_orders=_flag(values.get("accept_orders", True)),
        order_key_prefix=str(values.get("order_key_prefix") or "backmarket-"),
    )


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _minutes(value: object, name: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigurationError(f"{name} must be a non-negative number")
    return timedelta(minutes=float(value))
