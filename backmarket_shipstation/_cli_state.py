"""``backmarket-shipstation state migrate`` and ``state copy SRC DST``.

``migrate`` creates or upgrades the state's schema (a PostgreSQL database; a SQLite file is
brought up to date by opening it) and says from which version to which. ``copy`` moves a
state between stores, SQLite to PostgreSQL and back, with cursors, order records, write
records (``pending`` ones too) and failures; it refuses a target that holds any state.
A PostgreSQL URL's password is never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["add_state_commands"]

_EXIT_OK = 0


def add_state_commands(
    commands: Any, common: argparse.ArgumentParser, config_options: Callable[..., None]
) -> None:
    """Add ``state migrate`` and ``state copy`` to the ``backmarket-shipstation`` parser."""
    state = commands.add_parser(
        "state", parents=[common], help="upgrade the state's schema, copy a state between stores"
    )
    state_commands = state.add_subparsers(title="state commands", metavar="COMMAND")
    migrate = state_commands.add_parser(
        "migrate", parents=[common], help="create or upgrade the state's schema"
    )
    config_options(migrate)
    migrate.add_argument("--json", action="store_true", help="print JSON")
    migrate.set_defaults(run=run_state_migrate)
    copy = state_commands.add_parser(
        "copy",
        parents=[common],
        help="copy a state to an empty store (SQLite file <-> postgresql:// URL)",
    )
    copy.add_argument("source", metavar="SRC", help="the state to copy: a file or a URL")
    copy.add_argument("target", metavar="DST", help="an empty state: a file or a URL")
    copy.add_argument("--json", action="store_true", help="print JSON")
    copy.set_defaults(run=run_state_copy)


def _state_of(args: argparse.Namespace) -> str:
    """--state, $BACKMARKET_SHIPSTATION_STATE, the configuration file's, or the default."""
    from .sync.config import read_config_file
    from .sync.store import DEFAULT_STATE_PATH

    if args.state:
        return str(args.state)
    if os.environ.get("BACKMARKET_SHIPSTATION_STATE"):
        return os.environ["BACKMARKET_SHIPSTATION_STATE"]
    if args.config:
        return str(read_config_file(args.config).get("state_path") or DEFAULT_STATE_PATH)
    return DEFAULT_STATE_PATH


def run_state_migrate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from .sync.state import describe_state, is_postgres, open_store

    out = out or sys.stdout
    state = _state_of(args)
    shown = describe_state(state)
    if is_postgres(state):
        from .sync.postgres_store import PostgresStore

        with PostgresStore(state) as store:
            before, after = store.found_version, store.schema_version()
        result: dict[str, Any] = {"state": shown, "store": "postgresql"}
        result.update(before=before, after=after)
        text = (
            f"state {shown}: schema version {after}, already current"
            if before == after
            else f"state {shown}: schema version {before} -> {after}"
        )
    else:
        # SQLite brings its tables up to date whenever the file is opened.
        with open_store(state):
            pass
        result = {"state": shown, "store": "sqlite"}
        text = f"state {shown}: SQLite tables up to date"
    print(json.dumps(result) if args.json else text, file=out, flush=True)
    return _EXIT_OK


def run_state_copy(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from .sync.state import copy_state, describe_state, open_store

    out = out or sys.stdout
    source_name, target_name = str(args.source), str(args.target)
    with (
        open_store(source_name, read_only=True) as source,
        open_store(target_name) as target,
    ):
        result = copy_state(source, target, target_name=target_name)
    summary = {
        "source": describe_state(source_name),
        "target": describe_state(target_name),
        "accounts": result.accounts,
        "cursors": result.cursors,
        "orders": result.orders,
        "writes": result.writes,
        "pending_writes": result.pending,
        "failures": result.failures,
    }
    if args.json:
        print(json.dumps(summary), file=out, flush=True)
        return _EXIT_OK
    print(
        f"copied {summary['source']} -> {summary['target']}: {result.accounts} accounts,"
        f" {result.cursors} cursors, {result.orders} orders, {result.writes} write records"
        f" ({result.pending} pending: the next run settles them), {result.failures} failures",
        file=out,
        flush=True,
    )
    return _EXIT_OK
