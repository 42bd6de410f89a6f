"""Stock sync with ShipStation's V2 inventory as the source: what can be sold there is what
Back Market offers, units allocated to open orders included."""

from __future__ import annotations

from pathlib import Path

import pytest

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.cli import main
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import ShipStationInventoryClient
from backmarket_shipstation.sync.stock import sync_stock
from backmarket_shipstation.sync.stock_shipstation import shipstation_stock_source
from backmarket_shipstation.sync.store import SQLiteStore


def _box() -> Sandbox:
    return Sandbox(seed=12, orders=2, clock=VirtualClock(), backmarket_options={"listings": 40})


def test_listings_follow_shipstations_available_quantities() -> None:
    box = _box()
    desk = box.backmarket.listings
    quantities = desk.quantities()
    skus = sorted(quantities)
    inventory = box.shipstation_inventory
    for sku in skus:
        inventory.set_stock(sku, quantities[sku])  # as on Back Market: nothing to write
    sold_elsewhere, restocked, split = skus[0], skus[1], skus[2]
    inventory.set_stock(sold_elsewhere, 1, allocated=1)  # the last unit sold on another shop
    inventory.set_stock(restocked, quantities[restocked] + 4)
    inventory.set_stock(split, 1, warehouse_id="se-100")
    inventory.set_stock(split, 2, warehouse_id="se-200")  # two warehouses: 3 in all
    with (
        BackMarketClient(
            token=box.backmarket_token,
            user_agent=box.backmarket_user_agent,
            transport=box.backmarket_transport(),
            clock=box.clock,
        ) as bm,
        ShipStationInventoryClient(
            api_key=box.shipstation_v2_api_key,
            transport=box.shipstation_v2_transport(),
            clock=box.clock,
        ) as v2,
        SQLiteStore(":memory:") as store,
    ):
        source = shipstation_stock_source(v2)
        first = sync_stock(bm, source, store)
        second = sync_stock(bm, source, store)
        only_paris = shipstation_stock_source(v2, inventory_warehouse_id="se-200")()
    after = desk.quantities()
    assert after[sold_elsewhere] == 0
    assert after[restocked] == quantities[restocked] + 4
    assert after[split] == 3
    written = {c.sku for c in first.written}
    assert sold_elsewhere in written
    assert restocked in written
    assert first.written[0].sku == sold_elsewhere  # the sell-out goes first
    assert second.written == ()
    assert only_paris[split] == 2
    assert "shipstation_stock_source" in repr(source)


def test_the_command_reads_the_sandboxs_shipstation_inventory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["stock", "sync", "--sandbox", "--source", "shipstation", "--listings", "60"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "stock sync, account default: 60 listings" in out
    assert "written, in this order:" in out


def test_the_command_needs_the_v2_key_for_a_live_run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in ("SHIPSTATION_V2_API_KEY",):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKMARKET_TOKEN", "dG9rZW4tdG9rZW4tdG9rZW4=")
    monkeypatch.setenv("BACKMARKET_USER_AGENT", "BM-Acme-Stock;ops@acme.example")
    monkeypatch.setenv("SHIPSTATION_API_KEY", "k" * 32)
    monkeypatch.setenv("SHIPSTATION_API_SECRET", "s" * 32)
    monkeypatch.setenv("SHIPSTATION_STORE_ID", "1")
    monkeypatch.chdir(str(tmp_path))
    code = main(["stock", "sync", "--source", "shipstation", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert "SHIPSTATION_V2_API_KEY" in err
