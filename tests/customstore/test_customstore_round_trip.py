"""Round trip over real loopback HTTP: ShipStation exports every order, notifies every label."""

from __future__ import annotations

import os

from backmarket_shipstation.customstore.sandbox_run import store_round_trip

EXTENDED = os.environ.get("BMSS_EXTENDED", "") not in ("", "0")
ORDERS = 2000 if EXTENDED else 500


def test_500_orders_exported_in_pages_and_every_label_notified_once() -> None:
    result = store_round_trip(orders=ORDERS, seed=11)
    assert result.exported == result.distinct_exported  # every order once
    assert result.export_requests == -(-result.exported // 100)  # 100 a page
    assert result.shipped_orders > 50
    # Splits, duplicates, empty bodies and forgotten IMEIs all happened...
    assert result.outcomes[400] > 0
    assert result.refused_then_fixed > 0
    assert result.notices > result.shipped_orders
    # ...and Back Market received one ship POST per order, one PATCH per line at most, and
    # exactly the identifiers the packer typed.
    assert result.ship_writes == result.shipped_orders
    assert result.orders_shipped_twice == 0
    assert result.lines_patched_twice == 0
    assert result.identifiers_wrong == 0
    assert result.failures_left == 0
    assert result.exit_code == 0
