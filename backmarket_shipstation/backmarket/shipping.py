"""BackShip: the labels Back Market supplies to its subscribers (backmarket.md §7.4, A.5).

``GET /ws/shipping/v1/deliveries`` lists them (``page`` only, ``{count, next, previous,
results}``) and ``GET /ws/shipping/v1/deliveries/{id}`` reads one. Once a line of a BackShip
order (``Order.is_backship``) is accepted, Back Market makes its label; the seller ships
with it and still moves the line to 3 ([OAS]). ``bm.shipping`` on both clients.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

import attrs

from .._http import AsyncPaginator, Paginator, Request, query
from .models import Delivery, DeliveryPage, OrderState

if TYPE_CHECKING:
    from .._http import AsyncCore, SyncCore

__all__ = [
    "AsyncShipping",
    "Shipping",
    "backship_label",
    "get_delivery_request",
    "list_deliveries_request",
]


def _when(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("delivery date filters need a timezone-aware datetime")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_deliveries_request(
    *,
    order_id: int | None = None,
    start_date: datetime | str | None = None,
    end_date: datetime | str | None = None,
    pickup_start_date: datetime | str | None = None,
    pickup_end_date: datetime | str | None = None,
    order_state: OrderState | int | None = None,
    hub_scanned: bool | None = None,
    page: int = 1,
) -> Request[DeliveryPage]:
    """``GET /ws/shipping/v1/deliveries``: one page, filtered (creation and pickup dates are
    inclusive bounds, sent as RFC 3339 UTC)."""
    params = query(
        page=page,
        order_id=None if order_id is None else int(order_id),
        start_date=_when(start_date),
        end_date=_when(end_date),
        pickup_start_date=_when(pickup_start_date),
        pickup_end_date=_when(pickup_end_date),
        order_state=None if order_state is None else int(order_state),
        hub_scanned=hub_scanned,
    )
    return Request(
        method="GET",
        path="/ws/shipping/v1/deliveries",
        params=params,
        parse=DeliveryPage.from_dict,
        idempotent=True,
    )


def next_deliveries_page(
    request: Request[DeliveryPage], page: DeliveryPage, seen: int
) -> Request[DeliveryPage] | None:
    """Page ``n + 1`` while ``next`` is set and the page was not empty."""
    if not page.next or not page.results:
        return None
    current = int(request.param("page") or "1")
    return request.with_param("page", str(current + 1))


def get_delivery_request(delivery_id: int) -> Request[Delivery]:
    """``GET /ws/shipping/v1/deliveries/{id}``."""
    return Request(
        method="GET",
        path=f"/ws/shipping/v1/deliveries/{int(delivery_id)}",
        parse=Delivery.from_dict,
        idempotent=True,
    )


def backship_label(deliveries: list[Delivery] | tuple[Delivery, ...]) -> Delivery | None:
    """The label to ship an order with: its newest live delivery (pickup not cancelled)."""
    live = [d for d in deliveries if d.is_live]
    if not live:
        return None
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    return max(live, key=lambda d: (d.date_creation or oldest, d.shipment_id or 0))


def _with_absolute_label_url(found: Delivery | None, base_url: str) -> Delivery | None:
    """``found`` with its ``label_url`` made absolute (Back Market sends a path)."""
    if found is None or not found.label_url:
        return found
    return attrs.evolve(found, label_url=found.absolute_label_url(base_url))


class Shipping:
    """``bm.shipping``: BackShip deliveries (labels Back Market supplies)."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def deliveries(
        self,
        *,
        order_id: int | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
        pickup_start_date: datetime | str | None = None,
        pickup_end_date: datetime | str | None = None,
        order_state: OrderState | int | None = None,
        hub_scanned: bool | None = None,
    ) -> Paginator[DeliveryPage, Delivery]:
        """Every matching delivery, lazily, page after page."""
        first = list_deliveries_request(
            order_id=order_id,
            start_date=start_date,
            end_date=end_date,
            pickup_start_date=pickup_start_date,
            pickup_end_date=pickup_end_date,
            order_state=order_state,
            hub_scanned=hub_scanned,
        )
        return Paginator(self._core.send, first, lambda p: p.results, next_deliveries_page)

    def delivery(self, delivery_id: int) -> Delivery:
        """One delivery by id."""
        return self._core.send(get_delivery_request(delivery_id))

    def label_for(self, order_id: int) -> Delivery | None:
        """The live BackShip label of an order, its ``label_url`` made absolute; ``None`` when
        Back Market has made none yet (the lines are not accepted)."""
        found = backship_label(tuple(self.deliveries(order_id=order_id)))
        return _with_absolute_label_url(found, self._core.base_url)


class AsyncShipping:
    """``bm.shipping`` of :class:`~.client.AsyncBackMarketClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def deliveries(
        self,
        *,
        order_id: int | None = None,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
        pickup_start_date: datetime | str | None = None,
        pickup_end_date: datetime | str | None = None,
        order_state: OrderState | int | None = None,
        hub_scanned: bool | None = None,
    ) -> AsyncPaginator[DeliveryPage, Delivery]:
        """Every matching delivery (``async for``)."""
        first = list_deliveries_request(
            order_id=order_id,
            start_date=start_date,
            end_date=end_date,
            pickup_start_date=pickup_start_date,
            pickup_end_date=pickup_end_date,
            order_state=order_state,
            hub_scanned=hub_scanned,
        )
        return AsyncPaginator(self._core.send, first, lambda p: p.results, next_deliveries_page)

    async def delivery(self, delivery_id: int) -> Delivery:
        """One delivery by id."""
        return await self._core.send(get_delivery_request(delivery_id))

    async def label_for(self, order_id: int) -> Delivery | None:
        """The live BackShip label of an order (see :meth:`Shipping.label_for`)."""
        found = backship_label(tuple([d async for d in self.deliveries(order_id=order_id)]))
        return _with_absolute_label_url(found, self._core.base_url)
