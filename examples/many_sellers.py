"""An agency's sellers: many Back Market accounts, one ShipStation account, one sync.

    .venv/bin/python examples/many_sellers.py

Twelve simulated sellers (each its own Back Market token, order ids that overlap, EU and US)
whose stores are in one ShipStation account behind one key pair, the usual agency setup.
One ``run_sync(config, parallel=N)`` syncs them all at once: each account under its own
lease, with its own cursors and report, while the accounts of the key pair share each
cycle's ShipStation polls and fill ``createorders`` batches of up to 100 orders together.
It prints the per-account reports and what the day cost on ShipStation's 40 requests a
minute, first with the shared polls, then with every account polling for itself.

On your accounts: one ``[[accounts]]`` table per seller in the TOML file (docs/sync.md), then
``backmarket-shipstation sync --config agency.toml --parallel 8``; several hosts or Celery
workers share one PostgreSQL state (docs/guides/many-sellers.md).
"""

from __future__ import annotations

from connect import SANDBOX_START

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import AgencySandbox
from backmarket_shipstation.sync import run_sync

SELLERS = 12
ORDERS = 40


def a_day(*, share_polls: bool, show: bool) -> tuple[int, float]:
    """Import, pack, notify; the ShipStation calls and the virtual seconds it took."""
    clock = VirtualClock(SANDBOX_START)
    agency = AgencySandbox(accounts=SELLERS, orders_per_account=ORDERS, seed=15, clock=clock)
    config = agency.config()  # one in-memory state for every account
    start = clock.monotonic()
    imported = run_sync(
        config, transports=agency.transports, clock=clock, parallel=8, share_polls=share_polls
    )
    agency.pack()  # every seller's packer types the IMEIs and buys the labels
    notified = run_sync(
        config, transports=agency.transports, clock=clock, parallel=8, share_polls=share_polls
    )
    check = agency.check()
    if not check.ok:
        raise SystemExit(check.to_text())
    if show:
        total = sum(account.imported for account in imported.accounts)
        print(f"imported {total} orders into {SELLERS} stores of one ShipStation account")
        for account in notified.accounts:
            print(f"  {account.account}: {account.notified} orders reported to Back Market")
        print(check.to_text().splitlines()[0])
    calls = agency.counters.by_endpoint(api="shipstation")
    if show:
        for endpoint, count in sorted(calls.items()):
            print(f"  ShipStation {endpoint}: {count}")
    return sum(calls.values()), clock.monotonic() - start


def main() -> None:
    shared_calls, shared_seconds = a_day(share_polls=True, show=True)
    own_calls, own_seconds = a_day(share_polls=False, show=False)
    print(
        f"{SELLERS} sellers on one key pair: {shared_calls} ShipStation calls in"
        f" {shared_seconds:.0f} s of rate-limited time with shared polls;"
        f" {own_calls} calls in {own_seconds:.0f} s when each account polls for itself"
    )


if __name__ == "__main__":
    main()
