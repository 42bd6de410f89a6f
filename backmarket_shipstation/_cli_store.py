"""``backmarket-shipstation store serve``: serve Back Market as a ShipStation Custom Store.

Live, it reads the configuration (:mod:`backmarket_shipstation.customstore.config`), reads
Back Market into the export feed, prints each account's URL and serves until SIGINT or
SIGTERM. With ``--sandbox`` it serves the built-in sandbox's orders and plays ShipStation
against them (export in pages, notices with splits, repeats and empty bodies), prints what
happened and exits: the whole round trip with no credentials, like ``sync --sandbox``.

The Custom Store needs the ``customstore`` extra (defusedxml); without it the command says
so in one line and exits with 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["add_store_commands"]

_EXIT_OK = 0
_EXIT_FAILED = 1
_EXIT_CONFIG = 2
_MISSING_EXTRA = (
    "store serve needs the Custom Store extra: pip install 'backmarket-shipstation[customstore]'"
)


def add_store_commands(
    commands: Any, common: argparse.ArgumentParser, config_options: Callable[..., None]
) -> None:
    """Add ``store serve`` to the ``backmarket-shipstation`` parser."""
    store = commands.add_parser("store", parents=[common], help="serve a ShipStation Custom Store")
    store_commands = store.add_subparsers(title="store commands", metavar="COMMAND")
    serve = store_commands.add_parser(
        "serve", parents=[common], help="ShipStation pulls orders and pushes shipments here"
    )
    config_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any)")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        help="round trip on the built-in sandbox: a simulated ShipStation, no credentials",
    )
    serve.add_argument("--orders", type=int, default=50, help="sandbox orders (default 50)")
    serve.add_argument("--seed", type=int, default=0, help="sandbox data seed (default 0)")
    serve.set_defaults(run=run_store_serve)


def run_store_serve(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if importlib.util.find_spec("defusedxml") is None:
        print(f"backmarket-shipstation: {_MISSING_EXTRA}", file=sys.stderr)
        return _EXIT_CONFIG
    if args.sandbox:
        return _serve_sandbox(args, out)
    return _serve_live(args, out)


def _serve_sandbox(args: argparse.Namespace, out: TextIO) -> int:
    from .customstore.sandbox_run import store_round_trip

    def say(step: str) -> None:
        print(step, file=sys.stderr, flush=True)

    result = store_round_trip(
        orders=args.orders,
        seed=args.seed,
        state_path=args.state or ":memory:",
        on_step=say,
        on_url=lambda url: print(f"Custom Store URL (sandbox): {url}", file=out, flush=True),
    )
    outcomes = ", ".join(f"{count} x {status}" for status, count in sorted(result.outcomes.items()))
    print(
        "\n".join(
            [
                f"exported: {result.exported} orders in {result.export_requests} pages"
                f" ({result.distinct_exported} distinct)",
                f"notices posted: {result.notices} ({outcomes})",
                f"refused for a missing IMEI, then sent once typed: {result.refused_then_fixed}",
                f"Back Market: {result.ship_writes} ship writes for {result.shipped_orders}"
                f" shipped orders, {result.identifier_writes} identifier writes,"
                f" {result.orders_shipped_twice} orders shipped twice,"
                f" {result.identifiers_wrong} wrong identifiers",
                f"failures left: {result.failures_left}",
            ]
        ),
        file=out,
        flush=True,
    )
    return _EXIT_OK if result.exit_code == 0 else _EXIT_FAILED


def _serve_live(args: argparse.Namespace, out: TextIO) -> int:
    from .customstore.config import load_store_config
    from .customstore.server import StoreServer, build_store

    config = load_store_config(args.config)
    if args.state:
        import attrs

        config = attrs.evolve(config, state_path=args.state)
    with build_store(config) as running:
        server = StoreServer(
            running,
            host=args.host,
            port=args.port,
            refresh_seconds=config.refresh_interval.total_seconds(),
        )
        print("reading Back Market into the export feed...", file=sys.stderr, flush=True)
        server.start(refresh_first=True)
        try:
            print(
                "Custom Store URLs (type them in ShipStation, with the store credentials):",
                file=out,
            )
            for account in config.accounts:
                print(f"  [{account.name}] {server.url(account.name)}", file=out, flush=True)
            print("press Ctrl-C to stop", file=out, flush=True)
            stop = threading.Event()
            previous = None
            if threading.current_thread() is threading.main_thread():
                previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
            try:
                while not stop.is_set():
                    server.wait(0.5)
            finally:
                if previous is not None:
                    signal.signal(signal.SIGTERM, previous)
        finally:
            server.stop()
    return _EXIT_OK
