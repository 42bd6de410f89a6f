"""``backmarket-shipstation stock sync``: push available quantities to Back Market listings.

Reads a stock file (CSV or JSON, :func:`~backmarket_shipstation.sync.stock.file_stock_source`)
or ShipStation's V2 inventory (``--source shipstation``,
:func:`~backmarket_shipstation.sync.stock_shipstation.shipstation_stock_source`)
and runs :func:`~backmarket_shipstation.sync.stock.sync_stock` for one account, remembering
what was written in the state file. ``--sandbox`` runs it against the built-in sandbox.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .sync.stock import StockChange, StockReport

__all__ = ["add_stock_command", "render_stock_report"]

_KIND = {"to_zero": "to 0", "down": "down", "up": "up"}


def _changes(title: str, changes: tuple[StockChange, ...], lines: list[str]) -> None:
    if not changes:
        return
    lines.append(f"{title}:")
    width = max(len(c.sku) for c in changes)
    for change in changes:
        current = "?" if change.current is None else str(change.current)
        lines.append(
            f"  {_KIND[change.kind]:<5} {change.sku:<{width}}  {current} -> {change.target}"
        )


def _names(title: str, names: tuple[str, ...], lines: list[str], *, limit: int = 20) -> None:
    if not names:
        return
    shown = ", ".join(names[:limit]) + (
        f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    )
    lines.append(f"{title} ({len(names)}): {shown}")


def render_stock_report(report: StockReport) -> str:
    """The text the command prints for a report."""
    verb = "would write" if report.dry_run else "written"
    lines = [
        f"stock sync, account {report.account}{' (dry run)' if report.dry_run else ''}: "
        f"{report.listings} listings, {report.unchanged} unchanged, "
        f"{len(report.planned)} writes planned, "
        f"{len(report.planned) - len(report.deferred) if report.dry_run else len(report.written)}"
        f" {verb}, {len(report.deferred)} deferred, {len(report.failed)} failed"
    ]
    if report.dry_run:
        planned = report.planned[: len(report.planned) - len(report.deferred)]
        _changes("would write, in this order", planned, lines)
    else:
        _changes("written, in this order", report.written, lines)
    _changes("deferred to a later run (hourly SKU-line budget)", report.deferred, lines)
    for failure in report.failed:
        lines.append(f"failed: {failure.sku}: {failure.reason}")
    _names("on Back Market, not in the source (left as they are)", report.unknown_in_source, lines)
    _names("in the source, no Back Market listing", report.unknown_on_backmarket, lines)
    for problem in report.invalid:
        lines.append(f"invalid source entry: {problem}")
    lines.append(
        f"SKU-line budget: {report.budget_available} of {report.budget_per_hour} per hour "
        "available at the start"
    )
    return "\n".join(lines)


def _demo_source(quantities: Mapping[str, int], seed: int) -> dict[str, int]:
    """The sandbox's stock with one SKU in ten changed (a third of those sold out)."""
    rng = random.Random(f"stock-demo-{seed}")
    source = dict(quantities)
    for sku in sorted(quantities):
        if rng.random() < 0.1:
            draw = rng.random()
            current = max(0, quantities[sku])
            source[sku] = 0 if draw < 0.33 else max(0, current - 1) if draw < 0.66 else current + 2
    return source


def _cmd_stock_sync(args: argparse.Namespace) -> int:
    from .shipstation.inventory import ShipStationInventoryClient
    from .sync.stock import file_stock_source, sync_stock
    from .sync.stock_shipstation import shipstation_stock_source
    from .sync.store import SQLiteStore

    if args.sandbox:
        from .backmarket import BackMarketClient
        from .clock import VirtualClock
        from .sandbox import Sandbox

        box = Sandbox(
            seed=args.seed,
            orders=0,
            clock=VirtualClock(),
            backmarket_options={"listings": args.listings},
        )
        source: Any
        if args.source == "shipstation":
            # ShipStation's V2 inventory holds the stock (one SKU in ten changed).
            demo = _demo_source(box.backmarket.listings.quantities(), args.seed)
            box.shipstation_inventory.seed_from(demo)
            v2 = ShipStationInventoryClient(
                api_key=box.shipstation_v2_api_key,
                transport=box.shipstation_v2_transport(),
                clock=box.clock,
            )
            source = shipstation_stock_source(v2)
        elif args.source:
            source = file_stock_source(args.source)
        else:
            source = _demo_source(box.backmarket.listings.quantities(), args.seed)
        with (
            SQLiteStore(":memory:") as store,
            BackMarketClient(
                token=box.backmarket_token,
                user_agent=box.backmarket_user_agent,
                transport=box.backmarket_transport(),
                clock=box.clock,
            ) as bm,
        ):
            report = sync_stock(bm, source, store, dry_run=args.dry_run, wait=args.wait)
        return _print(args, report)

    from .errors import ConfigurationError
    from .sync.config import load_config
    from .sync.runner import backmarket_client

    if not args.source:
        raise ConfigurationError(
            "stock sync needs --source FILE (a .csv or .json stock file) or --source shipstation"
        )
    config = load_config(args.config, overrides={"state_path": args.state} if args.state else None)
    account = config.accounts[0]
    if args.account is not None:
        named = [a for a in config.accounts if a.name == args.account]
        if not named:
            names = ", ".join(a.name for a in config.accounts)
            raise ConfigurationError(f"no account named {args.account!r} (accounts: {names})")
        account = named[0]
    from .sync.state import is_postgres, sqlite_path

    if is_postgres(config.state_path) and not args.dry_run:
        # The stock table lives behind its own StockStore protocol, which only the SQLite
        # store implements so far (docs/guides/stock.md).
        raise ConfigurationError(
            "stock sync keeps its state in a SQLite file for now: the PostgreSQL store has no "
            "stock table yet; give --state a file path"
        )
    path = ":memory:" if args.dry_run else sqlite_path(config.state_path)
    live_source: Any = (
        shipstation_stock_source(_v2_client(), inventory_warehouse_id=args.inventory_warehouse)
        if args.source == "shipstation"
        else file_stock_source(args.source)
    )
    with SQLiteStore(path) as store, backmarket_client(account) as bm:
        report = sync_stock(
            bm,
            live_source,
            store,
            account=account.name,
            dry_run=args.dry_run,
            wait=args.wait,
        )
    return _print(args, report)


def _v2_client() -> Any:
    """The ShipStation V2 client of ``--source shipstation``, from the environment."""
    import os

    from .errors import ConfigurationError
    from .shipstation.inventory import ShipStationInventoryClient

    key = os.environ.get("SHIPSTATION_V2_API_KEY", "").strip()
    if not key:
        raise ConfigurationError(
            "--source shipstation reads ShipStation's V2 inventory: set SHIPSTATION_V2_API_KEY "
            "(Settings > API Settings > V2 API; not the V1 key and secret)"
        )
    return ShipStationInventoryClient(
        api_key=key, base_url=os.environ.get("SHIPSTATION_V2_BASE_URL") or None
    )


def _print(args: argparse.Namespace, report: StockReport) -> int:
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(render_stock_report(report))
    return 1 if report.failed else 0


def add_stock_command(
    commands: Any, common: argparse.ArgumentParser, config_options: Callable[..., None]
) -> None:
    """Add ``stock sync`` to the ``backmarket-shipstation`` parser."""
    stock = commands.add_parser("stock", parents=[common], help="Back Market listing stock")
    stock_commands = stock.add_subparsers(title="stock commands", metavar="COMMAND")
    sync = stock_commands.add_parser(
        "sync",
        parents=[common],
        help="push available quantities from a stock file to Back Market",
        description=(
            "Set each Back Market listing's quantity to what the stock file says is available: "
            "only changed quantities are written, decreases and sell-outs first, within the "
            "hourly SKU-line budget (the rest on a later run)."
        ),
    )
    config_options(sync)
    sync.add_argument(
        "--source",
        metavar="FILE|shipstation",
        help="stock file: .csv (sku + available/quantity) or .json; or 'shipstation' for "
        "ShipStation's V2 inventory (SHIPSTATION_V2_API_KEY)",
    )
    sync.add_argument(
        "--inventory-warehouse",
        metavar="ID",
        help="with --source shipstation: one V2 inventory warehouse (default: all, summed)",
    )
    sync.add_argument("--account", metavar="NAME", help="account name (default: the first)")
    sync.add_argument("--dry-run", action="store_true", help="list the writes, send nothing")
    sync.add_argument(
        "--wait",
        action="store_true",
        help="wait for the hourly budget instead of deferring what does not fit (may take hours)",
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.add_argument(
        "--sandbox",
        action="store_true",
        help="run against the built-in sandbox (without --source: its stock, 1 SKU in 10 changed)",
    )
    sync.add_argument(
        "--listings", type=int, default=250, metavar="N", help="sandbox listings (default 250)"
    )
    sync.add_argument("--seed", type=int, default=0, help="sandbox data seed (default 0)")
    sync.set_defaults(run=_cmd_stock_sync)
