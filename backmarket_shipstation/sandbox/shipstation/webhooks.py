"""The ShipStation simulator's webhook subscriptions (``/webhooks``)."""

from __future__ import annotations

from typing import Any

from ._core import (
    WEBHOOK_EVENTS,
    SimulatorCore,
)
from ._records import (
    _bad_request,
    _invalid,
    _Reply,
    _Request,
    _Webhook,
)
from ._values import (
    _text,
)


class WebhooksResource(SimulatorCore):
    """Webhook subscriptions (``/webhooks``)."""

    def _list_webhooks(self, req: _Request) -> dict[str, Any]:
        return {"webhooks": [self._render_webhook(w) for w in self._webhooks.values()]}

    def _subscribe(self, req: _Request) -> tuple[int, dict[str, Any]]:
        body = self._body_object(req, "request")
        target = body.get("target_url")
        if not isinstance(target, str) or not target:
            raise _invalid("request.target_url", "The target_url field is required.")
        event = body.get("event")
        if event not in WEBHOOK_EVENTS:
            raise _invalid("request.event", f"Invalid event: {event}")
        store_id = body.get("store_id")
        if store_id is not None and store_id not in self._stores:
            raise _bad_request(f"Store not found: {store_id}")
        webhook_id = self._take("webhook")
        self._webhooks[webhook_id] = _Webhook(
            webhook_id=webhook_id,
            target_url=target,
            event=str(event),
            store_id=store_id,
            name=_text(body.get("friendly_name"), "friendly_name"),
        )
        return 200, {"id": webhook_id}

    def _unsubscribe(self, req: _Request) -> tuple[int, None]:
        webhook_id = int(req.params["id"])
        if self._webhooks.pop(webhook_id, None) is None:
            raise _Reply(404, {"Message": f"Webhook not found: {webhook_id}"})
        return 200, None
