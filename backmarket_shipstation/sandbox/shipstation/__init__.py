"""A local simulator of the ShipStation API V1, on raw JSON and httpx.

:class:`ShipStationSimulator` answers ``httpx.Request`` objects the way ``ssapi.shipstation.com``
does (shipstation.md §1 to §3 and §8): HTTP Basic auth, the 40-per-minute fixed window with the
``X-Rate-Limit-*`` headers, orders with upsert on ``orderKey``, mark-as-shipped fulfillments,
labels that make shipments and queue ``SHIP_NOTIFY`` webhooks, stores, carriers, webhooks, US
Pacific dates without offsets and ASP.NET-shaped error bodies.

It is an independent implementation of the documented behaviour: it never imports the SDK's
ShipStation client, models or mapping, so the two cannot share a bug. Behaviours the
documentation leaves open are constructor options; docs/sandbox-shipstation.md lists them.

The layout follows the client's, one module per resource: :mod:`.orders`,
:mod:`.shipments` (labels), :mod:`.fulfillments`, :mod:`.stores`, :mod:`.carriers`,
:mod:`.webhooks`; :mod:`._core` holds the records, state, auth, limits and routing primitives
they share, and :mod:`.simulator` puts them together.
"""

from ._core import (
    DEFAULT_BACKMARKET_MARKETPLACE_ID,
    DEFAULT_BACKMARKET_STORE_ID,
    DEFAULT_MANUAL_STORE_ID,
    WebhookSend,
)
from ._records import (
    SimulatorRequestError,
)
from .simulator import ShipStationSimulator

__all__ = [
    "DEFAULT_BACKMARKET_MARKETPLACE_ID",
    "DEFAULT_BACKMARKET_STORE_ID",
    "DEFAULT_MANUAL_STORE_ID",
    "ShipStationSimulator",
    "SimulatorRequestError",
    "WebhookSend",
]
