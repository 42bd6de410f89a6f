"""The ``backmarket-shipstation`` command: sync, look at orders, run the sandbox, receive webhooks.

Exit codes scripts can rely on:

- ``0``: everything went through;
- ``1``: some orders failed (listed in the report; retried on the next run);
- ``2``: configuration error (missing or invalid settings, rejected credentials);
- ``2`` also when a port to listen on is taken, or a state path is unusable;
- ``3``: the run stopped on an API or network error, or lost its PostgreSQL state store
  (nothing is lost: the next run resumes);
- ``130``: interrupted;
- ``141``: the output was cut short (``status | head``), as for other Unix tools.

See docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import __version__
from ._cli_config import add_config_commands
from ._cli_orders import list_orders, show_order
from ._cli_refund import add_refund_command
from ._cli_state import add_state_commands
from ._cli_status import collect, dump_json, print_status
from ._cli_stock import add_stock_command
from ._cli_store import add_store_commands
from ._cli_webhook import DEFAULT_LIMITS as WEBHOOK_LIMITS
from ._cli_webhook import WebhookReceiver
from ._serving import ServerLimits, add_limit_options, limits_from_args
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BackMarketShipStationError,
    ConfigurationError,
    FirewallBlockedError,
    PermissionDeniedError,
    StateStoreError,
    StateStoreUnavailableError,
)
from .sync import (
    AccountConfig,
    SyncConfig,
    engines,
    load_config,
    run_sync,
)
from .sync.config import read_config_file
from .sync.state import describe_state, is_postgres, open_store, sqlite_path
from .sync.store import DEFAULT_STATE_PATH

if TYPE_CHECKING:
    from .sync import SandboxRoundTrip


# The sandbox (simulators, seeded data, server) is half of the import time of this module;
# these two doors load it only when a sandbox command runs.
def round_trip(**options: Any) -> SandboxRoundTrip:
    """:func:`backmarket_shipstation.sync.round_trip`, imported on first use."""
    from .sync.sandbox_run import round_trip as run

    return run(**options)


def serve_forever(*args: Any, **options: Any) -> None:
    """:func:`backmarket_shipstation.sandbox.serve_forever`, imported on first use."""
    from .sandbox import serve_forever as serve

    serve(*args, **options)


__all__ = ["EXIT_API_ERROR", "EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
"""Some orders failed; the report says which and why."""
EXIT_CONFIG = 2
EXIT_API_ERROR = 3
"""An API or network error stopped the run before it finished."""
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: the reader of our output went away (``| head``)."""

logger = logging.getLogger("backmarket_shipstation.cli")

_CREDENTIAL_VARIABLES = (
    "BACKMARKET_TOKEN",
    "BACKMARKET_USER_AGENT",
    "SHIPSTATION_API_KEY",
    "SHIPSTATION_API_SECRET",
)


class _UsageError(Exception):
    """A command line argparse refuses; reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a one-line message for a bad command line instead of usage + error
    (the subcommand parsers are of the same class: argparse builds them from this one)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr, flush=True)
        return EXIT_CONFIG
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    # The servers run unattended: what they refuse (a forged webhook) is shown by default.
    quiet = logging.WARNING if getattr(args, "server", False) else logging.ERROR
    with _logging_to_stderr(args.verbose, quiet=quiet):
        return _run(command, args)


def _run(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command; every error the SDK raises becomes a message and an exit code."""
    try:
        return command(args)
    except ConfigurationError as exc:
        _error(f"configuration error: {exc}")
        return EXIT_CONFIG
    except (AuthenticationError, PermissionDeniedError) as exc:
        if isinstance(exc, FirewallBlockedError):
            # A page the API did not state (backmarket.md §6.4): passing, not a bad setting.
            _error(f"blocked on the way to {exc.api} (firewall or proxy, try again later): {exc}")
            return EXIT_API_ERROR
        _error(f"credentials refused: {exc}")
        return EXIT_CONFIG
    except (APIError, APIConnectionError) as exc:
        _error(f"stopped on an API error: {exc}")
        return EXIT_API_ERROR
    except StateStoreUnavailableError as exc:
        _error(f"stopped: the state store is out of reach: {exc}")
        return EXIT_API_ERROR
    except StateStoreError as exc:
        _error(f"configuration error: {exc}")
        return EXIT_CONFIG
    except BackMarketShipStationError as exc:
        _error(f"error: {exc}")
        return EXIT_API_ERROR
    except sqlite3.Error as exc:
        # SQLite names no path in its messages ("unable to open database file").
        state = getattr(args, "state", None) or os.environ.get("BACKMARKET_SHIPSTATION_STATE")
        where = f" {describe_state(state)}" if state else ""
        _error(f"configuration error: cannot use the state file{where}: {exc}")
        return EXIT_CONFIG
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader closed the pipe: nothing more to say, and nothing to say it to. Point
        # stdout at devnull so that the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


# --------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    verbose_help = (
        "log to stderr: -v for INFO (and warnings), -vv for DEBUG"
        " (default: errors only; errors and warnings for the servers)"
    )
    parser = _Parser(
        prog="backmarket-shipstation",
        description="Sync Back Market orders with ShipStation, and look at both sides.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    # -v is accepted after a command too. SUPPRESS: a subcommand without -v must not reset
    # the count given before it (argparse copies a subparser's defaults over the parent's).
    common = _Parser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="count", default=argparse.SUPPRESS, help=verbose_help
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def config_options(p: argparse.ArgumentParser, *, state: bool = True) -> None:
        p.add_argument("--config", metavar="FILE", help="TOML configuration file")
        if state:
            p.add_argument(
                "--state",
                metavar="STATE",
                help="SQLite state file (or sqlite:///PATH), or a postgresql:// URL",
            )

    sync = commands.add_parser(
        "sync", parents=[common], help="import orders, send shipments back (once or --watch)"
    )
    config_options(sync)
    sync.add_argument("--dry-run", action="store_true", help="read everything, write nothing")
    sync.add_argument(
        "--catalog",
        metavar="SOURCE",
        help='"shipstation" (its product records) or a .csv/.toml/.json file (overrides the file)',
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    sync.add_argument("--watch", action="store_true", help="repeat until SIGINT or SIGTERM")
    sync.add_argument(
        "--interval",
        type=_positive_float,
        default=300.0,
        metavar="SECONDS",
        help="pause between runs with --watch (default 300)",
    )
    sync.add_argument(
        "--wait-for-lease",
        type=_non_negative_float,
        metavar="SECONDS",
        help="wait up to SECONDS for an account another run holds (default 0: skip it)",
    )
    sync.add_argument(
        "--lease-expiry",
        type=_lease_expiry,
        metavar="SECONDS",
        help="an account's lease lasts SECONDS unless renewed (default 60): a run that died is"
        " taken over after it",
    )
    sync.add_argument(
        "--parallel",
        type=_limit,
        metavar="N",
        help="sync N accounts at a time (default: the file's `parallel`, else 8)",
    )
    sync.add_argument(
        "--sandbox", action="store_true", help="round trip on the built-in sandbox, no credentials"
    )
    sync.add_argument("--orders", type=_count, default=50, help="sandbox orders (default 50)")
    sync.add_argument("--seed", type=int, default=0, help="sandbox data seed (default 0)")
    sync.add_argument(
        "--forget-every",
        type=_count,
        default=10,
        metavar="N",
        help="sandbox: leave every N-th order without its IMEI (default 10; 0: none)",
    )
    sync.set_defaults(run=_cmd_sync)

    orders = commands.add_parser("orders", parents=[common], help="list or show orders")
    order_commands = orders.add_subparsers(title="orders commands", metavar="COMMAND")
    for name, helptext in (("list", "list recent orders"), ("show", "one order in full")):
        sub = order_commands.add_parser(name, parents=[common], help=helptext)
        # No state file here: --state is the Back Market order state filter.
        config_options(sub, state=False)
        sub.add_argument("--side", choices=("backmarket", "shipstation"), required=True)
        sub.add_argument("--account", metavar="NAME", help="account name (default: the first)")
        sub.add_argument("--json", action="store_true", help="print JSON")
        if name == "list":
            filters = sub.add_mutually_exclusive_group()
            filters.add_argument(
                "--state",
                type=_order_state,
                dest="order_state",
                metavar="N",
                help="Back Market order state (1 to accept, 3 to ship, 9 shipped...)",
            )
            filters.add_argument(
                "--status", metavar="S", help="ShipStation order status (awaiting_shipment...)"
            )
            sub.add_argument("--limit", type=_limit, default=20, help="at most N (default 20)")
            sub.set_defaults(run=_cmd_orders_list)
        else:
            sub.add_argument("order_id", type=int, metavar="ID", help="order id on that side")
            sub.set_defaults(run=_cmd_orders_show)

    sandbox = commands.add_parser("sandbox", parents=[common], help="the built-in sandbox")
    sandbox_commands = sandbox.add_subparsers(title="sandbox commands", metavar="COMMAND")
    serve = sandbox_commands.add_parser(
        "serve", parents=[common], help="serve both simulated APIs on loopback"
    )
    serve.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0: any)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument(
        "--orders", type=_count, default=50, help="orders (of each account; default 50)"
    )
    serve.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    serve.add_argument(
        "--accounts",
        type=_count,
        default=None,
        metavar="K",
        help="an agency: K sellers, their stores on one ShipStation key pair",
    )
    serve.add_argument(
        "--key-pair-each",
        action="store_true",
        help="with --accounts: a ShipStation account and key pair per seller",
    )
    serve.add_argument(
        "--write-config",
        metavar="FILE",
        help="with --accounts: write the TOML configuration of every account to FILE",
    )
    serve.add_argument(
        "--state",
        metavar="STATE",
        help="with --write-config: the file's state_path (default backmarket-shipstation.sqlite3)",
    )
    serve.set_defaults(run=_cmd_sandbox_serve)

    status = commands.add_parser(
        "status", parents=[common], help="cursors, pending writes and failures from the state"
    )
    config_options(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument(
        "--account",
        action="append",
        metavar="NAME",
        help="only this account, shown in full (repeat for several)",
    )
    status.set_defaults(run=_cmd_status)

    webhook = commands.add_parser("webhook", parents=[common], help="ShipStation webhooks")
    webhook_commands = webhook.add_subparsers(title="webhook commands", metavar="COMMAND")
    receive = webhook_commands.add_parser(
        "serve", parents=[common], help="receive SHIP_NOTIFY and notify Back Market at once"
    )
    config_options(receive)
    receive.add_argument("--port", type=_port, default=8080, help="port (default 8080; 0: any)")
    receive.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    receive.add_argument(
        "--path-token",
        metavar="TOKEN",
        default=os.environ.get("BACKMARKET_SHIPSTATION_WEBHOOK_TOKEN"),
        help="shared secret in the path (default $BACKMARKET_SHIPSTATION_WEBHOOK_TOKEN)",
    )
    add_limit_options(receive, WEBHOOK_LIMITS)
    receive.set_defaults(run=_cmd_webhook_serve, server=True)
    add_store_commands(commands, common, config_options)
    add_refund_command(commands, common, config_options)
    add_state_commands(commands, common, config_options)
    add_stock_command(commands, common, config_options)
    add_config_commands(commands, common)
    return parser


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more (got {text!r})")
    return value


def _lease_expiry(text: str) -> float:
    value = _non_negative_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"a lease expiry shorter than 1 second cannot be renewed in time (got {text!r})"
        )
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _limit(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _order_state(text: str) -> int:
    from .backmarket.models import OrderState

    known = ", ".join(f"{int(s)} {s.name.lower()}" for s in OrderState)
    problem = f"{text!r} is not a Back Market order state ({known})"
    try:
        state = OrderState(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if not state.is_known:
        raise argparse.ArgumentTypeError(problem)
    return int(state)


def _port(text: str) -> int:
    value = _count(text)
    if value > 65535:
        raise argparse.ArgumentTypeError("must be 0 to 65535")
    return value


@contextmanager
def _logging_to_stderr(verbosity: int, *, quiet: int = logging.ERROR) -> Iterator[None]:
    """Log the SDK's records to stderr for the command's duration, then put things back
    (``main`` also runs in-process, in tests and embedding programs). ``quiet``: the level
    without ``-v``."""
    level = quiet if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger("backmarket_shipstation")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    saved = (root.level, root.propagate)
    root.setLevel(level)
    root.addHandler(handler)
    # Not also through the root logger: the records would be printed twice.
    root.propagate = False
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]


def _error(message: str) -> None:
    print(f"backmarket-shipstation: {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------


class ProgressLine:
    """``progress(stage, count)`` for the sync engine: one rewritten line on a terminal, a
    plain line per hundred orders otherwise (log files, cron mail)."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, every: int = 100) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._every = every
        self._drawn = False

    def __call__(self, stage: str, count: int) -> None:
        if self._tty:
            self._stream.write(f"\r\x1b[K{stage}: {count} orders")
            self._stream.flush()
            self._drawn = True
        elif count and count % self._every == 0:
            print(f"{stage}: {count} orders", file=self._stream, flush=True)

    def done(self) -> None:
        """Clear the terminal line so that the report starts on a clean one."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._drawn = False


# --------------------------------------------------------------------------------------
# sync
# --------------------------------------------------------------------------------------


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {"state_path": args.state} if args.state else {}
    if getattr(args, "dry_run", False):
        overrides["dry_run"] = True
    if getattr(args, "wait_for_lease", None) is not None:
        overrides["wait_for_lease_seconds"] = args.wait_for_lease
    if getattr(args, "lease_expiry", None) is not None:
        overrides["lease_expiry_seconds"] = args.lease_expiry
    if getattr(args, "parallel", None) is not None:
        overrides["parallel"] = args.parallel
    if getattr(args, "catalog", None):
        # A path on the command line is relative to the working directory, not the file's.
        catalog = args.catalog
        overrides["catalog"] = (
            catalog if catalog.strip().lower() == "shipstation" else str(Path(catalog).resolve())
        )
    return overrides


def _no_credentials(args: argparse.Namespace) -> bool:
    return args.config is None and not any(os.environ.get(v) for v in _CREDENTIAL_VARIABLES)


def _cmd_sync(args: argparse.Namespace) -> int:
    progress = ProgressLine(sys.stderr)
    sandbox = args.sandbox
    if not sandbox and _no_credentials(args):
        _error(
            "no credentials configured (no --config, no BACKMARKET_TOKEN, SHIPSTATION_API_KEY...):"
            " running the built-in sandbox instead"
        )
        sandbox = True
    if sandbox:
        if args.state:
            _check_state_path(args.state)

        def once() -> int:
            return _sync_sandbox(args, progress)

    else:
        config = load_config(args.config, overrides=_overrides(args))
        _check_state_path(config.state_path)

        def once() -> int:
            return _sync_live(config, args, progress)

    if not args.watch:
        return once()
    return _watch(once, args.interval)


def _sync_live(config: SyncConfig, args: argparse.Namespace, progress: ProgressLine) -> int:
    # Nothing synced yet and nothing to write: a dry run leaves no empty state file.
    state = config.state_path
    fresh_dry_run = (
        args.dry_run and not is_postgres(state) and not Path(sqlite_path(state)).exists()
    )
    try:
        with open_store(":memory:" if fresh_dry_run else state) as store:
            # --dry-run is in the configuration's options (load_config): every other setting
            # stays as configured.
            report = run_sync(config, store=store, progress=progress)
    finally:
        progress.done()
    print(report.to_json() if args.json else report.to_text(), flush=True)
    named = len(report.accounts) > 1
    for account in report.errors:
        assert account.error is not None
        _error(f"[{account.account}] {account.error.message}" if named else account.error.message)
    if args.watch and report.accounts and all(a.exit_code == EXIT_CONFIG for a in report.accounts):
        # Every account has a setting to fix (refused credentials...): retrying cannot help.
        # One account's alone does not end the watch: the others still need it.
        raise _GiveUp(EXIT_CONFIG)
    return report.exit_code


class _GiveUp(Exception):
    """Ends a ``--watch``: no run can succeed until a person fixes the settings."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _sync_sandbox(args: argparse.Namespace, progress: ProgressLine) -> int:
    def say(step: str) -> None:
        progress.done()
        if not args.json:
            print(step, file=sys.stderr, flush=True)

    try:
        result = round_trip(
            orders=args.orders,
            seed=args.seed,
            forget_every=args.forget_every,
            state_path=args.state or ":memory:",
            dry_run=args.dry_run,
            progress=progress,
            on_step=say,
        )
    finally:
        progress.done()
    code = result.exit_code
    if args.json:
        print(json.dumps(_round_trip_dict(result, code), indent=2), flush=True)
    else:
        print(_round_trip_text(result), flush=True)
    return code


def _round_trip_dict(result: SandboxRoundTrip, code: int) -> dict[str, Any]:
    return {
        "import": result.imported.to_dict(),
        "notify": result.notified.to_dict(),
        "recovered": None if result.recovered is None else result.recovered.to_dict(),
        "labels_bought": result.labels_bought,
        "backship_marked_shipped": result.marked_shipped,
        "left_without_identifiers": result.left_without_identifiers,
        "exit_code": code,
    }


def _round_trip_text(result: SandboxRoundTrip) -> str:
    missing = [
        failure
        for report in result.notified.accounts
        for failure in report.failures
        if failure.error.endswith("IdentifierError") or "IMEI" in failure.error
    ]
    summary = [
        "",
        "summary",
        f"  labels bought in ShipStation: {result.labels_bought}",
        *(
            [f"  BackShip orders marked shipped (Back Market's label): {result.marked_shipped}"]
            if result.marked_shipped
            else []
        ),
        f"  shipments sent to Back Market: {sum(a.notified for a in result.notified.accounts)}",
        f"  orders packed without an IMEI or serial: {result.left_without_identifiers}",
    ]
    if missing:
        ids = ", ".join(str(f.order_id) for f in missing)
        summary.append(
            f"  reported in sync 2 and not shipped on Back Market: {ids}; nothing wrong was sent"
        )
    runs = [
        "sync 1 (import)",
        result.imported.to_text(),
        "sync 2 (notify)",
        result.notified.to_text(),
    ]
    if result.recovered is not None:
        sent = sum(a.notified for a in result.recovered.accounts)
        runs += ["sync 3 (after the packer typed the missing IMEIs)", result.recovered.to_text()]
        summary.append(f"  sent in sync 3, once their IMEIs were typed: {sent}")
    return "\n".join([*runs, *summary])


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (the current run finishes); a second one interrupts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        # Printed, not only logged: without -v the log shows errors only, and whoever sent
        # the signal should know at once that it was heard.
        _error(f"signal {signum}: stopping after the current run (send it again to interrupt)")
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _watch(once: Callable[[], int], interval: float) -> int:
    """Run ``once`` every ``interval`` seconds until a signal; the last run's exit code."""
    stop = threading.Event()
    code = EXIT_OK
    with _stop_signals(stop):
        while True:
            try:
                code = once()
            except _GiveUp as given_up:
                return given_up.code
            except (AuthenticationError, PermissionDeniedError) as exc:
                if not isinstance(exc, FirewallBlockedError):
                    raise  # refused credentials: exit 2 now, as retrying cannot fix them
                _error(f"run stopped on an API error, retrying in {interval:g} s: {exc}")
                code = EXIT_API_ERROR
            except (APIError, APIConnectionError) as exc:
                # A daemon outlives a network hiccup; the next run resumes from the cursors.
                _error(f"run stopped on an API error, retrying in {interval:g} s: {exc}")
                code = EXIT_API_ERROR
            if stop.is_set() or stop.wait(interval):
                return code


# --------------------------------------------------------------------------------------
# orders
# --------------------------------------------------------------------------------------


def _account(args: argparse.Namespace) -> AccountConfig:
    config = load_config(args.config)
    if args.account is None:
        return config.accounts[0]
    for account in config.accounts:
        if account.name == args.account:
            return account
    names = ", ".join(a.name for a in config.accounts)
    raise ConfigurationError(f"no account named {args.account!r} (accounts: {names})")


def _cmd_orders_list(args: argparse.Namespace) -> int:
    if args.side == "backmarket" and args.status is not None:
        raise ConfigurationError("--status is for --side shipstation; use --state N")
    if args.side == "shipstation" and args.order_state is not None:
        raise ConfigurationError("--state is for --side backmarket; use --status S")
    list_orders(
        _account(args),
        side=args.side,
        state=args.order_state,
        status=args.status,
        limit=args.limit,
        as_json=args.json,
        out=sys.stdout,
    )
    return EXIT_OK


def _cmd_orders_show(args: argparse.Namespace) -> int:
    show_order(
        _account(args), side=args.side, order_id=args.order_id, as_json=args.json, out=sys.stdout
    )
    return EXIT_OK


# --------------------------------------------------------------------------------------
# sandbox serve
# --------------------------------------------------------------------------------------


@contextmanager
def _listening(host: str, port: int) -> Iterator[None]:
    """A port that cannot be bound (taken, privileged, a bad address) is a setup problem."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        reason = exc.strerror or str(exc)
        raise ConfigurationError(f"cannot listen on {host}:{port}: {reason}") from None


def _cmd_sandbox_serve(args: argparse.Namespace) -> int:
    if args.accounts is None:
        if args.key_pair_each or args.write_config or args.state:
            raise ConfigurationError(
                "--key-pair-each, --write-config and --state go with --accounts K"
            )
        with _listening(args.host, args.port):
            serve_forever(args.port, args.host, seed=args.seed, orders=args.orders, out=sys.stdout)
        return EXIT_OK
    from .sandbox.agency import serve_agency_forever

    if args.accounts < 1:
        raise ConfigurationError("--accounts: an agency has at least one account")
    with _listening(args.host, args.port):
        serve_agency_forever(
            args.port,
            args.host,
            accounts=args.accounts,
            orders_per_account=args.orders,
            seed=args.seed,
            shared_key_pair=not args.key_pair_each,
            config_path=args.write_config,
            state=args.state or "backmarket-shipstation.sqlite3",
            out=sys.stdout,
        )
    return EXIT_OK


# --------------------------------------------------------------------------------------
# status
# --------------------------------------------------------------------------------------


def _state_path(args: argparse.Namespace) -> str:
    """The state file: --state, $BACKMARKET_SHIPSTATION_STATE, the config's, or the default.

    Read without validating the rest of the configuration: looking at the state needs no
    credentials.
    """
    if args.state:
        return str(args.state)
    if os.environ.get("BACKMARKET_SHIPSTATION_STATE"):
        return os.environ["BACKMARKET_SHIPSTATION_STATE"]
    if args.config:
        return str(read_config_file(args.config).get("state_path") or DEFAULT_STATE_PATH)
    return DEFAULT_STATE_PATH


def _check_state_path(state: str) -> None:
    """A state path that names a directory cannot become a state file: say so up front."""
    if is_postgres(state):
        return
    path = sqlite_path(state)
    if path != ":memory:" and Path(path).is_dir():
        raise ConfigurationError(f"state path {path} is a directory, not a file")


def _cmd_status(args: argparse.Namespace) -> int:
    state = _state_path(args)
    _check_state_path(state)
    if not is_postgres(state):
        path = sqlite_path(state)
        if path == ":memory:" or not Path(path).is_file():
            raise ConfigurationError(
                f"no state file at {path} (nothing synced yet, or wrong --state)"
            )
    wanted = list(args.account or [])
    configured = _configured_accounts(args)
    # Read-only: looking at the state must work on a file this user may not write, or with
    # a PostgreSQL role that may only read.
    with open_store(state, read_only=True) as store:
        statuses = collect(store, configured)
    if wanted:
        known = [s.account for s in statuses]
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise ConfigurationError(
                f"no account {', '.join(unknown)} in the state or the configuration"
                f" (accounts: {', '.join(known) or 'none'})"
            )
        statuses = [s for s in statuses if s.account in wanted]
    now = datetime.now(timezone.utc)
    shown = describe_state(state)
    if args.json:
        dump_json(shown, statuses, now, sys.stdout)
    else:
        print_status(shown, statuses, now, sys.stdout, blocks=bool(wanted) or len(statuses) == 1)
    return EXIT_OK


def _configured_accounts(args: argparse.Namespace) -> list[str]:
    """The account names of the configuration file, read without checking the rest."""
    if not args.config:
        return []
    accounts = read_config_file(args.config).get("accounts")
    if not isinstance(accounts, list):
        return []
    return [
        str(a["name"]) for a in accounts if isinstance(a, dict) and isinstance(a.get("name"), str)
    ]


# --------------------------------------------------------------------------------------
# webhook serve
# --------------------------------------------------------------------------------------


def serve_webhooks(
    config: SyncConfig,
    *,
    host: str,
    port: int,
    path_token: str | None,
    out: TextIO,
    ready: Callable[[WebhookReceiver], None] | None = None,
    limits: ServerLimits = WEBHOOK_LIMITS,
) -> None:
    """Run the SHIP_NOTIFY receiver until SIGINT/SIGTERM (or ``ready``'s receiver stops).

    ``ready`` (tests, embedding) receives the running receiver; calling its ``stop()``
    ends the call.
    """
    stop = threading.Event()
    with open_store(config.state_path) as store, engines(config, store=store) as running:
        for engine in running:
            engine.check_store()  # a wrong store id is exit 2 now, not a failure per webhook
        receiver = WebhookReceiver(
            running, host=host, port=port, path_token=path_token, limits=limits
        )
        receiver.start()
        try:
            print("receiving ShipStation SHIP_NOTIFY webhooks; subscribe:", file=out)
            for engine in running:
                shown = receiver.url(engine.account if len(running) > 1 else None)
                if path_token:
                    # The operator knows the token; logs and terminals need not.
                    shown = shown.replace(f"/{path_token}/", "/<path-token>/")
                print(f"  [{engine.account}] {shown}", file=out, flush=True)
            print("press Ctrl-C to stop", file=out, flush=True)
            if ready is not None:
                ready(receiver)
            with _stop_signals(stop):
                while not stop.is_set() and not receiver.wait_stopped(0.5):
                    pass
        finally:
            receiver.stop()


def _cmd_webhook_serve(args: argparse.Namespace) -> int:
    config = load_config(args.config, overrides=_overrides(args))
    _check_state_path(config.state_path)
    with _listening(args.host, args.port):
        serve_webhooks(
            config,
            host=args.host,
            port=args.port,
            path_token=args.path_token,
            out=sys.stdout,
            limits=limits_from_args(args, WEBHOOK_LIMITS),
        )
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
