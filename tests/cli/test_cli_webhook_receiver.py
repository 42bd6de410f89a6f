"""The webhook receiver's door: which POSTs it queues, and for which account."""

from __future__ import annotations

from typing import Any, cast

import httpx

from backmarket_shipstation._cli_webhook import WebhookReceiver
from backmarket_shipstation.sync.engine import SyncEngine


class _Account:
    """All the receiver reads of an engine before it fetches anything."""

    def __init__(self, account: str) -> None:
        self.account = account


def test_an_account_name_that_needs_quoting_reaches_its_account() -> None:
    engines = cast("list[SyncEngine]", [_Account("EU shop & co"), _Account("us")])
    receiver = WebhookReceiver(engines, port=0)
    receiver.start()
    try:
        # Not a shipment event: the worker drops it without touching the engine.
        payload: dict[str, Any] = {"resource_url": "x", "resource_type": "ORDER_NOTIFY"}
        assert httpx.post(receiver.url("EU shop & co"), json=payload).status_code == 200
        assert httpx.post(receiver.url("us"), json=payload).status_code == 200
        assert httpx.post(receiver.url("EU shop"), json=payload).status_code == 400
        assert httpx.post(receiver.url(), json=payload).status_code == 400
        receiver.wait_idle()
        assert (receiver.handled, receiver.dropped) == (2, 2)
    finally:
        receiver.stop()
