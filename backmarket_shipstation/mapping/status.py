"""Order status mapping between Back Market and ShipStation.

ShipStation's Back Market integration documents this table (seed, "Order Status Mapping"):

==================  ==================
ShipStation         Back Market order
==================  ==================
Awaiting Payment    N/A
Awaiting Shipment   Status 1
Shipped             Status 9
Cancelled           N/A
On Hold             N/A
==================  ==================

Back Market order state 3 (every line accepted, to ship) is not in the table; an order that
was imported in state 1 and accepted is still waiting for shipment, so it maps to
``awaiting_shipment`` too. States 0, 10 (payment pending) and 8 (payment failed) must not be
shipped: they are not imported.

The outcome is derived from the order lines, not only from the order state: Back Market sets
an order to 9 once every line is final, even when every line was cancelled or refunded and
nothing shipped (backmarket.md §5.1). Such an order is ``cancelled``, never ``shipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from ..backmarket.models import Order as BackMarketOrder
from ..backmarket.models import OrderLineState, OrderState
from ..shipstation.models import OrderStatus

__all__ = [
    "DEFAULT_FROM_SHIPSTATION",
    "DEFAULT_STATUS_MAP",
    "DEFAULT_TO_SHIPSTATION",
    "StatusMap",
]

DEFAULT_TO_SHIPSTATION: Mapping[OrderState, OrderStatus] = MappingProxyType(
    {
        OrderState.TO_ACCEPT: OrderStatus.AWAITING_SHIPMENT,
        OrderState.TO_SHIP: OrderStatus.AWAITING_SHIPMENT,
        OrderState.SHIPPED: OrderStatus.SHIPPED,
    }
)
"""Back Market order state → ShipStation status; states not listed are not imported."""

DEFAULT_FROM_SHIPSTATION: Mapping[OrderStatus, OrderState] = MappingProxyType(
    {
        OrderStatus.AWAITING_SHIPMENT: OrderState.TO_ACCEPT,
        OrderStatus.SHIPPED: OrderState.SHIPPED,
    }
)
"""ShipStation status → Back Market order state; statuses not listed have none."""

# Lines that ended without reaching the buyer: cancelled, refunded before or after shipping,
# or never paid. An order made only of these is cancelled, whatever Back Market's order state.
_UNFULFILLED_FINAL = frozenset(
    {
        OrderLineState.CANCELLED,
        OrderLineState.REFUNDED_BEFORE_SHIPPING,
        OrderLineState.REFUNDED_AFTER_SHIPPING,
        OrderLineState.NOT_PAID,
    }
)


def _freeze_to_shipstation(
    table: Mapping[OrderState, OrderStatus],
) -> Mapping[OrderState, OrderStatus]:
    return MappingProxyType(dict(table))


def _freeze_from_shipstation(
    table: Mapping[OrderStatus, OrderState],
) -> Mapping[OrderStatus, OrderState]:
    return MappingProxyType(dict(table))


@attrs.frozen(kw_only=True)
class StatusMap:
    """How order statuses map between the two sides; replace either table to customise it.

    Like ShipStation's custom-status setting: pass your own ``to_shipstation`` (Back Market
    order state → ShipStation status) and ``from_shipstation`` tables. A state missing from
    ``to_shipstation`` is not importable; a status missing from ``from_shipstation`` has no
    Back Market counterpart.

    >>> StatusMap().shipstation_status(OrderState.TO_ACCEPT)
    <OrderStatus.AWAITING_SHIPMENT: 'awaiting_shipment'>
    """

    to_shipstation: Mapping[OrderState, OrderStatus] = attrs.field(
        default=DEFAULT_TO_SHIPSTATION, converter=_freeze_to_shipstation
    )
    from_shipstation: Mapping[OrderStatus, OrderState] = attrs.field(
        default=DEFAULT_FROM_SHIPSTATION, converter=_freeze_from_shipstation
    )

    def shipstation_status(self, state: OrderState | None) -> OrderStatus | None:
        """The ShipStation status of a Back Market order state, or ``None`` (not importable)."""
        if state is None:
            return None
        return self.to_shipstation.get(state)

    def backmarket_state(self, status: OrderStatus) -> OrderState | None:
        """The Back Market order state of a ShipStation status, or ``None`` when it has none."""
        return self.from_shipstation.get(status)

    def status_of(self, order: BackMarketOrder) -> OrderStatus | None:
        """The ShipStation status of a whole Back Market order, derived from its lines.

        An order whose lines are all cancelled, refunded or unpaid is ``cancelled`` (Back
        Market reports it as state 9, "processed", all the same). Otherwise the order state
        goes through the table; ``None`` means the order is not to be imported.
        """
        lines = order.lines
        if lines and _UNFULFILLED_FINAL.issuperset([line.state for line in lines]):
            return OrderStatus.CANCELLED
        return self.shipstation_status(order.state)

    def is_importable(self, order: BackMarketOrder) -> bool:
        """True when the order maps to a ShipStation status."""
        return self.status_of(order) is not None


DEFAULT_STATUS_MAP = StatusMap()
"""The status map of ShipStation's Back Market integration."""
