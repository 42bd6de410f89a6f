"""Care folders and refunds: read the open folders, answer the customer, refund the line.

    .venv/bin/python examples/refunds_and_care.py

Runs on the built-in sandbox only (a refund moves real money, so this example never touches
your accounts): a Back Market account with care folders on shipped lines, virtual time.

1. ``bm.care.list(state=OPEN)``: every open care folder, 10 per page as Back Market serves them;
2. ``bm.care.get(id)``: the claim, the conversation and the line's current state;
3. ``bm.care.post_message(id, text)``: answer the customer (a closed folder reopens);
4. ``refund_orderline(...)``: a partial refund of one shipped line, then a full refund of
   another, through the write journal of a state file: asked again (or after a killed run)
   they are not sent a second time.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from backmarket_shipstation.backmarket import BackMarketClient, CareFolderState
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import SQLiteStore
from backmarket_shipstation.sync.refunds import refund_orderline


def main() -> None:
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=3, orders=80, clock=clock, backmarket_options={"care_folders": 12})
    bm = BackMarketClient(
        token=sandbox.backmarket_token,
        user_agent=sandbox.backmarket_user_agent,
        transport=sandbox.backmarket_transport(),
        clock=clock,
    )
    with bm, tempfile.TemporaryDirectory() as tmp:
        folders = list(bm.care.list(state=CareFolderState.OPEN))
        print(f"{len(folders)} open care folders")
        for summary in folders[:3]:
            folder = bm.care.get(summary.id)
            line = folder.orderline
            assert line is not None
            first = folder.messages[0].message if folder.messages else ""
            claim = folder.claims[0].resolution_choice if folder.claims else None
            print(f"  folder {folder.id}: order {folder.order_id} line {line.id} "
                  f"(state {int(line.state or 0)}), asks {claim}: {first!r}")  # fmt: skip

        folder = bm.care.get(folders[0].id)
        posted = bm.care.post_message(folder.id, "Sorry about that: we refund 20.00 today.")
        print(f"\nanswered folder {folder.id} (message {posted.id})")

        state = Path(tmp) / "state.sqlite3"
        with SQLiteStore(state) as store:
            assert folder.orderline is not None
            assert folder.order_id is not None
            for attempt in ("first", "again"):
                outcome = refund_orderline(
                    bm, store, account="main", order_id=folder.order_id,
                    orderline_id=folder.orderline.id, amount=Decimal("20.00"), clock=clock,
                )  # fmt: skip
                print(f"partial refund ({attempt}): {outcome.status}"
                      + (f", Back Market says {outcome.summary!r}" if outcome.status == "refunded"
                         else ""))  # fmt: skip
            other = bm.care.get(folders[1].id)
            assert other.orderline is not None
            assert other.order_id is not None
            full = refund_orderline(
                bm, store, account="main", order_id=other.order_id,
                orderline_id=other.orderline.id, clock=clock,
            )  # fmt: skip
            after = bm.orders.get(other.order_id).lines
            now = next(int(x.state or 0) for x in after if x.id == full.orderline_id)
            print(f"full refund of line {full.orderline_id}: {full.status} "
                  f"(type {int(full.refund_type or 0)}), line now in state {now}")  # fmt: skip
        print(f"\nrefunds Back Market received: {len(sandbox.backmarket.refunds)}")


if __name__ == "__main__":
    main()
