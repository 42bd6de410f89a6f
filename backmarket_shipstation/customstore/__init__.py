"""Back Market as a ShipStation Custom Store: ShipStation pulls the orders and pushes the shipments.

Needs the ``customstore`` extra (``pip install 'backmarket-shipstation[customstore]'``) for
its hardened XML parser, defusedxml. See docs/guides/custom-store.md.

- :mod:`.protocol`: the pure protocol (``<Order>`` out, ``<ShipNotice>`` in).
- :mod:`.feed`: the export feed, read from Back Market ahead of ShipStation's calls.
- :mod:`.shipnotify`: notices reported through the sync engine's write journal.
- :mod:`.app`: the WSGI/ASGI endpoint; :mod:`.server` builds and runs it from a configuration.
"""

from .app import CustomStoreApp, Limits, Request, Response, StoreAccount, StoreCredentials
from .feed import EXPORT_STAGE, PAGE_SIZE, ExportFeed, ExportPage, FeedOptions, FeedRefresher
from .protocol import (
    DEFAULT_STATUSES,
    CustomStoreStatuses,
    NoticeItem,
    NoticeXMLError,
    ShipNotice,
    format_datetime,
    parse_datetime,
    parse_ship_notice,
    render_order,
    render_orders,
    to_notification,
)
from .shipnotify import SHIPNOTIFY_STAGE, NoticeHandler, NoticeOutcome, NotifyOptions

__all__ = [
    "DEFAULT_STATUSES",
    "EXPORT_STAGE",
    "PAGE_SIZE",
    "SHIPNOTIFY_STAGE",
    "CustomStoreApp",
    "CustomStoreStatuses",
    "ExportFeed",
    "ExportPage",
    "FeedOptions",
    "FeedRefresher",
    "Limits",
    "NoticeHandler",
    "NoticeItem",
    "NoticeOutcome",
    "NoticeXMLError",
    "NotifyOptions",
    "Request",
    "Response",
    "ShipNotice",
    "StoreAccount",
    "StoreCredentials",
    "format_datetime",
    "parse_datetime",
    "parse_ship_notice",
    "render_order",
    "render_orders",
    "to_notification",
]
