"""Sync configuration: from arguments, a TOML file, or environment variables; checked up front.

Precedence, highest first: explicit arguments, environment variables, the TOML file. One
configuration may hold several accounts (say an EU and a US Back Market account), each bound to
its own ShipStation store. Secrets are kept out of every ``repr``.

Environment variables (one account, named ``default``)::

    BACKMARKET_TOKEN, BACKMARKET_REGION (eu, us, ap), BACKMARKET_USER_AGENT,
    BACKMARKET_SANDBOX (1 for the preprod host), BACKMARKET_BASE_URL,
    SHIPSTATION_API_KEY, SHIPSTATION_API_SECRET, SHIPSTATION_STORE_ID, SHIPSTATION_BASE_URL,
    BACKMARKET_SHIPSTATION_STATE (path of the SQLite state file, or a postgresql:// URL),
    BACKMARKET_SHIPSTATION_SHARED_RATE_LIMITS (0: budgets in each process only),
    BACKMARKET_RATE_LIMIT_SCOPE (token or host), BACKMARKET_SHIPSTATION_RATE_LIMIT_HOST

TOML file (every key: docs/sync.md#the-configuration-file)::

    state_path = "backmarket-shipstation.sqlite3"
    parallel = 8                        # accounts synced at a time
    overlap_minutes = 10
    catalog = "shipstation"             # or a file: "products.csv", ".toml", ".json"

    [status_map.to_shipstation]         # Back Market order state → ShipStation status
    to_accept = "awaiting_payment"

    [carrier_map.services]              # ShipStation service code → Back Market shipper
    dpd_uk_express = "DPD UK Express"

    [[accounts]]
    name = "eu"
    backmarket_token = "..."            # or backmarket_token_env = "BM_EU_TOKEN"
    backmarket_region = "eu"
    backmarket_user_agent = "BM-Acme-ShipStation;ops@acme.example"
    shipstation_api_key_env = "SHIPSTATION_API_KEY"
    shipstation_api_secret_env = "SHIPSTATION_API_SECRET"
    shipstation_store_id = 518236
    accept_orders = true

The sync settings (everything but ``state_path``, ``parallel`` and ``accounts``) may be given
at the top, for every account, or in an account's table, for that account only.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from ..backmarket.client import validate_user_agent
from ..backmarket.models import OrderState
from ..backmarket.regions import Region
from ..errors import ConfigurationError
from ..mapping import (
    BACKMARKET_SHIPPERS,
    DEFAULT_CARRIER_MAP,
    DEFAULT_STATUS_MAP,
    CarrierMap,
    StatusMap,
    device_lines,
    every_single_unit_line,
)
from ..rate_limits import RateLimitSettings
from ..shipstation.models import OrderStatus
from .catalog import CatalogSource, FileCatalog, ShipStationCatalog
from .celery_settings import celery_problems
from .options import SyncOptions
from .state import is_postgres
from .store import DEFAULT_STATE_PATH

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_PARALLEL",
    "OPTION_KEYS",
    "RATE_LIMIT_KEYS",
    "AccountConfig",
    "SyncConfig",
    "effective_settings",
    "load_config",
    "read_config_file",
]

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
OPTION_KEYS = frozenset(
    {
        "accept_orders",
        "order_key_prefix",
        "overlap_minutes",
        "initial_lookback_days",
        "catalog",
        "status_map",
        "carrier_map",
        "requires_identifier",
        "notify_fulfillments",
        "dry_run",
        "lease_expiry_seconds",
        "wait_for_lease_seconds",
    }
)
"""The sync settings, allowed at the top (every account) and in an account's table."""
RATE_LIMIT_KEYS = frozenset(
    {"shared_rate_limits", "backmarket_rate_limit_scope", "rate_limit_host"}
)
"""How rate budgets are shared (top level only: one credential's budget is one for all)."""
# ``celery``: the Celery workers' table (sync/celery_settings.py), checked here, used there.
_TOP_LEVEL_KEYS = (
    frozenset({"state_path", "parallel", "accounts", "celery"}) | OPTION_KEYS | RATE_LIMIT_KEYS
)

DEFAULT_PARALLEL = 8
"""Accounts synced at a time unless ``parallel`` says otherwise. Rate limits are per
credential, so accounts with their own credentials never slow each other down; an account's
thread mostly waits (on rate limits, on the network), so the number is not bound to CPU
cores. Eight keeps what a run holds at once modest (two HTTP connection pools per account in
flight, log lines of a few accounts interleaved) while an agency's accounts that share one
ShipStation key pair already fill its 40 requests a minute; raise it when many accounts have
credentials of their own."""
_REQUIRES_IDENTIFIER = {"devices": device_lines, "every_single_unit_line": every_single_unit_line}


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
    shipments are sent back. Required by a sync run, which checks it first (exists, active,
    seen by this key pair); ``None`` is allowed here for the commands that need no store
    (``orders``, ``status``, ``config check``) and refused by the run."""
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
    options: SyncOptions | None = None
    """The account's sync settings from the configuration (``None``: built from the fields
    above and the configuration's overlap and lookback, as before)."""
    settings: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    """The sync settings as written (top-level and the account's), for ``config check``."""
    rate_limits: RateLimitSettings | None = None
    """Where the account's clients share their rate budgets with other processes and hosts
    (the PostgreSQL state, unless ``shared_rate_limits = false``); ``None``: in this process
    only."""


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
    parallel: int = DEFAULT_PARALLEL
    """Accounts synced at a time (``parallel`` in the file, ``sync --parallel N``)."""


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SyncConfig:
    """Build and validate a :class:`SyncConfig`.

    ``path`` is a TOML file (optional); ``env`` defaults to ``os.environ``; ``overrides`` are
    explicit values (e.g. from command-line arguments) for a single account, applied last;
    their ``state_path``, ``dry_run``, ``catalog``, ``lease_expiry_seconds`` and
    ``wait_for_lease_seconds`` apply to every account.
    Raises :class:`~backmarket_shipstation.errors.ConfigurationError` listing every problem.
    """
    environ = os.environ if env is None else env
    document = read_config_file(path) if path is not None else {}
    base_dir = Path(path).resolve().parent if path is not None else Path.cwd()

    problems: list[str] = []
    for key in document:
        if key not in _TOP_LEVEL_KEYS:
            problems.append(f"unknown setting {key!r} at the top of the file{_did_you_mean(key)}")
    if "celery" in document:
        problems += celery_problems(document["celery"])
    raw_accounts = document.get("accounts")
    from_file = raw_accounts is not None
    if raw_accounts is None:
        raw_accounts = [{}]
    if not isinstance(raw_accounts, list) or not all(isinstance(a, dict) for a in raw_accounts):
        raise ConfigurationError("`accounts` must be an array of tables ([[accounts]])")

    shared = {k: v for k, v in document.items() if k in OPTION_KEYS}
    single = len(raw_accounts) == 1
    sources: dict[str, CatalogSource] = {}
    accounts: list[AccountConfig] = []
    for index, raw in enumerate(raw_accounts):
        values = _resolve_env_references(raw, environ, problems, index)
        if single:
            # Environment variables and arguments describe the single account.
            values = {**values, **_from_env(environ), **dict(overrides or {})}
        where = _where(index, raw) if from_file else ""
        account = _build_account(values, where, problems)
        settings = {**shared, **{k: v for k, v in values.items() if k in OPTION_KEYS}}
        for key in ("dry_run", "catalog", "lease_expiry_seconds", "wait_for_lease_seconds"):
            if (overrides or {}).get(key) is not None:
                settings[key] = (overrides or {})[key]  # the command line wins, every account
        options = _build_options(settings, where, problems, base_dir, sources)
        if account is not None and options is not None:
            accounts.append(attrs.evolve(account, options=options, settings=settings))

    names = [a.name for a in accounts]
    for duplicate in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"account name {duplicate!r} is used twice")
    state_value = (
        (overrides or {}).get("state_path")
        or environ.get("BACKMARKET_SHIPSTATION_STATE")
        or document.get("state_path")
        or DEFAULT_STATE_PATH
    )
    if not isinstance(state_value, str):
        problems.append(
            f"state_path must be a file path or a postgresql:// URL (text), not {state_value!r}"
        )
    parallel = (overrides or {}).get("parallel")
    if parallel is None:
        parallel = document.get("parallel", DEFAULT_PARALLEL)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
        problems.append(f"parallel must be a whole number, 1 or more (got {parallel!r})")
        parallel = DEFAULT_PARALLEL
    rate_limits = _rate_limits(document, environ, state_value, problems)
    if rate_limits is not None:
        accounts = [attrs.evolve(a, rate_limits=rate_limits) for a in accounts]
    if len(problems) == 1:
        raise ConfigurationError(f"invalid configuration: {problems[0]}")
    if problems:
        raise ConfigurationError("invalid configuration:\n  - " + "\n  - ".join(problems))

    first = accounts[0].options if accounts else None
    return SyncConfig(
        accounts=tuple(accounts),
        state_path=str(state_value),
        overlap=first.overlap if first is not None else timedelta(minutes=10),
        initial_lookback=first.initial_lookback if first is not None else timedelta(days=14),
        parallel=parallel,
    )


def _rate_limits(
    document: Mapping[str, Any], environ: Mapping[str, str], state: object, problems: list[str]
) -> RateLimitSettings | None:
    """Shared budgets when the state is PostgreSQL (on unless ``shared_rate_limits`` is off)."""
    shared: object = environ.get("BACKMARKET_SHIPSTATION_SHARED_RATE_LIMITS")
    if shared is None:
        shared = document.get("shared_rate_limits", True)
    on = _boolean(shared, "shared_rate_limits", problems)
    scope = environ.get("BACKMARKET_RATE_LIMIT_SCOPE") or document.get(
        "backmarket_rate_limit_scope", "token"
    )
    if scope not in ("token", "host"):
        problems.append(f'backmarket_rate_limit_scope must be "token" or "host" (got {scope!r})')
        return None
    host = environ.get("BACKMARKET_SHIPSTATION_RATE_LIMIT_HOST") or document.get("rate_limit_host")
    if host is not None and (not isinstance(host, str) or not host.strip()):
        problems.append(f"rate_limit_host must be a name (text), not {host!r}")
        return None
    if not on or not isinstance(state, str) or not is_postgres(state):
        return None
    return RateLimitSettings(
        state_url=state,
        backmarket_scope="host" if scope == "host" else "token",
        host=host.strip() if host else None,
    )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The TOML configuration file as a dict, unchecked (``load_config`` checks it)."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raw = Path(path).read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigurationError(
            f"config file {path} is not UTF-8 text (line {line}, byte {exc.start}): save it as"
            " UTF-8, as TOML requires"
        ) from None
    except IsADirectoryError:
        raise ConfigurationError(f"config file {path} is a directory") from None
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
                problems.append(
                    f"{_where(index, raw)}.{key}: environment variable {value} is unset"
                )
        elif key in _ACCOUNT_KEYS or key in OPTION_KEYS:
            values[key] = value
        else:
            problems.append(f"{_where(index, raw)}: unknown setting {key!r}")
    return values


def _where(index: int, raw: Mapping[str, Any]) -> str:
    name = raw.get("name")
    return f"accounts[{index}] ({name})" if isinstance(name, str) and name else f"accounts[{index}]"


def _at(where: str, key: str) -> str:
    """``accounts[0] (eu).catalog`` from a file, plain ``catalog`` for environment users."""
    return f"{where}.{key}" if where else key


def _build_account(
    values: Mapping[str, Any], where: str, problems: list[str]
) -> AccountConfig | None:
    before = len(problems)
    for key in ("backmarket_token", "backmarket_user_agent", *_SECRET_FIELDS[1:]):
        if not str(values.get(key) or "").strip():
            env_name = key.upper()
            problems.append(f"{_at(where, key)} is missing (set it, or {env_name})")
    region: Region | None = None
    try:
        region = Region(str(values.get("backmarket_region", "eu")).strip().lower())
    except ValueError:
        problems.append(
            f"{_at(where, 'backmarket_region')} must be eu, us or ap "
            f"(got {values.get('backmarket_region')!r})"
        )
    user_agent = str(values.get("backmarket_user_agent") or "")
    if user_agent:
        try:
            validate_user_agent(user_agent)
        except ConfigurationError as exc:
            problems.append(f"{_at(where, 'backmarket_user_agent')}: {exc}")
    store_id: int | None = None
    raw_store = values.get("shipstation_store_id")
    if raw_store not in (None, ""):
        try:
            store_id = int(str(raw_store))
        except ValueError:
            problems.append(
                f"{_at(where, 'shipstation_store_id')} must be a number (got {raw_store!r})"
            )
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


def _did_you_mean(key: str) -> str:
    close = difflib.get_close_matches(key, sorted(_TOP_LEVEL_KEYS | _ACCOUNT_KEYS), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(value: object, key: str, problems: list[str]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        problems.append(f"{key} must be a number, 0 or more (got {value!r})")
        return None
    return float(value)


def _boolean(value: object, key: str, problems: list[str]) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0",
                                                             "false", "no", "off"):  # fmt: skip
        return _flag(value)
    problems.append(f"{key} must be true or false (got {value!r})")
    return None


def _build_options(
    settings: Mapping[str, Any],
    where: str,
    problems: list[str],
    base_dir: Path,
    sources: dict[str, CatalogSource],
) -> SyncOptions | None:
    """The account's :class:`SyncOptions` from its settings; each mistake names key and value."""
    before = len(problems)
    values: dict[str, Any] = {}
    for key in ("accept_orders", "notify_fulfillments", "dry_run"):
        if key in settings:
            values[key] = _boolean(settings[key], _at(where, key), problems)
    if "order_key_prefix" in settings:
        prefix = settings["order_key_prefix"]
        if not isinstance(prefix, str) or not prefix:
            problems.append(f"{_at(where, 'order_key_prefix')} must be text (got {prefix!r})")
        values["order_key_prefix"] = prefix
    overlap = _number(settings.get("overlap_minutes", 10), _at(where, "overlap_minutes"), problems)
    lookback = _number(
        settings.get("initial_lookback_days", 14), _at(where, "initial_lookback_days"), problems
    )
    expiry = _number(
        settings.get("lease_expiry_seconds", 60), _at(where, "lease_expiry_seconds"), problems
    )
    if expiry is not None and expiry < 1:
        problems.append(
            f"{_at(where, 'lease_expiry_seconds')} must be 1 or more (got {expiry:g}):"
            " a run renews its lease every third of it"
        )
    elif expiry is not None:
        values["lease_expiry"] = timedelta(seconds=expiry)
    wait = _number(
        settings.get("wait_for_lease_seconds", 0), _at(where, "wait_for_lease_seconds"), problems
    )
    if wait is not None:
        values["lease_wait"] = timedelta(seconds=wait)
    if overlap is not None:
        values["overlap"] = timedelta(minutes=overlap)
    if lookback is not None:
        values["initial_lookback"] = timedelta(days=lookback)
    if "requires_identifier" in settings:
        rule = settings["requires_identifier"]
        chosen = _REQUIRES_IDENTIFIER.get(str(rule).strip().lower().replace("-", "_"))
        if chosen is None:
            problems.append(
                f"{_at(where, 'requires_identifier')}: unknown rule {rule!r}"
                f" (one of {', '.join(_REQUIRES_IDENTIFIER)})"
            )
        values["requires_identifier"] = chosen
    if "status_map" in settings:
        values["status_map"] = _status_map(
            settings["status_map"], _at(where, "status_map"), problems
        )
    if "carrier_map" in settings:
        values["carrier_map"] = _carrier_map(
            settings["carrier_map"], _at(where, "carrier_map"), problems
        )
    if "catalog" in settings:
        values["catalog"] = _catalog(
            settings["catalog"], _at(where, "catalog"), problems, base_dir, sources
        )
    if len(problems) > before:
        return None
    return SyncOptions(**values)


_STATE_NAMES = {state.name.lower(): state for state in OrderState}
_STATUS_NAMES = ", ".join(status.value for status in OrderStatus)


def _order_state(text: object) -> OrderState | None:
    key = str(text).strip().lower()
    if key.isdigit():
        state = OrderState(int(key))
        return state if state.is_known else None
    return _STATE_NAMES.get(key)


def _order_status(text: object) -> OrderStatus | None:
    if not isinstance(text, str):
        return None
    status = OrderStatus(text.strip().lower())
    return status if status.is_known else None


def _status_map(value: object, key: str, problems: list[str]) -> StatusMap | None:
    states = ", ".join(f"{s.name.lower()} ({int(s)})" for s in OrderState)
    if not isinstance(value, Mapping):
        problems.append(f"{key} must be a table ([status_map.to_shipstation] ...)")
        return None
    for side in value:
        if side not in ("to_shipstation", "from_shipstation"):
            problems.append(f"{key}: unknown table {side!r} (to_shipstation, from_shipstation)")
    to_shipstation: dict[OrderState, OrderStatus] = {}
    for state_text, status_text in dict(value.get("to_shipstation") or {}).items():
        state, status = _order_state(state_text), _order_status(status_text)
        if state is None:
            problems.append(
                f"{key}.to_shipstation: {state_text!r} is not a Back Market order state ({states})"
            )
        elif status is None:
            problems.append(
                f"{key}.to_shipstation.{state_text}: {status_text!r} is not a ShipStation"
                f" status ({_STATUS_NAMES})"
            )
        elif state in (OrderState.NEW, OrderState.PENDING_PAYMENT, OrderState.NOT_PAID):
            problems.append(
                f"{key}.to_shipstation.{state_text}: state {int(state)} must never be imported"
                " (the order is not paid or not checked yet)"
            )
        else:
            to_shipstation[state] = status
    from_shipstation: dict[OrderStatus, OrderState] = {}
    for status_text, state_text in dict(value.get("from_shipstation") or {}).items():
        state, status = _order_state(state_text), _order_status(status_text)
        if status is None:
            problems.append(
                f"{key}.from_shipstation: {status_text!r} is not a ShipStation status"
                f" ({_STATUS_NAMES})"
            )
        elif state is None:
            problems.append(
                f"{key}.from_shipstation.{status_text}: {state_text!r} is not a Back Market"
                f" order state ({states})"
            )
        else:
            from_shipstation[status] = state
    return StatusMap(
        to_shipstation=to_shipstation or DEFAULT_STATUS_MAP.to_shipstation,
        from_shipstation=from_shipstation or DEFAULT_STATUS_MAP.from_shipstation,
    )


def _carrier_map(value: object, key: str, problems: list[str]) -> CarrierMap | None:
    if not isinstance(value, Mapping):
        problems.append(f"{key} must be a table ([carrier_map.carriers] ...)")
        return None
    tables: dict[str, dict[str, str]] = {"carriers": {}, "services": {}}
    for side, entries in value.items():
        if side not in tables:
            problems.append(f"{key}: unknown table {side!r} (carriers, services)")
            continue
        if not isinstance(entries, Mapping):
            problems.append(f'{key}.{side} must be a table of code = "Back Market shipper"')
            continue
        for code, shipper in entries.items():
            if not isinstance(shipper, str) or shipper not in BACKMARKET_SHIPPERS:
                close = difflib.get_close_matches(str(shipper), sorted(BACKMARKET_SHIPPERS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(
                    f"{key}.{side}.{code}: {shipper!r} is not a shipper Back Market lists{hint}"
                )
            else:
                tables[side][code] = shipper
    return DEFAULT_CARRIER_MAP.with_overrides(
        carriers=tables["carriers"], services=tables["services"]
    )


def _catalog(
    value: object,
    key: str,
    problems: list[str],
    base_dir: Path,
    sources: dict[str, CatalogSource],
) -> CatalogSource | None:
    if not isinstance(value, str) or not value.strip():
        problems.append(f'{key} must be "shipstation" or a file path (got {value!r})')
        return None
    if value.strip().lower() == "shipstation":
        # One for the configuration: it keeps the products of each key pair apart, and
        # accounts on one key pair then read them once per cycle between them (sync/shared.py).
        if "shipstation" not in sources:
            sources["shipstation"] = ShipStationCatalog()
        return sources["shipstation"]
    path = (base_dir / value).resolve()
    if str(path) not in sources:
        try:
            sources[str(path)] = FileCatalog(path)
        except ConfigurationError as exc:
            problems.append(f"{key} = {value!r}: {exc}")
            return None
    return sources[str(path)]


def effective_settings(account: AccountConfig) -> dict[str, Any]:
    """The account's sync settings as they apply (defaults filled in), in TOML terms."""
    options = account.options or SyncOptions()
    catalog = account.settings.get("catalog")
    rule = next(
        (name for name, f in _REQUIRES_IDENTIFIER.items() if f is options.requires_identifier),
        getattr(options.requires_identifier, "__name__", "custom"),
    )
    defaults = DEFAULT_CARRIER_MAP
    return {
        "accept_orders": options.accept_orders,
        "order_key_prefix": options.order_key_prefix,
        "overlap_minutes": options.overlap.total_seconds() / 60,
        "initial_lookback_days": options.initial_lookback.total_seconds() / 86400,
        "catalog": catalog if catalog is not None else "none",
        "requires_identifier": rule,
        "notify_fulfillments": options.notify_fulfillments,
        "dry_run": options.dry_run,
        "lease_expiry_seconds": options.lease_expiry.total_seconds(),
        "wait_for_lease_seconds": options.lease_wait.total_seconds(),
        "status_map": {
            "to_shipstation": {
                state.name.lower(): status.value
                for state, status in options.status_map.to_shipstation.items()
            },
            "from_shipstation": {
                status.value: state.name.lower()
                for status, state in options.status_map.from_shipstation.items()
            },
        },
        "carrier_map": {
            side: {
                code: name
                for code, name in getattr(options.carrier_map, side).items()
                if getattr(defaults, side).get(code) != name
            }
            for side in ("carriers", "services")
        },
    }
