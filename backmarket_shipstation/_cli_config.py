"""``backmarket-shipstation config check``: the configuration as it will apply, secrets masked.

Reads the file (``--config``), the environment and the defaults exactly as ``sync`` does, so a
mistake is found before a run: it exits 2 with every problem listed, or prints each account's
settings and exits 0. Secrets are shown as ``***`` and their length, never their value.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from .sync.config import AccountConfig, SyncConfig, effective_settings, load_config
from .sync.runner import clashing_order_keys
from .sync.state import describe_state

__all__ = ["add_config_commands", "check_config", "describe_config"]

_SECRETS = ("backmarket_token", "shipstation_api_key", "shipstation_api_secret")


def _mask(value: str) -> str:
    return f"*** ({len(value)} characters)" if value else "(empty)"


def _account(account: AccountConfig) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": account.name,
        "backmarket_region": account.backmarket_region.value,
        "backmarket_sandbox": account.backmarket_sandbox,
        "backmarket_base_url": account.backmarket_base_url
        or account.backmarket_region.base_url(sandbox=account.backmarket_sandbox),
        "backmarket_user_agent": account.backmarket_user_agent,
        "shipstation_base_url": account.shipstation_base_url or "https://ssapi.shipstation.com",
        "shipstation_store_id": account.shipstation_store_id,
    }
    for secret in _SECRETS:
        described[secret] = _mask(getattr(account, secret))
    described.update(effective_settings(account))
    return described


def _rate_limits(config: SyncConfig) -> dict[str, Any]:
    """How the run shares its rate budgets (every account alike: the settings are top-level)."""
    settings = next((a.rate_limits for a in config.accounts if a.rate_limits is not None), None)
    if settings is None:
        return {"shared_rate_limits": False}
    described: dict[str, Any] = {
        "shared_rate_limits": True,
        "backmarket_rate_limit_scope": settings.backmarket_scope,
    }
    if settings.backmarket_scope == "host":
        import socket

        described["rate_limit_host"] = settings.host or socket.gethostname()
    return described


def describe_config(config: SyncConfig) -> dict[str, Any]:
    """The effective configuration as plain data, secrets masked."""
    return {
        "state_path": describe_state(config.state_path),
        "parallel": config.parallel,
        **_rate_limits(config),
        "warnings": clashing_order_keys(config.accounts),
        "accounts": [_account(a) for a in config.accounts],
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '"(none)"'
    if isinstance(value, (int, float)):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _inline(table: dict[str, Any]) -> str:
    if not table:
        return "{}"
    return "{ " + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in table.items()) + " }"


def _key(name: str) -> str:
    return name if name.replace("_", "").isalnum() and not name[:1].isdigit() else json.dumps(name)


def check_config(config: SyncConfig, *, as_json: bool, out: TextIO) -> None:
    """Print ``config`` as TOML-like text (or JSON), one table per account."""
    described = describe_config(config)
    if as_json:
        print(json.dumps(described, indent=2), file=out)
        return
    print("# the configuration as it applies (defaults filled in, secrets masked)", file=out)
    for warning in described["warnings"]:
        print(f"# warning: {warning}", file=out)
    print(f"state_path = {_toml_value(described['state_path'])}", file=out)
    print(f"parallel = {described['parallel']}", file=out)
    for key in ("shared_rate_limits", "backmarket_rate_limit_scope", "rate_limit_host"):
        if key in described:
            print(f"{key} = {_toml_value(described[key])}", file=out)
    for account in described["accounts"]:
        print("\n[[accounts]]", file=out)
        for key, value in account.items():
            if isinstance(value, dict):
                continue
            print(f"{key} = {_toml_value(value)}", file=out)
        for key in ("status_map", "carrier_map"):
            for side, table in account[key].items():
                print(f"{key}.{side} = {_inline(table)}", file=out)


def _cmd_config_check(args: argparse.Namespace) -> int:
    check_config(load_config(args.config), as_json=args.json, out=sys.stdout)
    return 0


def add_config_commands(
    commands: argparse._SubParsersAction[Any],
    common: argparse.ArgumentParser,
) -> None:
    """Register ``config check`` on the CLI's subcommands."""
    config = commands.add_parser("config", parents=[common], help="check the configuration")
    config_commands = config.add_subparsers(title="config commands", metavar="COMMAND")
    check = config_commands.add_parser(
        "check", parents=[common], help="print the configuration as it applies, secrets masked"
    )
    check.add_argument("--config", metavar="FILE", help="TOML configuration file")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(run=_cmd_config_check)
