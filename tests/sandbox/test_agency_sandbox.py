"""The agency sandbox: K sellers with overlapping order ids, their stores in ShipStation."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from backmarket_shipstation.clock import SystemClock, VirtualClock
from backmarket_shipstation.sandbox import AgencySandbox, AgencySeller
from backmarket_shipstation.sync import SQLiteStore, load_config, run_sync

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _importable(seller: AgencySeller) -> set[int]:
    """Orders the sync must bring to ShipStation: to accept, or accepted and to ship."""
    return {
        o["order_id"]
        for o in seller.backmarket.orders()
        if o["state"] in (1, 3) and {line["state"] for line in o["orderlines"]} & {1, 2}
    }


def _store_orders(seller: AgencySeller) -> list[dict[str, Any]]:
    return [
        o
        for o in seller.shipstation.orders(include_deleted=True)
        if o["advancedOptions"]["storeId"] == seller.shipstation_store_id
    ]


def _bm_get(seller: AgencySeller, token: str, transport: httpx.BaseTransport) -> httpx.Response:
    with httpx.Client(
        base_url=seller.backmarket_base_url,
        transport=transport,
        headers={
            "Authorization": f"Basic {token}",
            "User-Agent": seller.backmarket_user_agent,
            "Accept-Language": "en-us" if seller.region == "us" else "fr-fr",
        },
    ) as client:
        return client.get("/ws/orders", params={"page-size": 50})


def test_every_account_numbers_its_orders_from_the_same_base_in_its_own_platform() -> None:
    agency = AgencySandbox(accounts=4, orders_per_account=30, seed=2, clock=VirtualClock(START))
    ids = [set(s.backmarket.order_ids()) for s in agency.sellers]
    assert all(i == ids[0] for i in ids)  # the same 30 ids in every account
    assert len({s.backmarket_token for s in agency.sellers}) == 4
    assert len({s.order_key_prefix for s in agency.sellers}) == 4
    assert [s.region for s in agency.sellers] == ["eu", "eu", "us", "eu"]
    us = agency.seller("seller-03")
    assert {o["country_code"] for o in us.backmarket.orders()} == {"en-us"}
    eu_codes = {
        o["country_code"] for s in agency.sellers if s.region == "eu" for o in s.backmarket.orders()
    }
    assert "en-us" not in eu_codes
    assert len(eu_codes) > 1
    # One ShipStation account, one store per seller, one key pair.
    assert len(agency.key_pairs) == 1
    stores = {s.shipstation_store_id for s in agency.sellers}
    assert len(stores) == 4
    assert stores <= {store["storeId"] for store in agency.key_pairs[0].shipstation.stores()}
    assert "token" not in repr(agency).lower()
    assert agency.sellers[0].backmarket_token not in repr(agency.sellers[0])


def test_one_accounts_token_cannot_read_another_accounts_orders() -> None:
    agency = AgencySandbox(accounts=2, orders_per_account=10, clock=VirtualClock(START))
    first, second = agency.sellers
    config = agency.config()
    first_transport, _ = agency.transports(config.accounts[0])
    assert _bm_get(first, first.backmarket_token, first_transport).status_code == 200
    refused = _bm_get(first, second.backmarket_token, first_transport)
    assert refused.status_code == 401
    assert first.counters.count(api="backmarket", outcome="401") == 1
    assert second.counters.total == 0  # nothing reached the second account


@pytest.mark.parametrize("shared_key_pair", [True, False], ids=["one-key-pair", "key-pair-each"])
def test_a_sequential_run_imports_each_order_into_its_own_store_once_and_notifies_its_account(
    tmp_path: Path, shared_key_pair: bool
) -> None:
    clock = VirtualClock(START)
    agency = AgencySandbox(
        accounts=4, orders_per_account=40, seed=3, clock=clock, shared_key_pair=shared_key_pair
    )
    assert len(agency.key_pairs) == (1 if shared_key_pair else 4)
    expected = {s.name: _importable(s) for s in agency.sellers}
    # The ids overlap: an id to import in one account is also to import in another.
    assert expected["seller-01"] & expected["seller-02"]
    config = agency.config(str(tmp_path / "state.sqlite3"))
    with SQLiteStore(config.state_path) as store:
        first = run_sync(config, store=store, transports=agency.transports, clock=clock)
        assert [a.account for a in first.accounts] == [s.name for s in agency.sellers]
        for seller, report in zip(agency.sellers, first.accounts, strict=True):
            assert report.imported == len(expected[seller.name]), report
            keys = Counter(o["orderKey"] for o in _store_orders(seller))
            assert keys == Counter({seller.order_key(oid): 1 for oid in expected[seller.name]})
            # The order in the store is this seller's, not the same id of another account.
            for ss_order in _store_orders(seller):
                bm_order = seller.backmarket.get_order(int(ss_order["orderNumber"]))
                assert bm_order is not None
                address = bm_order["shipping_address"]
                assert ss_order["shipTo"]["postalCode"] == address["postal_code"]
                assert ss_order["shipTo"]["city"] == address["city"]
                assert {i["sku"] for i in ss_order["items"]} <= {
                    line["listing"] for line in bm_order["orderlines"]
                }
        assert agency.check().ok, agency.check().to_text()

        clock.advance(3 * 3600)
        packed = agency.pack(forget_every=6)
        clock.advance(3600)
        second = run_sync(config, store=store, transports=agency.transports, clock=clock)
    check = agency.check()
    assert check.ok, check.to_text()
    for seller, report in zip(agency.sellers, second.accounts, strict=True):
        done = packed[seller.name]
        assert report.notified == done.shipped - done.left_without_identifiers, report
        shipped_on_bm = {o["order_id"] for o in seller.backmarket.orders() if o["state"] == 9}
        written = {w.order_id for w in seller.ship_writes}
        assert len(written) == len(seller.ship_writes) == report.notified
        assert written <= shipped_on_bm
        assert all(w.status == 200 for w in seller.ship_writes)
    assert check.ship_writes == sum(a.notified for a in second.accounts)
    assert agency.rate_limited == 0
    if shared_key_pair:
        # Every ShipStation request of every seller went to the one key pair.
        assert agency.key_pairs[0].counters.total == agency.counters.count(api="shipstation")


def test_the_check_names_an_order_in_another_sellers_store_and_a_second_ship_write() -> None:
    clock = VirtualClock(START)
    agency = AgencySandbox(accounts=2, orders_per_account=30, seed=4, clock=clock)
    config = agency.config()
    with SQLiteStore(":memory:") as store:
        run_sync(config, store=store, transports=agency.transports, clock=clock)
        clock.advance(3 * 3600)
        agency.pack()
        clock.advance(3600)
        run_sync(config, store=store, transports=agency.transports, clock=clock)
    assert agency.check().ok
    first, second = agency.sellers
    # A seller's order copied into the other seller's store, as a wrong import would do.
    stray = _store_orders(first)[0]
    first.shipstation.add_order(
        {
            **{k: v for k, v in stray.items() if k != "orderId"},
            "orderKey": stray["orderKey"] + "-copy",
            "advancedOptions": {**stray["advancedOptions"], "storeId": second.shipstation_store_id},
        }
    )
    # A second ship write for an order already shipped.
    shipped = first.ship_writes[0].order_id
    bm_transport, _ = agency.transports(config.accounts[0])
    headers = {
        "Authorization": f"Basic {first.backmarket_token}",
        "User-Agent": first.backmarket_user_agent,
    }
    with httpx.Client(
        base_url=first.backmarket_base_url, transport=bm_transport, headers=headers
    ) as client:
        client.post(f"/ws/orders/{shipped}", json={"new_state": 3, "tracking_number": "1Z999"})
    check = agency.check()
    assert not check.ok
    text = "\n".join(check.violations)
    assert f"order {stray['orderKey']}-copy is in store {second.shipstation_store_id}" in text
    assert f"seller-01: order {shipped} shipped, 2 ship writes" in text
    assert agency.check("seller-02").violations != ()


def test_the_served_world_over_loopback_from_its_config_file(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    agency = AgencySandbox(
        accounts=3, orders_per_account=20, seed=5, clock=clock, shared_key_pair=False
    )
    with agency.serve() as served:
        path = served.write_config(
            tmp_path / "agency.toml", state=str(tmp_path / "state.sqlite3"), overlap_minutes=5
        )
        config = load_config(path, env={})
        assert [a.name for a in config.accounts] == ["seller-01", "seller-02", "seller-03"]
        fields = (
            "name", "backmarket_token", "backmarket_region", "backmarket_base_url",
            "shipstation_api_key", "shipstation_base_url", "shipstation_store_id",
            "order_key_prefix",
        )  # fmt: skip
        for loaded, direct in zip(config.accounts, served.config().accounts, strict=True):
            assert [getattr(loaded, f) for f in fields] == [getattr(direct, f) for f in fields]
        urls = {a.backmarket_base_url for a in config.accounts}
        assert len(urls) == 3
        assert all(u.startswith("http://127.0.0.1:") for u in urls)
        report = run_sync(config, clock=clock)  # no transports: real sockets
    for seller, account in zip(agency.sellers, report.accounts, strict=True):
        assert account.imported == len(_importable(seller)), account
    assert agency.check().ok, agency.check().to_text()
    assert agency.counters.count(api="backmarket") == sum(
        s.counters.count(api="backmarket") for s in agency.sellers
    )
    assert all(kp.counters.count(api="shipstation") > 0 for kp in agency.key_pairs)


def test_another_process_syncs_the_served_world_with_the_cli(tmp_path: Path) -> None:
    agency = AgencySandbox(accounts=2, orders_per_account=15, seed=6, clock=SystemClock())
    with agency.serve() as served:
        path = served.write_config(tmp_path / "agency.toml", state=str(tmp_path / "s.sqlite3"))
        command = [sys.executable, "-m", "backmarket_shipstation.cli", "sync", "--config"]
        done = subprocess.run(
            [*command, str(path), "--json"], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    imported = {a["account"]: a["imported"] for a in report["accounts"]}
    assert imported == {s.name: len(_importable(s)) for s in agency.sellers}
    assert agency.check().ok, agency.check().to_text()


def test_sandbox_serve_accounts_serves_an_agency_that_sync_and_status_use(tmp_path: Path) -> None:
    config = tmp_path / "agency.toml"
    state = tmp_path / "agency.sqlite3"
    cli = [sys.executable, "-m", "backmarket_shipstation.cli"]
    with subprocess.Popen(
        [*cli, "sandbox", "serve", "--accounts", "3", "--orders", "12", "--port", "0",
         "--write-config", str(config), "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # A test run in the background (`pytest &`) inherits SIGINT ignored, and so would the
        # server: give it the default, so that Ctrl-C (SIGINT below) stops it as it would a
        # person's.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as server:  # fmt: skip
        try:
            assert server.stdout is not None
            printed = []
            for line in server.stdout:
                printed.append(line)
                if line.startswith("Serving"):
                    break
            text = "".join(printed)
            assert "3 sellers, one ShipStation key pair" in text
            assert "seller-03  us" in text
            synced = subprocess.run(
                [*cli, "sync", "--config", str(config), "--json"],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert synced.returncode == 0, synced.stderr
            accounts = json.loads(synced.stdout)["accounts"]
            assert [a["account"] for a in accounts] == ["seller-01", "seller-02", "seller-03"]
            assert all(a["imported"] > 0 and a["failed"] == 0 for a in accounts)
            status = subprocess.run(
                [*cli, "status", "--config", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert "3 accounts, last runs: 3 ok" in status.stdout, status.stdout + status.stderr
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                raise
    assert server.returncode == 0
