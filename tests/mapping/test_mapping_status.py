"""Status mapping: the seed's table, the derived outcome from order lines, custom maps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.backmarket.models import OrderState
from backmarket_shipstation.mapping import StatusMap, to_shipstation_order
from backmarket_shipstation.shipstation.models import OrderStatus

MakeOrder = Callable[..., BackMarketOrder]


def lines(*states: int) -> list[dict[str, Any]]:
    return [
        {"id": 100 + index, "state": state, "listing": f"SKU-{index}", "quantity": 1}
        for index, state in enumerate(states)
    ]


# The seed's "Order Status Mapping" rows, ShipStation side → Back Market side.
def test_status_awaiting_payment_has_no_backmarket_status() -> None:
    assert StatusMap().backmarket_state(OrderStatus.AWAITING_PAYMENT) is None


def test_status_awaiting_shipment_is_backmarket_status_1() -> None:
    assert StatusMap().backmarket_state(OrderStatus.AWAITING_SHIPMENT) is OrderState.TO_ACCEPT
    assert StatusMap().shipstation_status(OrderState.TO_ACCEPT) is OrderStatus.AWAITING_SHIPMENT


def test_status_shipped_is_backmarket_status_9() -> None:
    assert StatusMap().backmarket_state(OrderStatus.SHIPPED) is OrderState.SHIPPED
    assert StatusMap().shipstation_status(OrderState.SHIPPED) is OrderStatus.SHIPPED


def test_status_cancelled_has_no_backmarket_status() -> None:
    assert StatusMap().backmarket_state(OrderStatus.CANCELLED) is None


def test_status_on_hold_has_no_backmarket_status() -> None:
    assert StatusMap().backmarket_state(OrderStatus.ON_HOLD) is None


def test_accepted_order_still_awaits_shipment() -> None:
    assert StatusMap().shipstation_status(OrderState.TO_SHIP) is OrderStatus.AWAITING_SHIPMENT


@pytest.mark.parametrize("state", [OrderState.NEW, OrderState.PENDING_PAYMENT, OrderState.NOT_PAID])
def test_unpaid_states_are_not_importable(state: OrderState) -> None:
    assert StatusMap().shipstation_status(state) is None


def test_unknown_state_is_not_importable(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=42)
    assert not StatusMap().is_importable(order)


@pytest.mark.parametrize(
    "states",
    [(4,), (4, 4), (5, 6), (4, 5, 6, 7), (6,)],
)
def test_all_lines_cancelled_or_refunded_is_cancelled_never_shipped(
    make_bm_order: MakeOrder, states: tuple[int, ...]
) -> None:
    order = make_bm_order(state=9, orderlines=lines(*states))
    assert StatusMap().status_of(order) is OrderStatus.CANCELLED


def test_partly_shipped_order_is_shipped(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=9, orderlines=lines(3, 4))
    assert StatusMap().status_of(order) is OrderStatus.SHIPPED


def test_order_with_one_line_to_accept_awaits_shipment(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=1, orderlines=lines(1, 4))
    assert StatusMap().status_of(order) is OrderStatus.AWAITING_SHIPMENT


def test_custom_status_map(make_bm_order: MakeOrder) -> None:
    # A seller who wants new orders on hold until someone checks them.
    custom = StatusMap(
        to_shipstation={OrderState.TO_ACCEPT: OrderStatus.ON_HOLD},
        from_shipstation={OrderStatus.ON_HOLD: OrderState.TO_ACCEPT},
    )
    order = to_shipstation_order(make_bm_order(), status_map=custom)
    assert order.order_status is OrderStatus.ON_HOLD
    assert custom.backmarket_state(OrderStatus.ON_HOLD) is OrderState.TO_ACCEPT
    assert custom.shipstation_status(OrderState.TO_SHIP) is None


def test_status_map_tables_are_read_only() -> None:
    table = {OrderState.TO_ACCEPT: OrderStatus.ON_HOLD}
    custom = StatusMap(to_shipstation=table)
    table[OrderState.TO_SHIP] = OrderStatus.ON_HOLD
    assert custom.shipstation_status(OrderState.TO_SHIP) is None
    with pytest.raises(TypeError):
        custom.to_shipstation[OrderState.TO_SHIP] = OrderStatus.SHIPPED  # type: ignore[index]
