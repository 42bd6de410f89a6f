"""The Back Market write plan: a shipment notification → the calls that report it.

Back Market acts on order lines (backmarket.md §3.3, §10):

1. accept: ``new_state`` 2 with the ``sku``, once per distinct SKU of the lines still in
   state 1 (paid, to accept); Back Market rejects shipping lines it has not accepted;
2. ship: one ``new_state`` 3 with tracking number, shipper, tracking URL and ship date; it
   covers every accepted line. The IMEI or serial number rides along only when the order has
   exactly one line, of quantity 1. So it is planned only when the notification's
   ``shipped_lines`` hold every unit of every line still to ship (whatever ShipStation order
   or split part they went out in); otherwise nothing at all is planned;
3. for any other order, one ``PATCH /ws/orderlines/{id}`` per line with identifiers.

Lines already shipped, cancelled or refunded get no write, and an order Back Market already
processed (state 9) gets none at all. An identifier Back Market already holds is never sent
again: it cannot be corrected once registered.
"""

from __future__ import annotations

from ..backmarket.models import (
    BackMarketWrite,
    OrderLine,
    OrderlineIdentifiers,
    OrderlineIdentifiersUpdate,
    OrderLineState,
    OrderState,
    OrderUpdate,
)
from ..backmarket.models import Order as BackMarketOrder
from ..errors import (
    DeviceIdentifierError,
    InvalidIMEIError,
    InvalidSerialNumberError,
    MappingError,
    UncoveredLinesError,
)
from .carriers import OTHER_SHIPPER
from .identifiers import SERIAL_NUMBER_MAX_LENGTH, is_valid_imei
from .notification import LineIdentifiers, ShipmentNotification

__all__ = ["to_backmarket_updates"]


def _check_identifiers(given: LineIdentifiers, order_id: int) -> None:
    # A notification may come from storage or the caller: check again before a write that
    # Back Market can never undo.
    if given.imei is not None and not is_valid_imei(given.imei):
        raise InvalidIMEIError(
            "not a valid IMEI", order_id=order_id, line=given.orderline_id, value=given.imei
        )
    serial = given.serial_number
    if serial is not None and not 0 < len(serial) <= SERIAL_NUMBER_MAX_LENGTH:
        raise InvalidSerialNumberError(
            f"a serial number has 1 to {SERIAL_NUMBER_MAX_LENGTH} characters",
            order_id=order_id,
            line=given.orderline_id,
            value=serial,
        )


def _unregistered(line: OrderLine, typed: LineIdentifiers | None) -> tuple[str | None, str | None]:
    """The IMEI and serial typed for a line that Back Market does not hold yet.

    One it holds is never sent again: it cannot be corrected once registered.
    """
    if typed is None:
        return None, None
    return (
        typed.imei if line.imei is None else None,
        typed.serial_number if line.serial_number is None else None,
    )


_TO_SHIP = (OrderLineState.PAID, OrderLineState.ACCEPTED)
# Lines Back Market has not released to the merchant yet: nothing can be shipped around them.
_NOT_RELEASED = (OrderLineState.NEW, OrderLineState.PENDING_PAYMENT, OrderLineState.ON_HOLD)


def to_backmarket_updates(
    notification: ShipmentNotification, bm_order: BackMarketOrder
) -> tuple[BackMarketWrite, ...]:
    """The ordered Back Market writes that report ``notification`` on ``bm_order``.

    ``bm_order`` should be freshly fetched: the plan depends on its line states, and a state
    POST repeated by mistake is a real second write.

    Raises :class:`~backmarket_shipstation.errors.MappingError` when the notification is for
    another order, when a line still awaits payment or validation (states 0, 8, 9), or when
    a line to accept has no SKU,
    :class:`~backmarket_shipstation.errors.UncoveredLinesError` when a line still to ship is
    not (or not wholly) in the notification's ``shipped_lines``, and
    :class:`~backmarket_shipstation.errors.DeviceIdentifierError` when the notification names
    an order line the order does not have.
    """
    order_id = bm_order.order_id
    if notification.order_id != order_id:
        raise MappingError(
            f"the notification is for order {notification.order_id}", order_id=order_id
        )
    lines = bm_order.lines
    if bm_order.state is OrderState.SHIPPED:
        return ()
    to_ship = [line for line in lines if line.state in _TO_SHIP]
    if not to_ship:
        return ()
    waiting = [line for line in lines if line.state in _NOT_RELEASED]
    if waiting:
        raise MappingError(
            f"line {waiting[0].id} is not released to the merchant yet "
            f"(state {waiting[0].state!r}): ship once Back Market validates it",
            order_id=order_id,
        )
    by_line = notification.identifiers_by_line
    known_ids = {line.id for line in lines}
    for orderline_id, given in by_line.items():
        if orderline_id not in known_ids:
            raise DeviceIdentifierError(
                "identifiers for a line the order does not have",
                order_id=order_id,
                line=orderline_id,
            )
        _check_identifiers(given, order_id)
    shipped = notification.shipped_quantities
    uncovered = [line.id for line in to_ship if shipped.get(line.id, 0) < (line.quantity or 1)]
    if uncovered:
        # One state-3 write ships every accepted line (backmarket.md §3.3): a line not in any
        # shipped ShipStation item would be reported shipped without its parcel or its IMEI.
        raise UncoveredLinesError(
            "not every Back Market line is shipped", order_id=order_id, lines=uncovered
        )

    writes: list[BackMarketWrite] = []
    accepted: set[str] = set()
    for line in to_ship:
        if line.state is not OrderLineState.PAID:
            continue
        if not line.listing:
            raise MappingError(
                f"line {line.id} has no SKU: Back Market accepts lines by SKU", order_id=order_id
            )
        if line.listing.casefold() not in accepted:
            accepted.add(line.listing.casefold())
            writes.append(
                OrderUpdate(order_id=order_id, new_state=OrderLineState.ACCEPTED, sku=line.listing)
            )

    single = lines[0] if len(lines) == 1 and lines[0].quantity == 1 else None
    imei, serial = (
        _unregistered(single, by_line.get(single.id)) if single is not None else (None, None)
    )
    writes.append(
        OrderUpdate(
            order_id=order_id,
            new_state=OrderLineState.SHIPPED,
            tracking_number=notification.tracking_number,
            tracking_url=notification.tracking_url,
            # A BackShip label's carrier is Back Market's own: left as Back Market has it.
            shipper=(
                None
                if bm_order.is_backship and notification.shipper is None
                else notification.shipper or OTHER_SHIPPER
            ),
            date_shipping=notification.shipped_at,
            imei=imei,
            serial_number=serial,
        )
    )
    if single is None:
        for line in to_ship:
            if line.quantity != 1:
                continue
            new_imei, new_serial = _unregistered(line, by_line.get(line.id))
            if new_imei is None and new_serial is None:
                continue
            writes.append(
                OrderlineIdentifiersUpdate(
                    orderline_id=line.id,
                    identifiers=OrderlineIdentifiers(imei=new_imei, serial_number=new_serial),
                )
            )
    return tuple(writes)
