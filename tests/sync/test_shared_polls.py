"""Accounts on one ShipStation key pair share each cycle's polls and createorders batches.

An agency world: K Back Market sellers (their own simulators and tokens, the same order ids in
every one), each a store of one simulated ShipStation account reached with one key pair. The
ShipStation calls are counted at the transport, by endpoint.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync import (
    AccountConfig,
    KeyPairShare,
    RunReport,
    ShipStationCatalog,
    SQLiteStore,
    SyncConfig,
    SyncOptions,
    engines,
    load_config,
    pack_and_ship,
    run_sync,
    sandbox_config,
)

from .conftest import START

_SHIPPED = 9
_SHIP_STATE = 3
"""``new_state`` of a ship write."""
"""A Back Market order every line of which shipped."""


@attrs.define
class Call:
    api: str
    method: str
    path: str
    params: dict[str, str]
    body: Any = None
    status: int = 0

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


class Tap(httpx.BaseTransport):
    """Logs every request (and its status) before passing it on."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        api: str,
        log: list[Call],
        before: Callable[[Call], None] | None = None,
    ) -> None:
        self.inner = inner
        self.api = api
        self.log = log
        self.before = before

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        call = Call(
            self.api,
            request.method,
            request.url.path,
            dict(request.url.params),
            json.loads(content) if content else None,
        )
        if self.before is not None:
            self.before(call)
        self.log.append(call)
        response = self.inner.handle_request(request)
        call.status = response.status_code
        return response


_OPEN_STORES: list[SQLiteStore] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Each test's state is closed after it (Python 3.13 warns of an unclosed database)."""
    yield
    while _OPEN_STORES:
        _OPEN_STORES.pop().close()


class Agency:
    """K sellers, one ShipStation account with a store each, one key pair, one clock."""

    def __init__(
        self, tmp_path: Path, sellers: int, *, orders: int = 12, rate_limit: int = 100_000
    ) -> None:
        self.clock = VirtualClock(START)
        self.lease_clock = VirtualClock(START)
        # Rate limits are not what most of these tests are about: a limit no cycle reaches
        # keeps the counts free of 429 retries.
        self.hub = Sandbox(
            seed=90, orders=0, clock=self.clock, shipstation_options={"rate_limit": rate_limit}
        )
        self.ss = self.hub.shipstation
        self.sellers: dict[str, Sandbox] = {}
        self._importable: dict[str, set[int]] = {}
        accounts = []
        for index in range(sellers):
            name = f"seller{index}"
            seller = Sandbox(seed=index, orders=orders, clock=self.clock)
            # The seller's orders go to its store in the agency's one ShipStation account.
            seller.shipstation = self.ss
            seller.shipstation_store_id = self.ss.add_store(
                store_name=f"Back Market {name}", marketplace_id=self.ss.backmarket_marketplace_id
            )
            self.sellers[name] = seller
            self._importable[name] = {
                o["order_id"] for o in seller.backmarket.orders() if o["state"] in (1, 3)
            }
            accounts.append(
                attrs.evolve(
                    sandbox_config(seller).accounts[0],
                    name=name,
                    shipstation_api_key=self.hub.shipstation_api_key,
                    shipstation_api_secret=self.hub.shipstation_api_secret,
                    shipstation_store_id=seller.shipstation_store_id,
                    order_key_prefix=f"{name}-",
                )
            )
        self.config = SyncConfig(
            accounts=tuple(accounts), state_path=str(tmp_path / "state.sqlite3")
        )
        self.store = SQLiteStore(self.config.state_path)
        _OPEN_STORES.append(self.store)
        self.calls: list[Call] = []
        self.before_bm: dict[str, Callable[[Call], None]] = {}
        """Called before each Back Market request of a seller (to act between two accounts)."""

    def transports(self, account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        seller = self.sellers[account.name]
        return (
            Tap(
                seller.backmarket_transport(),
                f"bm:{account.name}",
                self.calls,
                lambda call: self.before_bm.get(account.name, _nothing)(call),
            ),
            Tap(self.hub.shipstation_transport(), "shipstation", self.calls),
        )

    def sync(self, **kwargs: Any) -> RunReport:
        # The scenarios here run the accounts one after another (the second account starts
        # after the first polled) unless a test says ``parallel``.
        kwargs.setdefault("parallel", 1)
        return run_sync(
            self.config,
            store=self.store,
            clock=self.clock,
            transports=self.transports,
            lease_clock=self.lease_clock,
            **kwargs,
        )

    def ss_calls(self) -> Counter[str]:
        return Counter(c.endpoint for c in self.calls if c.api == "shipstation")

    def ship_posts(self, name: str) -> Counter[str]:
        """Back Market ship writes (``new_state`` 3) the seller's account received, per path."""
        return Counter(
            c.path
            for c in self.calls
            if c.api == f"bm:{name}"
            and c.method == "POST"
            and isinstance(c.body, dict)
            and c.body.get("new_state") == _SHIP_STATE
        )

    def importable(self, name: str) -> set[int]:
        """The seller's orders to import and ship, as they were before any sync."""
        return self._importable[name]

    def store_orders(self, name: str) -> list[dict[str, Any]]:
        store_id = self.sellers[name].shipstation_store_id
        return [
            o
            for o in self.ss.orders(include_deleted=True)
            if (o.get("advancedOptions") or {}).get("storeId") == store_id
        ]

    def labels(self, name: str) -> dict[str, str]:
        """Back Market order id → tracking number of the live labels in the seller's store."""
        store_id = self.sellers[name].shipstation_store_id
        return {
            str(s["orderNumber"]): str(s["trackingNumber"])
            for s in self.ss.shipments()
            if not s.get("voided") and (s.get("advancedOptions") or {}).get("storeId") == store_id
        }

    def shipped_on_backmarket(self, name: str) -> dict[str, str]:
        """Order id → tracking number of the seller's orders shipped since the world began."""
        return {
            str(o["order_id"]): str(o.get("tracking_number") or "")
            for o in self.sellers[name].backmarket.orders()
            if o["state"] == _SHIPPED and o["order_id"] in self._importable[name]
        }


def _nothing(_call: Call) -> None:
    return None


def _day(agency: Agency, **kwargs: Any) -> tuple[RunReport, RunReport]:
    """Import everything, the packers ship it all, then report it."""
    imported = agency.sync(**kwargs)
    for seller in agency.sellers.values():
        pack_and_ship(seller)
    agency.clock.advance(300)
    return imported, agency.sync(**kwargs)


def _polls(counts: Counter[str]) -> Counter[str]:
    return Counter({k: v for k, v in counts.items() if k != "POST /orders/createorders"})


@pytest.mark.parametrize("parallel", [1, 8])
@pytest.mark.parametrize("sellers", [2, 5])
def test_one_poll_per_key_pair_whatever_the_number_of_accounts(
    tmp_path: Path, sellers: int, parallel: int
) -> None:
    agency = Agency(tmp_path, sellers)
    imported, notified = _day(agency, parallel=parallel)
    counts = agency.ss_calls()

    # Per cycle, whatever K: one store list, one of each poll, the first run's read of what
    # the stores hold; only createorders grows (each seller's orders, under 100, in one call
    # per account when they run one after another).
    assert _polls(counts) == Counter(
        {
            "GET /stores": 2,  # the store check
            # The first run's read of what the stores hold; the second's deleted-copies
            # check (the open status, the orders modified); the shipped orders' notes.
            "GET /orders": 1 + 2 + 1,
            "GET /shipments": 2 + 2,  # voided and created labels, in each cycle
            "GET /fulfillments": 2,
        }
    )
    total = sum(len(agency.importable(n)) for n in agency.sellers)
    if parallel == 1:
        assert counts["POST /orders/createorders"] == sellers
    else:
        # At once, the accounts' batches combine: one call per 100 orders of them all.
        assert counts["POST /orders/createorders"] == -(-total // 100)
    assert all(c.status == 200 for c in agency.calls if c.api == "shipstation")

    for name in agency.sellers:
        expected = agency.importable(name)
        keys = Counter(o["orderKey"] for o in agency.store_orders(name))
        assert keys == Counter({f"{name}-{oid}": 1 for oid in expected}), name
        # Every order shipped in the seller's own store went to the seller's own Back Market
        # account, with the tracking number of its own label, once.
        shipped = agency.shipped_on_backmarket(name)
        assert set(shipped) == {str(oid) for oid in expected}
        labels = agency.labels(name)
        assert labels  # (the others are BackShip orders, marked as shipped)
        for oid, tracking in labels.items():
            assert shipped[oid] == tracking
        assert all(n == 1 for n in agency.ship_posts(name).values())
    for report in (imported, notified):
        assert [a.account for a in report.accounts] == list(agency.sellers)
        assert all(a.failed == 0 for a in report.accounts), report
    assert [a.imported for a in imported.accounts] == [
        len(agency.importable(n)) for n in agency.sellers
    ]
    assert [a.notified for a in notified.accounts] == [
        len(agency.importable(n)) for n in agency.sellers
    ]


def test_without_sharing_every_account_polls_for_itself(tmp_path: Path) -> None:
    agency = Agency(tmp_path, 4)
    _day(agency, share_polls=False)
    counts = agency.ss_calls()
    assert counts["GET /stores"] == 2 * 4
    assert counts["GET /shipments"] == 2 * 2 * 4
    assert counts["GET /fulfillments"] == 2 * 4
    for name in agency.sellers:
        assert set(agency.shipped_on_backmarket(name)) == {
            str(oid) for oid in agency.importable(name)
        }


def test_the_same_order_ids_in_two_stores_go_to_their_own_accounts(tmp_path: Path) -> None:
    agency = Agency(tmp_path, 2)
    first, second = (agency.importable(n) for n in agency.sellers)
    common = first & second
    assert common  # every seller's orders are numbered from the same base
    _day(agency)
    for name in agency.sellers:
        shipped = agency.shipped_on_backmarket(name)
        labels = agency.labels(name)
        for oid in common:
            if str(oid) in labels:
                # Each seller's account got the tracking number of its own store's label.
                assert shipped[str(oid)] == labels[str(oid)]
    one, two = (agency.shipped_on_backmarket(n) for n in agency.sellers)
    both = [str(o) for o in common if str(o) in agency.labels("seller0")]
    assert both
    assert {one[o] for o in both}.isdisjoint({two[o] for o in both})


def test_an_account_further_behind_reads_only_the_span_the_poll_missed(tmp_path: Path) -> None:
    agency = Agency(tmp_path, 2)
    late, ahead = agency.sellers
    agency.sync(parallel=1)  # both import
    pack_and_ship(agency.sellers[late])  # the late seller's labels, bought now
    agency.clock.advance(3 * 3600)
    # Three hours on, only the other seller runs (the late one's sync was stopped): its notify
    # cursor moves on, the late one's stays three hours back.
    alone = attrs.evolve(
        agency.config, accounts=tuple(a for a in agency.config.accounts if a.name == ahead)
    )
    run_sync(
        alone,
        store=agency.store,
        clock=agency.clock,
        transports=agency.transports,
        lease_clock=agency.lease_clock,
        parallel=1,
    )
    pack_and_ship(agency.sellers[ahead])
    agency.clock.advance(300)
    # Put the account that is ahead first, so that the poll is made from its recent window
    # and the late one asks further back.
    agency.config = attrs.evolve(agency.config, accounts=tuple(reversed(agency.config.accounts)))
    agency.calls.clear()
    report = agency.sync(parallel=1)

    assert [a.notified for a in report.accounts] == [
        len(agency.importable(ahead)),
        len(agency.importable(late)),
    ]
    shipments = [c for c in agency.calls if c.endpoint == "GET /shipments"]
    created = [c for c in shipments if "createDateStart" in c.params]
    # One poll from the recent window, one bounded read of the span before it, not a
    # second full poll.
    assert len(created) == 2
    assert "createDateEnd" not in created[0].params
    assert created[1].params["createDateEnd"] > created[1].params["createDateStart"]
    assert "storeId" not in created[0].params
    for name in agency.sellers:
        assert set(agency.shipped_on_backmarket(name)) == {
            str(oid) for oid in agency.importable(name)
        }


def test_a_label_bought_after_the_shared_poll_is_reported_next_cycle(tmp_path: Path) -> None:
    # One account after the other, so that the second runs after the first one's poll.
    agency = Agency(tmp_path, 2)
    first, second = agency.sellers
    agency.sync(parallel=1)
    pack_and_ship(agency.sellers[first])
    agency.clock.advance(300)
    bought: list[int] = []

    def label_while_the_first_account_runs(call: Call) -> None:
        # The first account has polled; the second starts its import. Its packer buys the
        # labels now, well before its own notify (further off than the overlap window).
        if bought:
            return
        agency.clock.advance(60)
        bought.append(pack_and_ship(agency.sellers[second])[0])
        agency.clock.advance(3600)

    agency.before_bm[second] = label_while_the_first_account_runs
    report = agency.sync(parallel=1)
    del agency.before_bm[second]
    assert bought
    assert bought[0] > 0
    assert report.accounts[0].notified == len(agency.importable(first))
    # The second account's notify used the poll made before those labels existed.
    assert report.accounts[1].notified == 0
    assert agency.shipped_on_backmarket(second) == {}

    agency.clock.advance(300)
    again = agency.sync(parallel=1)
    assert again.accounts[1].notified == len(agency.importable(second))
    assert again.accounts[0].notified == 0
    assert set(agency.shipped_on_backmarket(second)) == {
        str(oid) for oid in agency.importable(second)
    }


@pytest.mark.parametrize("parallel", [1, 3])
def test_exactly_once_across_cycles(tmp_path: Path, parallel: int) -> None:
    agency = Agency(tmp_path, 3, orders=20)
    for _ in range(4):
        agency.sync(parallel=parallel)
        for seller in agency.sellers.values():
            pack_and_ship(seller)
        agency.clock.advance(600)
    agency.sync(parallel=parallel)
    for name in agency.sellers:
        expected = agency.importable(name)
        assert Counter(o["orderKey"] for o in agency.store_orders(name)) == Counter(
            {f"{name}-{oid}": 1 for oid in expected}
        )
        posts = agency.ship_posts(name)
        shipped = agency.shipped_on_backmarket(name)
        assert set(shipped) == {str(oid) for oid in expected}
        assert all(posts[f"/ws/orders/{oid}"] == 1 for oid in shipped), posts


@pytest.mark.parametrize("rate_limit", [100_000, 2])
def test_createorders_batches_across_accounts_running_at_once(
    tmp_path: Path, rate_limit: int
) -> None:
    # Four accounts of about 30 orders to create each, run at the same time: about 120
    # orders in two createorders calls, not four. With a budget of 2 calls a minute, the
    # account sending a batch waits for the budget on the virtual clock while the others
    # wait for its answer at the combiner: time must still move.
    agency = Agency(tmp_path, 4, orders=45, rate_limit=rate_limit)
    created = sum(len(agency.importable(n)) for n in agency.sellers)
    assert created > 100
    report = agency.sync(parallel=4)
    assert agency.ss_calls()["POST /orders/createorders"] == -(-created // 100) == 2
    assert agency.clock.stalls == 0  # every wait was one the clock knew of
    assert all(c.status == 200 for c in agency.calls if c.api == "shipstation")
    for account in report.accounts:
        name = account.account
        assert account.imported == len(agency.importable(name))
        assert account.failed == 0
        store_id = agency.sellers[name].shipstation_store_id
        orders = agency.store_orders(name)
        assert Counter(o["orderKey"] for o in orders) == Counter(
            {f"{name}-{oid}": 1 for oid in agency.importable(name)}
        )
        assert all(o["advancedOptions"]["storeId"] == store_id for o in orders)
        # The state knows each order under its ShipStation id, per account.
        for order in orders:
            record = agency.store.get_order(name, int(order["orderNumber"]))
            assert record is not None
            assert record.ss_order_id == order["orderId"]
    # And the day goes on: every order reported once.
    for seller in agency.sellers.values():
        pack_and_ship(seller)
    agency.clock.advance(300)
    notified = agency.sync(parallel=4)
    assert [a.notified for a in notified.accounts] == [
        len(agency.importable(n)) for n in agency.sellers
    ]
    for name in agency.sellers:
        assert all(n == 1 for n in agency.ship_posts(name).values())


def test_one_run_at_a_time_never_waits_at_the_combiner(tmp_path: Path) -> None:
    # Not concurrent: each account's partial batch goes at once (nothing would ever join it).
    agency = Agency(tmp_path, 2, orders=10)
    share = KeyPairShare(clock=agency.clock)
    with engines(
        agency.config,
        store=agency.store,
        clock=agency.clock,
        transports=agency.transports,
        lease_clock=agency.lease_clock,
    ) as running:
        reports = [engine.run(share=share) for engine in running]
    assert [r.imported for r in reports] == [len(agency.importable(n)) for n in agency.sellers]
    assert share.upsert_calls == 2


def test_a_failed_shared_poll_stops_one_account_and_the_next_polls_again(tmp_path: Path) -> None:
    agency = Agency(tmp_path, 2)
    first, second = agency.sellers
    agency.sync(parallel=1)
    for seller in agency.sellers.values():
        pack_and_ship(seller)
    agency.clock.advance(300)
    down = [True]
    original = agency.hub.shipstation_transport

    class Flaky(httpx.BaseTransport):
        """ShipStation's label list is down until the second account starts."""

        def __init__(self) -> None:
            self.inner = original()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if down[0] and request.url.path == "/shipments":
                return httpx.Response(500, json={"Message": "An error has occurred."})
            return self.inner.handle_request(request)

    agency.hub.shipstation_transport = Flaky  # type: ignore[method-assign]
    agency.before_bm[second] = lambda _call: down.__setitem__(0, False)
    report = agency.sync(parallel=1)
    agency.hub.shipstation_transport = original  # type: ignore[method-assign]
    del agency.before_bm[second]

    # The first account's notify stopped (an outage: its cursor stays); the failed poll was
    # not kept, so the second account polled again and reported its orders.
    assert "notify" in report.accounts[0].stopped
    assert report.accounts[0].notified == 0
    assert report.accounts[1].notified == len(agency.importable(second))
    agency.clock.advance(300)
    again = agency.sync(parallel=1)
    assert again.accounts[0].notified == len(agency.importable(first))
    assert again.accounts[1].notified == 0
    for name in agency.sellers:
        assert set(agency.shipped_on_backmarket(name)) == {
            str(oid) for oid in agency.importable(name)
        }
        assert all(n == 1 for n in agency.ship_posts(name).values())


def test_the_cursor_never_passes_the_poll(tmp_path: Path) -> None:
    agency = Agency(tmp_path, 2)
    first, second = agency.sellers
    agency.sync(parallel=1)
    agency.clock.advance(300)
    polled_at: list[Any] = []

    def later(call: Call) -> None:
        if not polled_at:
            polled_at.append(agency.clock.now())
            agency.clock.advance(timedelta(hours=1).total_seconds())

    agency.before_bm[second] = later
    agency.sync(parallel=1)
    cursor = agency.store.get_cursor(second, "notify")
    assert cursor is not None
    assert polled_at
    # The second account ran an hour after the first polled: its cursor is the poll's time.
    assert cursor <= polled_at[0]
    own = agency.store.get_cursor(first, "notify")
    assert own is not None
    assert own <= polled_at[0]


def test_each_account_gets_only_its_own_stores_records(tmp_path: Path) -> None:
    # The polls are unfiltered: the share routes each record by its advancedOptions.storeId.
    agency = Agency(tmp_path, 3)
    agency.sync()
    for seller in agency.sellers.values():
        pack_and_ship(seller)
    share = KeyPairShare(clock=agency.clock)
    since = START - timedelta(days=1)
    with engines(agency.config, store=agency.store, transports=agency.transports) as running:
        for engine in running:
            store_id = engine.store_id
            labels, _ = share.shipments(engine.ss, since, store_id)
            assert labels
            assert {s.advanced_options.store_id for s in labels if s.advanced_options} == {store_id}
            assert {s.order_key.split("-")[0] for s in labels if s.order_key} == {engine.account}
            shipped = share.shipped_orders(engine.ss, since, store_id)
            assert {o.advanced_options.store_id for o in shipped if o.advanced_options} == {
                store_id
            }
    assert agency.ss_calls()["GET /shipments"] == 2 + 1  # the cycle's two polls, then the share's


def test_a_shipstation_catalog_is_read_once_per_cycle_for_the_key_pair(tmp_path: Path) -> None:
    agency = Agency(tmp_path, 3)
    source = ShipStationCatalog()  # as a configuration file's catalog = "shipstation" gives
    options = {
        name: SyncOptions(catalog=source, order_key_prefix=f"{name}-") for name in agency.sellers
    }
    agency.sync(options=options)
    assert agency.ss_calls()["GET /products"] == 1
    agency.calls.clear()
    agency.sync(options=options, share_polls=False)
    assert agency.ss_calls()["GET /products"] == 3
    for name in agency.sellers:
        assert Counter(o["orderKey"] for o in agency.store_orders(name)) == Counter(
            {f"{name}-{oid}": 1 for oid in agency.importable(name)}
        )


def test_a_configuration_file_gives_its_accounts_one_shipstation_catalog(tmp_path: Path) -> None:
    path = tmp_path / "sync.toml"
    path.write_text(
        'catalog = "shipstation"\n'
        + "".join(
            f'[[accounts]]\nname = "{name}"\nbackmarket_token = "t{name}"\n'
            f'backmarket_user_agent = "BM-Acme-Sync;ops@acme.example"\nshipstation_api_key = "k"\n'
            f'shipstation_api_secret = "s"\nshipstation_store_id = {n}\n'
            f'order_key_prefix = "{name}-"\n'
            for n, name in enumerate(("one", "two"), 1)
        ),
        encoding="utf-8",
    )
    config = load_config(path)
    first, second = (a.options for a in config.accounts)
    assert first is not None
    assert second is not None
    assert isinstance(first.catalog, ShipStationCatalog)
    assert first.catalog is second.catalog


def test_accounts_of_one_key_pair_split_over_two_processes_lose_nothing(tmp_path: Path) -> None:
    # Two processes (here: two threads, each its own run_sync with its own state connection)
    # hold half the accounts each: each half shares its own polls, nothing is shared between
    # them, and every order is still imported and reported once.
    agency = Agency(tmp_path, 4)
    halves = [agency.config.accounts[:2], agency.config.accounts[2:]]

    def process(accounts: tuple[AccountConfig, ...], results: list[RunReport]) -> None:
        with SQLiteStore(agency.config.state_path) as store:
            results.append(
                run_sync(
                    attrs.evolve(agency.config, accounts=accounts),
                    store=store,
                    clock=agency.clock,
                    transports=agency.transports,
                    lease_clock=agency.lease_clock,
                    parallel=2,
                )
            )

    def cycle() -> list[RunReport]:
        results: list[RunReport] = []
        threads = [threading.Thread(target=process, args=(half, results)) for half in halves]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        assert len(results) == 2
        return results

    imported = cycle()
    for seller in agency.sellers.values():
        pack_and_ship(seller)
    agency.clock.advance(300)
    notified = cycle()
    by_name = {a.account: a for r in imported for a in r.accounts}
    reported = {a.account: a for r in notified for a in r.accounts}
    assert agency.ss_calls()["GET /stores"] == 2 * 2  # one per process and cycle
    for name in agency.sellers:
        assert by_name[name].imported == len(agency.importable(name))
        assert reported[name].notified == len(agency.importable(name))
        assert Counter(o["orderKey"] for o in agency.store_orders(name)) == Counter(
            {f"{name}-{oid}": 1 for oid in agency.importable(name)}
        )
        assert set(agency.shipped_on_backmarket(name)) == {
            str(oid) for oid in agency.importable(name)
        }
        assert all(n == 1 for n in agency.ship_posts(name).values())
