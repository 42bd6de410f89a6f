"""The Back Market write plan: accept per SKU, ship once, identifiers where they are taken."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from backmarket_shipstation.backmarket.models import Order as BackMarketOrder
from backmarket_shipstation.backmarket.models import (
    OrderlineIdentifiers,
    OrderlineIdentifiersUpdate,
    OrderLineState,
    OrderUpdate,
)
from backmarket_shipstation.errors import (
    DeviceIdentifierError,
    InvalidIMEIError,
    InvalidSerialNumberError,
    MappingError,
    UncoveredLinesError,
)
from backmarket_shipstation.mapping import (
    LineIdentifiers,
    NotificationSource,
    NotificationStatus,
    ShipmentNotification,
    ShippedLine,
    to_backmarket_updates,
)

IMEI_A = "490154203237518"
IMEI_B = "356938035643809"
SHIPPED_AT = datetime(2025, 3, 11, 17, 51, 14, tzinfo=timezone.utc)
MakeOrder = Callable[..., BackMarketOrder]


def line(
    id: int, state: int = 1, sku: str = "IP13", quantity: int = 1, **more: Any
) -> dict[str, Any]:
    return {
        "id": id,
        "state": state,
        "listing": sku,
        "quantity": quantity,
        "price": "100.00",
        **more,
    }


# The ShipStation order holds every line these tests use (ids 11 to 14, up to 3 units each).
EVERY_LINE = {11: 3, 12: 3, 13: 3, 14: 3}


def notification(
    *identifiers: LineIdentifiers,
    order_id: int = 41234567,
    shipped: dict[int, int] | None = None,
) -> ShipmentNotification:
    return ShipmentNotification(
        shipped_lines=tuple(
            ShippedLine(orderline_id=key, quantity=units)
            for key, units in (EVERY_LINE if shipped is None else shipped).items()
        ),
        order_id=order_id,
        status=NotificationStatus.SHIPPED,
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        source=NotificationSource.SHIPMENT,
        shipper="Colissimo",
        carrier_code="colissimo",
        shipped_at=SHIPPED_AT,
        identifiers=identifiers,
    )


def ship(imei: str | None = None, serial_number: str | None = None) -> OrderUpdate:
    return OrderUpdate(
        order_id=41234567,
        new_state=OrderLineState.SHIPPED,
        tracking_number="6A12345678901",
        tracking_url="https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        shipper="Colissimo",
        date_shipping=SHIPPED_AT,
        imei=imei,
        serial_number=serial_number,
    )


def accept(sku: str) -> OrderUpdate:
    return OrderUpdate(order_id=41234567, new_state=OrderLineState.ACCEPTED, sku=sku)


def test_single_line_order_accepts_then_ships_with_the_imei(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(orderlines=[line(11)])
    plan = to_backmarket_updates(notification(LineIdentifiers(orderline_id=11, imei=IMEI_A)), order)
    assert plan == (accept("IP13"), ship(imei=IMEI_A))


def test_single_line_serial_number(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2)])
    given = LineIdentifiers(orderline_id=11, serial_number="F2LXK0ABJG5H")
    assert to_backmarket_updates(notification(given), order) == (
        ship(serial_number="F2LXK0ABJG5H"),
    )


def test_accept_once_per_distinct_sku(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(
        orderlines=[line(11), line(12), line(13, sku="S23"), line(14, sku="ip13")]
    )
    plan = to_backmarket_updates(notification(), order)
    assert plan[:2] == (accept("IP13"), accept("S23"))
    assert plan[2] == ship()
    assert len(plan) == 3


def test_multi_line_order_uses_orderline_patches(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(orderlines=[line(11), line(12, sku="S23")])
    plan = to_backmarket_updates(
        notification(
            LineIdentifiers(orderline_id=11, imei=IMEI_A),
            LineIdentifiers(orderline_id=12, imei=IMEI_B, serial_number="R58N12ABCDE"),
        ),
        order,
    )
    assert plan == (
        accept("IP13"),
        accept("S23"),
        ship(),  # no identifier on the ship call: Back Market could not tell the lines apart
        OrderlineIdentifiersUpdate(orderline_id=11, identifiers=OrderlineIdentifiers(imei=IMEI_A)),
        OrderlineIdentifiersUpdate(
            orderline_id=12,
            identifiers=OrderlineIdentifiers(imei=IMEI_B, serial_number="R58N12ABCDE"),
        ),
    )


def test_single_line_of_quantity_two_sends_no_identifier(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(orderlines=[line(11, quantity=2)])
    assert to_backmarket_updates(notification(), order) == (accept("IP13"), ship())


def test_finished_lines_get_no_write(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(
        orderlines=[line(11, state=2), line(12, state=4, sku="S23"), line(13, state=5, sku="X")]
    )
    plan = to_backmarket_updates(notification(LineIdentifiers(orderline_id=11, imei=IMEI_A)), order)
    # Line 11 is the only one shipped, but the order has three lines: PATCH, not the ship call.
    assert plan == (
        ship(),
        OrderlineIdentifiersUpdate(orderline_id=11, identifiers=OrderlineIdentifiers(imei=IMEI_A)),
    )


def test_order_already_shipped_yields_an_empty_plan(make_bm_order: MakeOrder) -> None:
    shipped = make_bm_order(state=9, orderlines=[line(11, state=3)])
    given = LineIdentifiers(orderline_id=11, imei=IMEI_A)
    assert to_backmarket_updates(notification(given), shipped) == ()
    cancelled = make_bm_order(state=9, orderlines=[line(11, state=4)])
    assert to_backmarket_updates(notification(), cancelled) == ()


def test_registered_identifiers_are_never_sent_again(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2, imei=IMEI_A)])
    given = LineIdentifiers(orderline_id=11, imei=IMEI_A)
    assert to_backmarket_updates(notification(given), order) == (ship(),)
    # The same on a multi-line order: only what Back Market does not hold yet is patched.
    lines = [line(11, state=2, imei=IMEI_A), line(12, state=2, serial_number="F2LXK0ABJG5H")]
    typed = (
        LineIdentifiers(orderline_id=11, imei=IMEI_A, serial_number="C02XK0ABJG5H"),
        LineIdentifiers(orderline_id=12, imei=IMEI_B, serial_number="F2LXK0ABJG5H"),
    )
    assert to_backmarket_updates(
        notification(*typed), make_bm_order(state=3, orderlines=lines)
    ) == (
        ship(),
        OrderlineIdentifiersUpdate(
            orderline_id=11, identifiers=OrderlineIdentifiers(serial_number="C02XK0ABJG5H")
        ),
        OrderlineIdentifiersUpdate(orderline_id=12, identifiers=OrderlineIdentifiers(imei=IMEI_B)),
    )


def test_shipper_defaults_to_other(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2, quantity=3)])
    bare = ShipmentNotification(
        shipped_lines=(ShippedLine(orderline_id=11, quantity=3),),
        order_id=41234567,
        status=NotificationStatus.SHIPPED,
        tracking_number="X1",
        source=NotificationSource.FULFILLMENT,
    )
    (only,) = to_backmarket_updates(bare, order)
    assert isinstance(only, OrderUpdate)
    assert only.shipper == "Other"
    assert only.to_dict() == {
        "order_id": 41234567,
        "new_state": 3,
        "tracking_number": "X1",
        "shipper": "Other",
    }


def test_ship_body_on_the_wire(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2)])
    plan = to_backmarket_updates(notification(LineIdentifiers(orderline_id=11, imei=IMEI_A)), order)
    assert plan[0].to_dict() == {  # type: ignore[union-attr]
        "order_id": 41234567,
        "new_state": 3,
        "tracking_number": "6A12345678901",
        "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901",
        "shipper": "Colissimo",
        "date_shipping": "2025-03-11T17:51:14Z",
        "imei": IMEI_A,
    }


def test_notification_for_another_order(make_bm_order: MakeOrder) -> None:
    with pytest.raises(MappingError, match="notification is for order 1"):
        to_backmarket_updates(notification(order_id=1), make_bm_order())


def test_identifiers_for_a_line_the_order_lacks(make_bm_order: MakeOrder) -> None:
    with pytest.raises(DeviceIdentifierError) as caught:
        to_backmarket_updates(
            notification(LineIdentifiers(orderline_id=99, imei=IMEI_A)), make_bm_order()
        )
    assert caught.value.line == "99"


def test_identifiers_are_checked_again_before_writing(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(orderlines=[line(11)])
    with pytest.raises(InvalidIMEIError):
        to_backmarket_updates(
            notification(LineIdentifiers(orderline_id=11, imei="490154203237519")), order
        )
    with pytest.raises(InvalidSerialNumberError):
        to_backmarket_updates(
            notification(LineIdentifiers(orderline_id=11, serial_number="S" * 51)), order
        )


def test_lines_not_released_block_the_plan(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=1, orderlines=[line(11), line(12, state=9, sku="S23")])
    with pytest.raises(MappingError, match="line 12 is not released"):
        to_backmarket_updates(notification(), order)


def test_line_without_sku_cannot_be_accepted(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(orderlines=[{"id": 11, "state": 1, "quantity": 1}])
    with pytest.raises(MappingError, match="no SKU"):
        to_backmarket_updates(notification(), order)


# --- every Back Market line accounted for (issue 13, item 2) ------------------------------


def test_a_phone_removed_from_the_shipstation_order_blocks_the_ship_write(
    make_bm_order: MakeOrder,
) -> None:
    # The seller removed phone 12 from the ShipStation order, then labelled phone 11: Back
    # Market's ship write would ship both lines, the second one without its IMEI.
    order = make_bm_order(
        state=3, orderlines=[line(11, state=2, sku="IP13"), line(12, state=2, sku="IP14")]
    )
    only_first = notification(LineIdentifiers(orderline_id=11, imei=IMEI_A), shipped={11: 1})
    with pytest.raises(UncoveredLinesError) as caught:
        to_backmarket_updates(only_first, order)
    assert caught.value.lines == (12,)
    assert caught.value.order_id == "41234567"
    text = str(caught.value)
    assert "line 12" in text
    assert "cancel or refund" in text
    assert "restore" in text


def test_a_paid_line_left_out_blocks_the_accept_too(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(orderlines=[line(11), line(12, sku="IP14")])
    with pytest.raises(UncoveredLinesError) as caught:
        to_backmarket_updates(notification(shipped={11: 1}), order)
    assert caught.value.lines == (12,)


def test_a_line_shipped_in_part_is_not_covered(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2, quantity=3)])
    with pytest.raises(UncoveredLinesError) as caught:
        to_backmarket_updates(notification(shipped={11: 2}), order)
    assert caught.value.lines == (11,)


def test_parts_of_one_line_add_up(make_bm_order: MakeOrder) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2, quantity=3)])
    split = attrs_evolve_shipped(notification(), ((11, 2), (11, 1)))
    assert to_backmarket_updates(split, order) == (ship(),)


def test_a_notification_that_names_no_shipped_line_ships_nothing(
    make_bm_order: MakeOrder,
) -> None:
    order = make_bm_order(state=3, orderlines=[line(11, state=2)])
    unknown = ShipmentNotification(
        order_id=41234567,
        status=NotificationStatus.SHIPPED,
        tracking_number="X1",
        source=NotificationSource.SHIPMENT,
        identifiers=(LineIdentifiers(orderline_id=11, imei=IMEI_A),),
    )
    with pytest.raises(UncoveredLinesError):
        to_backmarket_updates(unknown, order)


def test_lines_already_finished_need_no_cover(make_bm_order: MakeOrder) -> None:
    # The buyer's line 12 was cancelled on Back Market: only line 11 is still to ship.
    order = make_bm_order(state=3, orderlines=[line(11, state=2), line(12, state=4, sku="IP14")])
    plan = to_backmarket_updates(
        notification(LineIdentifiers(orderline_id=11, imei=IMEI_A), shipped={11: 1}), order
    )
    assert plan == (
        ship(),
        OrderlineIdentifiersUpdate(orderline_id=11, identifiers=OrderlineIdentifiers(imei=IMEI_A)),
    )


def attrs_evolve_shipped(
    base: ShipmentNotification, pairs: tuple[tuple[int, int], ...]
) -> ShipmentNotification:
    return attrs.evolve(
        base,
        shipped_lines=tuple(ShippedLine(orderline_id=k, quantity=q) for k, q in pairs),
    )
