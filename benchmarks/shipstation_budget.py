"""How much of ShipStation's 40-requests-a-minute budget the client uses, and how many 429s.

A ShipStationClient makes ``--requests`` calls back to back (order reads and order-list
pages, as the sync's notify loop does) against the sandbox's ShipStation simulator, which
enforces the V1 limit: 40 requests per fixed 60 s window per key pair, announced in
``X-Rate-Limit-Limit/-Remaining/-Reset``. Time is a VirtualClock shared by the client and the
simulator, so the throttle's waits are exact and cost no real time.

Prints the requests per virtual minute window, the share of the budget used over the run
(requests / (40 x minutes elapsed, counting the window in progress as whole)), and the 429
answers the simulator gave (targets: at least 90 % of the budget, 0 responses 429). With
``--clients 2`` two clients of the same key pair share the budget (the SDK shares one limiter
per key pair within a process).

    .venv/bin/python benchmarks/shipstation_budget.py [--requests 1000] [--clients 1]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from datetime import datetime, timezone

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import ShipStationClient

LIMIT = 40
WINDOW = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()

    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, 17, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=1, orders=50, clock=clock)
    # Some ShipStation orders to read: one pushed by hand per Back Market order.
    for order in list(sandbox.backmarket.orders())[:20]:
        sandbox.shipstation.add_order(
            {
                "orderNumber": str(order["order_id"]),
                "orderKey": f"backmarket-{order['order_id']}",
                "orderDate": "2026-03-01T10:00:00.0000000",
                "orderStatus": "awaiting_shipment",
                "billTo": {"name": "Bench"},
                "shipTo": {"name": "Bench", "street1": "1 rue", "city": "Paris",
                           "postalCode": "75001", "country": "FR"},
                "advancedOptions": {"storeId": sandbox.shipstation_store_id},
            }
        )  # fmt: skip
    ids = [int(o["orderId"]) for o in sandbox.shipstation.orders()]
    clients = [
        ShipStationClient(
            api_key=sandbox.shipstation_api_key,
            api_secret=sandbox.shipstation_api_secret,
            transport=sandbox.shipstation_transport(),
            clock=clock,
        )
        for _ in range(args.clients)
    ]
    per_window: Counter[int] = Counter()
    start = clock.monotonic()

    def window_of() -> int:
        """The simulator's fixed window in progress (it counts on the clock's monotonic time)."""
        return math.floor(clock.monotonic() / WINDOW)

    first_window = window_of()
    for index in range(args.requests):
        client = clients[index % len(clients)]
        if index % 4 == 3:
            next(iter(client.orders.list(page_size=10)), None)  # one list page
        else:
            client.orders.get(ids[index % len(ids)])
        per_window[window_of() - first_window] += 1
    elapsed = clock.monotonic() - start
    for client in clients:
        client.close()

    windows = max(per_window) + 1
    full = [per_window[w] for w in range(windows - 1)]
    outcomes = sandbox.counters.by_outcome(api="shipstation")
    too_many = outcomes.get("429", 0)
    served = sandbox.counters.count(api="shipstation")
    print(f"ShipStation budget: {args.requests:,} requests from {args.clients} client(s)")
    print(f"  virtual time                   {elapsed:,.0f} s over {windows} windows of 60 s")
    if full:
        print(
            f"  requests per full window       min {min(full)}, max {max(full)}, "
            f"mean {sum(full) / len(full):.1f} (limit {LIMIT})"
        )
    share = served / (LIMIT * windows)
    print(f"  share of the budget used       {share:.1%} (target >= 90%)")
    print(f"  429 responses                  {too_many} of {served} (target 0)")


if __name__ == "__main__":
    main()
