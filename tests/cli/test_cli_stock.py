"""``backmarket-shipstation stock sync``: a seller pushes a stock file from the shell."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from backmarket_shipstation.cli import main

from .conftest import LiveSandbox


def test_stock_sync_from_a_csv_file_then_nothing_to_do(
    live_sandbox: Callable[[int], LiveSandbox],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    live = live_sandbox(191)
    desk = live.sandbox.backmarket.listings
    quantities = desk.quantities()
    stocked = sorted(s for s, q in quantities.items() if q >= 2)
    source = dict(quantities)
    source[stocked[0]] = 0
    source[stocked[1]] = quantities[stocked[1]] + 1
    source["NOT-LISTED"] = 2
    stock = tmp_path / "stock.csv"
    stock.write_text(
        "sku,available\n" + "".join(f"{sku},{q}\n" for sku, q in source.items()), "utf-8"
    )

    assert main(["stock", "sync", "--source", str(stock), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "(dry run)" in dry
    assert "2 writes planned, 2 would write" in dry
    assert desk.writes == []

    assert main(["stock", "sync", "--source", str(stock)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    first, second = (lines.index(x) for x in lines if stocked[0] in x or stocked[1] in x)
    assert "to 0" in lines[first]
    assert "up" in lines[second]
    assert "in the source, no Back Market listing (1): NOT-LISTED" in out
    assert [w["sku"] for w in desk.writes] == [stocked[0], stocked[1]], out

    assert main(["stock", "sync", "--source", str(stock), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["planned"] == []
    assert report["unknown_on_backmarket"] == ["NOT-LISTED"]
    assert len(desk.writes) == 2


def test_stock_sync_without_a_source_or_with_a_bad_file_is_a_configuration_error(
    live_sandbox: Callable[[int], LiveSandbox],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    live_sandbox(192)
    assert main(["stock", "sync"]) == 2
    assert "--source" in capsys.readouterr().err
    bad = tmp_path / "stock.csv"
    bad.write_text("reference,count\nA,1\n", "utf-8")
    assert main(["stock", "sync", "--source", str(bad)]) == 2
    assert "has no sku column" in capsys.readouterr().err


def test_stock_sync_on_the_built_in_sandbox(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stock", "sync", "--sandbox", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["listings"] == 250
    assert report["planned"]
    assert report["written"] == report["planned"]
    kinds = [c["kind"] for c in report["written"]]
    assert kinds == sorted(kinds, key=["to_zero", "down", "up"].index)
