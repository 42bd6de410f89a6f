"""The ``webhook serve`` receiver: ShipStation SHIP_NOTIFY webhooks in, Back Market notified.

The receiver answers every accepted POST with 200 at once, after putting the payload on an
in-memory queue; one worker thread takes the payloads in order, fetches the announced
shipments through ``ss.webhooks.fetch_all`` (which refuses a ``resource_url`` that is not on
the configured ShipStation host: the payload is logged and dropped) and reports them with
``engine.notify_shipments(report, shipments=...)``. Nothing is lost if the process dies with
payloads queued: notifying through a webhook does not move the sync cursor, so the next
``sync`` poll covers the same shipments.

V1 webhooks are not signed (shipstation.md §3.9), hence the optional shared secret in the
path: ``http://host:port/<token>/shipstation``.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

from .errors import BackMarketShipStationError, UntrustedWebhookURLError
from .shipstation.models import Fulfillment, Shipment
from .sync.engine import SyncEngine
from .sync.report import AccountReport

__all__ = ["WEBHOOK_PATH", "WebhookReceiver"]

logger = logging.getLogger("backmarket_shipstation.cli.webhook")

WEBHOOK_PATH = "/shipstation"
"""Where ShipStation posts (after ``/<token>`` when a path token is set)."""

_MAX_BODY = 64 * 1024
"""A webhook body is two short fields; anything much larger is not ShipStation."""
_SHIP_EVENTS = frozenset({"SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"})


class WebhookReceiver:
    """An HTTP receiver for SHIP_NOTIFY webhooks, notifying Back Market through ``engines``.

    ``engines`` are open :class:`~backmarket_shipstation.sync.SyncEngine` s (see
    :func:`~backmarket_shipstation.sync.engines`). With several accounts, ShipStation posts
    to ``.../shipstation?account=NAME``; with one, the parameter may be left out.
    ``path_token`` is a shared secret that must prefix the path. Call :meth:`start`, then
    :meth:`stop`; :meth:`wait_idle` blocks until every queued payload has been handled.
    """

    def __init__(
        self,
        engines: Sequence[SyncEngine],
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        path_token: str | None = None,
    ) -> None:
        if not engines:
            raise ValueError("the receiver needs at least one account")
        self._engines = {engine.account: engine for engine in engines}
        self._default = engines[0].account if len(engines) == 1 else None
        self._path = (f"/{path_token}" if path_token else "") + WEBHOOK_PATH
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self.handled = 0
        """Payloads the worker has finished with (notified, dropped or failed)."""
        self.dropped = 0
        """Payloads refused by the worker (untrusted ``resource_url``, other events)."""

    def __repr__(self) -> str:
        # The path carries the shared secret: never in a repr.
        return f"WebhookReceiver(accounts={sorted(self._engines)!r}, port={self.port})"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    def url(self, account: str | None = None) -> str:
        """The URL to subscribe in ShipStation (it contains the path token, if any)."""
        query = "?" + urlencode({"account": account}) if account else ""
        return f"http://{self.host}:{self.port}{self._path}{query}"

    def start(self) -> None:
        """Start the HTTP server and the worker, each in a daemon thread."""
        for target, name in (
            (self._server.serve_forever, "webhook-http"),
            (self._work, "webhook-worker"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait_idle(self) -> None:
        """Block until every payload received so far has been handled."""
        self._queue.join()

    def wait_stopped(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has been called (or ``timeout``); True once stopped."""
        return self._stopped.wait(timeout)

    def stop(self) -> None:
        """Stop accepting, let the worker finish what is queued, and return. Idempotent."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    # ------------------------------------------------------------------------------------

    def _accept(self, path: str, body: bytes) -> tuple[int, str]:
        """Check a POST and queue it; returns the status and a short message."""
        route, _, query = path.partition("?")
        if not hmac.compare_digest(route.rstrip("/").encode(), self._path.encode()):
            return 404, "not found"
        named = parse_qs(query, keep_blank_values=True).get("account")
        account = named[-1] if named else self._default
        if account is None or account not in self._engines:
            return 400, "unknown or missing account"
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "not JSON"
        if not isinstance(payload, dict) or "resource_url" not in payload:
            return 400, "not a ShipStation webhook"
        self._queue.put((account, payload))
        return 200, "queued"

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._handle(*item)
            except Exception:
                # The worker must survive anything: the next poll covers what was lost.
                logger.exception("webhook: unexpected error; the next sync poll catches up")
            finally:
                self.handled += item is not None
                self._queue.task_done()

    def _handle(self, account: str, payload: dict[str, Any]) -> None:
        engine = self._engines[account]
        event = str(payload.get("resource_type") or "")
        if event not in _SHIP_EVENTS:
            logger.info("webhook: ignored a %s payload (not a shipment event)", event or "typeless")
            self.dropped += 1
            return
        try:
            fetched = list(engine.ss.webhooks.fetch_all(payload))
        except UntrustedWebhookURLError as exc:
            logger.warning("webhook: dropped a payload: %s", exc)
            self.dropped += 1
            return
        except BackMarketShipStationError as exc:
            logger.warning(
                "webhook: could not fetch the shipments (%s); the next poll retries", exc
            )
            return
        shipments = [s for s in fetched if isinstance(s, (Shipment, Fulfillment))]
        report = AccountReport(account=account, started_at=engine.clock.now())
        engine.notify_shipments(report, shipments=shipments)
        report.finished_at = engine.clock.now()
        logger.info("webhook: %d shipment(s) announced\n%s", len(shipments), report.to_text())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "backmarket-shipstation-webhook"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > _MAX_BODY:
                    self._answer(413, "too large")
                    return
                body = self.rfile.read(length) if length > 0 else b""
                status, message = receiver._accept(self.path, body)
                self._answer(status, message)

            def do_GET(self) -> None:
                self._answer(405, "POST only")

            def _answer(self, status: int, message: str) -> None:
                data = json.dumps({"status": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                # The default logs the request line, which carries the path token.
                logger.debug(
                    "webhook: %s answered %s", self.command, args[1] if len(args) > 1 else ""
                )

        return Handler
