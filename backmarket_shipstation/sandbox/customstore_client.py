"""ShipStation's side of the Custom Store protocol, simulated: export in pages, post notices.

What ShipStation does with a Custom Store URL (shipstation-custom-store.md §1.1-§1.4):

- export: ``GET [url]?action=export&start_date=MM/dd/yyyy HH:mm&end_date=…&page=1``, then
  ``page=2`` … up to the ``pages`` attribute of ``<Orders>``, dates in UTC;
- shipnotify: ``POST [url]?action=shipnotify&order_number=…&carrier=…&service=…
  &tracking_number=…`` with a ``<ShipNotice>`` body, retried (hourly in production) until
  it gets a 2xx;
- credentials sent one of three ways: HTTP Basic, ``SS-UserName``/``SS-Password`` in the
  query string (the documented shipnotify URL), or the same names as headers.

Production oddities it can reproduce on demand: the same notice sent twice, an order split
into several notices each with its own items, and an empty body the first time (§1.4, seen
in production), the full notice on the retry.

Like the other simulators it shares no code with the SDK's clients, models or mapping: it
reads and writes the XML itself (with defusedxml, as a careful client would).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal
from xml.sax.saxutils import escape

import attrs
import httpx
from defusedxml.ElementTree import fromstring

__all__ = ["AuthStyle", "CustomStoreClient", "ExportedOrder", "NoticeAttempt"]

AuthStyle = Literal["basic", "query", "headers"]


@attrs.frozen(kw_only=True)
class ExportedOrder:
    """An ``<Order>`` as ShipStation reads it: its text fields and its items."""

    fields: Mapping[str, str]
    """Direct children with text (``OrderID``, ``OrderNumber``, ``OrderStatus``…)."""
    bill_to: Mapping[str, str]
    ship_to: Mapping[str, str]
    items: tuple[Mapping[str, Any], ...]
    """Each item's fields, with ``Options`` as a list of ``(Name, Value)``."""

    @property
    def order_number(self) -> str:
        return self.fields["OrderNumber"]


@attrs.frozen(kw_only=True)
class NoticeAttempt:
    """One POST of a notice and its answer."""

    order_number: str
    status: int
    body: str
    empty_body: bool


def _fields(element: Any) -> dict[str, str]:
    return {child.tag: (child.text or "") for child in element if len(child) == 0}


def _date(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc)
    return f"{utc.month:02d}/{utc.day:02d}/{utc.year:04d} {utc.hour:02d}:{utc.minute:02d}"


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class CustomStoreClient:
    """ShipStation calling one Custom Store URL (``base_url`` is what the seller typed)."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        auth: AuthStyle = "basic",
        http: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._username = username
        self._password = password
        self.auth_style: AuthStyle = auth
        self._http = http or httpx.Client(timeout=timeout)
        self.attempts: list[NoticeAttempt] = []
        """Every notice POST made, in order."""
        self.export_requests = 0

    def __repr__(self) -> str:
        return f"CustomStoreClient(url={self.url!r}, auth={self.auth_style!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CustomStoreClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(
        self, method: str, params: Mapping[str, str], content: bytes | None = None
    ) -> httpx.Response:
        query = dict(params)
        headers = {}
        auth: tuple[str, str] | None = None
        if self.auth_style == "basic":
            auth = (self._username, self._password)
        elif self.auth_style == "query":
            query = {"SS-UserName": self._username, "SS-Password": self._password, **query}
        else:
            headers = {"SS-UserName": self._username, "SS-Password": self._password}
        if content is not None:
            headers["Content-Type"] = "application/xml; charset=utf-8"
        return self._http.request(
            method, self.url, params=query, headers=headers, content=content, auth=auth
        )

    # --- export ----------------------------------------------------------------------

    def export_pages(self, start: datetime, end: datetime) -> Iterator[list[ExportedOrder]]:
        """Each page of the export, fetching ``page=1..pages`` as ShipStation does."""
        page = 1
        while True:
            response = self._send(
                "GET",
                {
                    "action": "export",
                    "start_date": _date(start),
                    "end_date": _date(end),
                    "page": str(page),
                },
            )
            self.export_requests += 1
            response.raise_for_status()
            root = fromstring(response.content, forbid_dtd=True)
            pages = int(root.get("pages", "1"))
            yield [self._order(element) for element in root.findall("Order")]
            if page >= pages:
                return
            page += 1

    def export(self, start: datetime, end: datetime) -> list[ExportedOrder]:
        """Every order of the window, every page read."""
        return [order for page in self.export_pages(start, end) for order in page]

    @staticmethod
    def _order(element: Any) -> ExportedOrder:
        customer = element.find("Customer")
        items = []
        for item in element.findall("Items/Item"):
            values: dict[str, Any] = _fields(item)
            values["Options"] = [
                (option.findtext("Name") or "", option.findtext("Value") or "")
                for option in item.findall("Options/Option")
            ]
            items.append(values)
        return ExportedOrder(
            fields=_fields(element),
            bill_to=_fields(customer.find("BillTo")) if customer is not None else {},
            ship_to=_fields(customer.find("ShipTo")) if customer is not None else {},
            items=tuple(items),
        )

    # --- shipnotify ------------------------------------------------------------------

    @staticmethod
    def notice_xml(
        order: ExportedOrder,
        *,
        tracking_number: str,
        carrier: str,
        service: str,
        internal_notes: str,
        items: Sequence[Mapping[str, Any]] | None = None,
        ship_date: datetime,
        shipping_cost: str = "7.50",
    ) -> bytes:
        """The ``<ShipNotice>`` for a label of ``order`` (SS-CS-REF notify)."""
        fields = order.fields
        ship_to = order.ship_to
        recipient = "".join(
            f"<{tag}>{_cdata(ship_to.get(source, ''))}</{tag}>"
            for tag, source in (
                ("Name", "Name"),
                ("Company", "Company"),
                ("Address1", "Address1"),
                ("Address2", "Address2"),
                ("City", "City"),
                ("State", "State"),
                ("PostalCode", "PostalCode"),
                ("Country", "Country"),
            )
        )
        shipped = items if items is not None else order.items
        item_xml = "".join(
            "<Item>"
            f"<LineItemID>{escape(str(item.get('LineItemID', '')))}</LineItemID>"
            f"<SKU>{_cdata(str(item.get('SKU', '')))}</SKU>"
            f"<Name>{_cdata(str(item.get('Name', '')))}</Name>"
            f"<Quantity>{escape(str(item.get('Quantity', '1')))}</Quantity>"
            "</Item>"
            for item in shipped
            if item.get("Adjustment") != "true"
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><ShipNotice>'
            f"<OrderNumber>{_cdata(fields['OrderNumber'])}</OrderNumber>"
            f"<OrderID>{_cdata(fields.get('OrderID', ''))}</OrderID>"
            f"<CustomerCode>{_cdata(fields.get('CustomerCode', ''))}</CustomerCode>"
            f"<CustomerNotes>{_cdata(fields.get('CustomerNotes', ''))}</CustomerNotes>"
            f"<InternalNotes>{_cdata(internal_notes)}</InternalNotes>"
            "<NotesToCustomer></NotesToCustomer><NotifyCustomer>false</NotifyCustomer>"
            f"<LabelCreateDate>{_date(ship_date)}</LabelCreateDate>"
            f"<ShipDate>{ship_date.astimezone(timezone.utc):%m/%d/%Y}</ShipDate>"
            f"<Carrier>{escape(carrier)}</Carrier><Service>{escape(service)}</Service>"
            f"<TrackingNumber>{escape(tracking_number)}</TrackingNumber>"
            f"<ShippingCost>{escape(shipping_cost)}</ShippingCost>"
            f"<CustomField1>{_cdata(fields.get('CustomField1', ''))}</CustomField1>"
            f"<Recipient>{recipient}</Recipient>"
            f"<Items>{item_xml}</Items>"
            "</ShipNotice>"
        )
        return body.encode()

    def notify(
        self,
        order: ExportedOrder,
        *,
        tracking_number: str,
        carrier: str,
        service: str,
        internal_notes: str,
        ship_date: datetime,
        items: Sequence[Mapping[str, Any]] | None = None,
        empty_body_first: bool = False,
        retries: int = 3,
        between_retries: Callable[[], None] | None = None,
    ) -> NoticeAttempt:
        """POST a notice, retrying on a non-2xx answer or a dropped connection.

        ``items`` ships part of the order (a split). ``empty_body_first`` sends the first
        attempt with no body (the query string only), then the full notice. ShipStation
        waits an hour between retries; ``between_retries`` is called instead (say, to
        advance a virtual clock). Returns the last attempt.
        """
        params = {
            "action": "shipnotify",
            "order_number": order.order_number,
            "carrier": carrier,
            "service": service,
            "tracking_number": tracking_number,
        }
        body = self.notice_xml(
            order,
            tracking_number=tracking_number,
            carrier=carrier,
            service=service,
            internal_notes=internal_notes,
            items=items,
            ship_date=ship_date,
        )
        attempt: NoticeAttempt | None = None
        for number in range(retries + 1):
            empty = empty_body_first and number == 0
            try:
                response = self._send("POST", params, b"" if empty else body)
                attempt = NoticeAttempt(
                    order_number=order.order_number,
                    status=response.status_code,
                    body=response.text,
                    empty_body=empty,
                )
            except httpx.TransportError as exc:
                attempt = NoticeAttempt(
                    order_number=order.order_number,
                    status=0,
                    body=type(exc).__name__,
                    empty_body=empty,
                )
            self.attempts.append(attempt)
            if 200 <= attempt.status < 300:
                return attempt
            if between_retries is not None and number < retries:
                between_retries()
        assert attempt is not None
        return attempt
