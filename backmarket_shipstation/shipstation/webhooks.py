"""ShipStation V1 webhooks: read a webhook POST safely and fetch what it points at.

ShipStation's webhook POST carries only ``{"resource_url", "resource_type"}`` and is not
signed (shipstation.md §3.9). Anyone who knows your endpoint can post to it, so the URL is a
request from a stranger: fetching it blindly with your API credentials would send them to
whatever host the stranger chose (server-side request forgery, and a credential leak). The
helpers here accept only a URL on the configured ShipStation host, on a list endpoint that a
webhook really points at, and rebuild the request from the configured base URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from .._http import Request, query
from ..errors import PayloadError, UntrustedWebhookURLError
from .models import FulfillmentPage, OrderPage, ShipmentPage, WebhookPayload

__all__ = [
    "UntrustedWebhookURLError",
    "WebhookResource",
    "parse_webhook_payload",
    "webhook_resource_request",
]

WebhookResource: TypeAlias = OrderPage | ShipmentPage | FulfillmentPage
"""What a webhook's ``resource_url`` lists: orders (ORDER_NOTIFY), shipments (SHIP_NOTIFY) or
fulfillments."""

_RESOURCE_PARSERS: Mapping[str, Any] = {
    "/orders": OrderPage.from_dict,
    "/shipments": ShipmentPage.from_dict,
    "/fulfillments": FulfillmentPage.from_dict,
}


def parse_webhook_payload(body: bytes | str | Mapping[str, Any]) -> WebhookPayload:
    """The webhook POST body (raw bytes, text or decoded JSON) as a :class:`WebhookPayload`."""
    if isinstance(body, (bytes, str)):
        import json  # loaded by httpx anyway; not needed to import the clients

        try:
            body = json.loads(body)
        except ValueError:
            raise PayloadError("shipstation.WebhookPayload", "", "not JSON") from None
    if not isinstance(body, Mapping):
        raise PayloadError("shipstation.WebhookPayload", "", "not a JSON object")
    return WebhookPayload.from_dict(body)


def webhook_resource_request(
    payload: WebhookPayload | bytes | str | Mapping[str, Any], base_url: str
) -> Request[WebhookResource]:
    """The GET that fetches (the first page of) a webhook's resource, after checking it.

    The URL must use the scheme, host and port of ``base_url`` (the configured ShipStation
    API), carry no user info, and name ``/orders``, ``/shipments`` or ``/fulfillments``;
    otherwise :class:`UntrustedWebhookURLError`. Only the path and query are taken from the
    payload.
    """
    import httpx  # here, not at the top: importing the clients does not load httpx

    if not isinstance(payload, WebhookPayload):
        payload = parse_webhook_payload(payload)
    raw = payload.resource_url.strip()
    base = httpx.URL(base_url)
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, ValueError):
        raise UntrustedWebhookURLError("not a URL", url=raw) from None
    if url.scheme != base.scheme:
        raise UntrustedWebhookURLError(f"scheme {url.scheme!r} is not {base.scheme!r}", url=raw)
    if url.host.lower() != base.host.lower() or url.port != base.port:
        raise UntrustedWebhookURLError(
            f"host {url.host!r} is not the configured ShipStation host {base.host!r}", url=raw
        )
    if url.userinfo:
        raise UntrustedWebhookURLError("the URL carries user info", url=raw)
    base_path = base.path.rstrip("/")
    path = url.path
    if base_path and path.startswith(base_path + "/"):
        path = path[len(base_path) :]
    parse = _RESOURCE_PARSERS.get(path.rstrip("/").lower())
    if parse is None:
        raise UntrustedWebhookURLError(f"path {url.path!r} is not a webhook resource", url=raw)
    given = dict(url.params.multi_items())
    # Ask for the largest page, so that a big import batch takes few calls to walk.
    given.setdefault("page", "1")
    given.setdefault("pageSize", "500")
    params = query(**given)
    return Request(
        method="GET", path=path.rstrip("/").lower(), params=params, parse=parse, idempotent=True
    )
