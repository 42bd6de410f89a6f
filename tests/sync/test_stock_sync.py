"""sync_stock against the sandbox: a seller's warehouse stock pushed to Back Market."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.sync.stock import StockSourceError, file_stock_source, sync_stock
from backmarket_shipstation.sync.store import SQLiteStore


def sandbox(listings: int, **options: Any) -> Sandbox:
    return Sandbox(
        seed=11,
        orders=5,
        clock=VirtualClock(),
        backmarket_options={"listings": listings, **options},
    )


def client(box: Sandbox, **kwargs: Any) -> BackMarketClient:
    return BackMarketClient(
        token=box.backmarket_token,
        user_agent=box.backmarket_user_agent,
        transport=box.backmarket_transport(),
        clock=box.clock,
        **kwargs,
    )


def changed_source(
    quantities: dict[str, int], *, to_zero: int, down: int, up: int
) -> tuple[dict[str, int], dict[str, str]]:
    """The warehouse's numbers: Back Market's, with some changed. Returns the source and
    what kind of change each changed SKU got."""
    source = dict(quantities)
    kinds: dict[str, str] = {}
    stocked = sorted(sku for sku, q in quantities.items() if q >= 2)
    for sku in stocked[:to_zero]:
        source[sku], kinds[sku] = 0, "to_zero"
    for sku in stocked[to_zero : to_zero + down]:
        source[sku], kinds[sku] = quantities[sku] - 1, "down"
    for sku in stocked[to_zero + down : to_zero + down + up]:
        source[sku], kinds[sku] = quantities[sku] + 3, "up"
    return source, kinds


def test_round_trip_5000_skus_300_changed_writes_exactly_those_downs_first() -> None:
    box = sandbox(5000)
    desk = box.backmarket.listings
    source, kinds = changed_source(desk.quantities(), to_zero=100, down=100, up=100)
    with client(box) as bm, SQLiteStore(":memory:") as store:
        report = sync_stock(bm, source, store)
        writes = list(desk.writes)
        assert len(writes) == 300
        assert {w["sku"] for w in writes} == set(kinds)
        assert all(w["fields"] == {"quantity": source[w["sku"]]} for w in writes)
        order = [kinds[w["sku"]] for w in writes]
        assert order == ["to_zero"] * 100 + ["down"] * 100 + ["up"] * 100
        assert box.counters.count(outcome="429") == 0
        assert desk.quantities() == source
        assert len(report.written) == 300
        assert report.deferred == ()
        assert report.failed == ()
        assert report.unchanged == 4700

        again = sync_stock(bm, source, store)
        assert again.planned == ()
        assert again.written == ()
        assert len(desk.writes) == 300
    assert box.counters.count(outcome="429") == 0


def test_a_sale_on_back_market_is_not_put_back_on_sale() -> None:
    box = sandbox(300)
    desk = box.backmarket.listings
    with client(box) as bm, SQLiteStore(":memory:") as store:
        source = desk.quantities()
        sku = next(s for s, q in sorted(source.items()) if q >= 3)
        source[sku] = 3
        sync_stock(bm, source, store)
        assert desk.quantities()[sku] == 3
        desk.sell(sku, 1)  # an order on Back Market, not yet counted by the warehouse
        unchanged = sync_stock(bm, source, store)
        assert unchanged.written == ()
        assert desk.quantities()[sku] == 2
        # The warehouse counts the sale (2): nothing to write either.
        source[sku] = 2
        assert sync_stock(bm, source, store).written == ()
        # A restock to 5 is written; and if someone raised it above stock on Back Market,
        # the source's number comes back at once.
        source[sku] = 5
        assert [c.target for c in sync_stock(bm, source, store).written] == [5]
        desk.set_quantity(sku, 9)
        lowered = sync_stock(bm, source, store)
        assert [(c.current, c.target, c.kind) for c in lowered.written] == [(9, 5, "down")]


def test_never_more_than_the_source_says_and_unknown_skus_on_both_sides() -> None:
    box = sandbox(40)
    desk = box.backmarket.listings
    quantities = desk.quantities()
    skus = sorted(quantities)
    source: dict[str, int] = {sku: quantities[sku] for sku in skus[5:]}
    oversold = next(sku for sku in skus[5:] if quantities[sku] > 0)
    source[oversold] = -2  # oversold in the warehouse: 0, not -2
    source["WAREHOUSE-ONLY"] = 4
    with client(box) as bm, SQLiteStore(":memory:") as store:
        report = sync_stock(bm, source, store)
    assert set(report.unknown_in_source) == set(skus[:5])
    assert report.unknown_on_backmarket == ("WAREHOUSE-ONLY",)
    for sku in skus[:5]:
        assert desk.quantities()[sku] == quantities[sku]  # not in the source: untouched
    assert [(c.sku, c.target) for c in report.written] == [(oversold, 0)]
    assert desk.quantities()[oversold] == 0


def test_more_changes_than_the_hourly_budget_go_out_downs_first_over_runs() -> None:
    box = sandbox(400)
    desk = box.backmarket.listings
    source, kinds = changed_source(desk.quantities(), to_zero=20, down=20, up=40)
    with client(box, max_sku_lines_per_hour=50) as bm, SQLiteStore(":memory:") as store:
        first = sync_stock(bm, source, store)
        assert len(first.written) == 50
        assert len(first.deferred) == 30
        assert {kinds[c.sku] for c in first.written[:40]} == {"to_zero", "down"}
        assert all(kinds[c.sku] == "up" for c in first.deferred)
        assert box.counters.count(outcome="429") == 0
        # Within the hour nothing more fits: the rest waits, nothing is refused by Back Market.
        assert sync_stock(bm, source, store).written == ()
        box.clock.sleep(3600)
        last = sync_stock(bm, source, store)
        assert len(last.written) == 30
        assert last.deferred == ()
    assert desk.quantities() == source
    assert len(desk.writes) == 80


def test_dry_run_lists_the_writes_and_changes_nothing() -> None:
    box = sandbox(60)
    desk = box.backmarket.listings
    before = desk.quantities()
    source, kinds = changed_source(before, to_zero=2, down=2, up=2)
    with client(box) as bm, SQLiteStore(":memory:") as store:
        report = sync_stock(bm, source, store, dry_run=True)
        assert [kinds[c.sku] for c in report.planned] == ["to_zero"] * 2 + ["down"] * 2 + ["up"] * 2
        assert report.written == ()
        assert desk.writes == []
        assert desk.quantities() == before
        assert store.pushed_stock("default") == {}
    assert json.loads(json.dumps(report.to_dict()))["planned"][0]["to"] == 0


def test_one_refused_write_does_not_stop_the_others() -> None:
    box = sandbox(30)
    desk = box.backmarket.listings
    quantities = desk.quantities()
    skus = sorted(s for s, q in quantities.items() if q > 0)[:3]
    source = dict.fromkeys(skus, 0)
    with client(box) as bm, SQLiteStore(":memory:") as store:
        # The listing disappears between the read and the write (deleted in the Back Office).
        stored = desk.listing(skus[1])
        assert stored is not None
        real = bm.listings.set_quantity

        def flaky(listing_id: str | int, quantity: int, **kwargs: Any) -> Any:
            if listing_id == stored["id"]:
                return bm.listings.get("00000000-0000-4000-8000-000000000000")
            return real(listing_id, quantity, **kwargs)

        bm.listings.set_quantity = flaky  # type: ignore[method-assign]
        report = sync_stock(bm, source, store)
        assert [f.sku for f in report.failed] == [skus[1]]
        assert {c.sku for c in report.written} == {skus[0], skus[2]}
        assert set(store.pushed_stock("default")) >= {skus[0].lower(), skus[2].lower()}
        assert skus[1].lower() not in store.pushed_stock("default")


def test_csv_and_json_files_and_their_bad_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "stock.csv"
    csv_file.write_text("SKU;Available;Bin\nA-1;3;x\nB-2;none;y\n;4;z\nA-1;2;w\n", "utf-8")
    source = file_stock_source(csv_file)
    assert source() == {"A-1": 2}
    json_file = tmp_path / "stock.json"
    json_file.write_text(json.dumps([{"sku": "C-3", "quantity": 1}, {"sku": "D-4"}]), "utf-8")
    assert file_stock_source(json_file)() == {"C-3": 1}
    (tmp_path / "map.json").write_text('{"E-5": 0, "F-6": 7}', "utf-8")
    assert file_stock_source(tmp_path / "map.json")() == {"E-5": 0, "F-6": 7}
    (tmp_path / "bad.csv").write_text("sku,bin\nA,1\n", "utf-8")
    with pytest.raises(StockSourceError, match="quantity column") as missing:
        file_stock_source(tmp_path / "bad.csv")()
    assert missing.value.line == 1
    with pytest.raises(StockSourceError, match="cannot be read"):
        file_stock_source(tmp_path / "absent.csv")()

    box = sandbox(20)
    sku = sorted(box.backmarket.listings.quantities())[0]
    csv_file.write_text(f"sku,quantity\n{sku},0\nZZ,oops\n", "utf-8")
    with client(box) as bm, SQLiteStore(":memory:") as store:
        report = sync_stock(bm, file_stock_source(csv_file), store)
    assert report.invalid == ("ZZ (line 3): quantity 'oops' is not a whole number",)
    assert box.backmarket.listings.quantities()[sku] == 0


def test_any_callable_is_a_source_and_the_state_survives_a_reopened_file(
    tmp_path: Path,
) -> None:
    box = sandbox(50)
    desk = box.backmarket.listings
    source, _ = changed_source(desk.quantities(), to_zero=3, down=0, up=2)
    calls: list[int] = []

    def warehouse() -> dict[str, int]:
        calls.append(1)
        return source

    state = tmp_path / "state.sqlite3"
    with client(box) as bm:
        with SQLiteStore(state) as store:
            assert len(sync_stock(bm, warehouse, store).written) == 5
        with SQLiteStore(state) as store:
            assert sync_stock(bm, warehouse, store).written == ()
    assert len(calls) == 2
