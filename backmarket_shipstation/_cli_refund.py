"""``backmarket-shipstation refund``: refund one Back Market order line, exactly once.

It reads the order, picks ``refund_type`` from the line's state (1 → 4, 2 → 5, 3 → 6) and
sends ``POST /ws/sav/refund`` through the write journal of the state file, so that running the
command twice (or again after it was killed) never refunds twice
(:func:`backmarket_shipstation.sync.refunds.refund_orderline`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["add_refund_command"]

_WHAT = {
    "refunded": "refunded",
    "already_done": "already refunded by an earlier run (nothing sent)",
    "confirmed": "refund of an earlier run confirmed (nothing sent)",
    "planned": "dry run: would refund",
}


def _amount(text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise argparse.ArgumentTypeError(f"an amount is positive, with at most 2 decimals: {text}")
    return amount


def _cmd_refund(args: argparse.Namespace) -> int:
    from .errors import ConfigurationError
    from .sync.config import load_config
    from .sync.refunds import refund_orderline
    from .sync.runner import backmarket_client
    from .sync.store import SQLiteStore

    config = load_config(
        args.config,
        overrides={"state_path": args.state} if args.state else None,
    )
    account = config.accounts[0]
    if args.account is not None:
        named = [a for a in config.accounts if a.name == args.account]
        if not named:
            names = ", ".join(a.name for a in config.accounts)
            raise ConfigurationError(f"no account named {args.account!r} (accounts: {names})")
        account = named[0]
    path = ":memory:" if args.dry_run else config.state_path
    with SQLiteStore(path) as store, backmarket_client(account) as bm:
        outcome = refund_orderline(
            bm,
            store,
            account=account.name,
            order_id=args.order_id,
            orderline_id=args.line,
            sku=args.sku,
            amount=args.amount,
            reference=args.reference,
            dry_run=args.dry_run,
            settle=args.settle,
        )
    if args.json:
        fields: dict[str, Any] = {
            "account": outcome.account,
            "order_id": outcome.order_id,
            "orderline_id": outcome.orderline_id,
            "sku": outcome.sku,
            "refund_type": None if outcome.refund_type is None else int(outcome.refund_type),
            "amount": None if outcome.amount is None else str(outcome.amount),
            "status": outcome.status,
            "summary": outcome.summary,
        }
        print(json.dumps(fields, indent=2))
    else:
        kind = "" if outcome.refund_type is None else f"type {int(outcome.refund_type)}, "
        size = "full" if outcome.amount is None else f"partial {outcome.amount}"
        said = f": {outcome.summary}" if outcome.summary and outcome.status == "refunded" else ""
        print(
            f"order {outcome.order_id} line {outcome.orderline_id} ({outcome.sku}): "
            f"{_WHAT[outcome.status]} ({kind}{size}){said}"
        )
    return 0


def add_refund_command(
    commands: Any, common: argparse.ArgumentParser, config_options: Callable[..., None]
) -> None:
    """Add ``refund`` to the ``backmarket-shipstation`` parser."""
    refund = commands.add_parser(
        "refund",
        parents=[common],
        help="refund one Back Market order line (exactly once)",
        description=(
            "Refund one line of a Back Market order: in full, or partly (--amount) once it "
            "is shipped. Recorded in the state file, so it is never sent twice."
        ),
    )
    config_options(refund)
    refund.add_argument("order_id", type=int, metavar="ORDER_ID", help="Back Market order id")
    which = refund.add_mutually_exclusive_group(required=True)
    which.add_argument("--line", type=int, metavar="ID", help="the orderline id")
    which.add_argument("--sku", metavar="SKU", help="the line's SKU (when only one line has it)")
    refund.add_argument(
        "--amount", type=_amount, metavar="X.YY", help="partial refund (shipped lines only)"
    )
    refund.add_argument(
        "--reference",
        metavar="R",
        help="tell a deliberate second refund of the same line from a repeat of the first",
    )
    refund.add_argument(
        "--settle",
        choices=("done", "resend"),
        help="resolve a partial refund an interrupted run left in doubt, after checking the "
        "Back Office",
    )
    refund.add_argument("--account", metavar="NAME", help="account name (default: the first)")
    refund.add_argument("--dry-run", action="store_true", help="read the order, send nothing")
    refund.add_argument("--json", action="store_true", help="print JSON")
    refund.set_defaults(run=_cmd_refund)
