"""The ``webhook serve`` receiver: ShipStation SHIP_NOTIFY webhooks in, Back Market notified.

The receiver checks each POST at the door: a shipment event whose ``resource_url`` is not on
the configured ShipStation host (``ss.webhooks.fetch_all`` refuses it before sending
anything) is answered 400 and logged at WARNING; anything else accepted is answered 200 at
once, after putting the payload on an in-memory queue. One worker thread takes the payloads
in order, fetches the announced shipments and reports them with
``engine.notify_shipments(report, shipments=...)``. Nothing is lost if the process dies with
payloads queued: notifying through a webhook does not move the sync cursor, so the next
``sync`` poll covers the same shipments.

V1 webhooks are not signed (shipstation.md §3.9), hence the optional shared secret in the
path: ``http://host:port/<token>/shipstation``. The HTTP server is
:class:`~backmarket_shipstation._serving.BoundedHTTPServer`: read timeouts, a bounded
number of connections and threads (see :class:`~backmarket_shipstation._serving.ServerLimits`).
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode

from ._serving import BoundedHTTPServer, ServerLimits
from .errors import BackMarketShipStationError, UntrustedWebhookURLError
from .shipstation.models import Fulfillment, Shipment
from .sync.engine import SyncEngine
from .sync.report import AccountReport

__all__ = ["DEFAULT_LIMITS", "WEBHOOK_PATH", "WebhookReceiver"]

logger = logging.getLogger("backmarket_shipstation.cli.webhook")

WEBHOOK_PATH = "/shipstation"
"""Where ShipStation posts (after ``/<token>`` when a path token is set)."""

_MAX_BODY = 64 * 1024
"""A webhook body is two short fields; anything much larger is not ShipStation."""
_SHIP_EVENTS = frozenset({"SHIP_NOTIFY", "ITEM_SHIP_NOTIFY"})

DEFAULT_LIMITS = ServerLimits(max_body_bytes=_MAX_BODY)
"""The receiver's timeouts and bounds unless told otherwise (``webhook serve --help``)."""


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
        limits: ServerLimits = DEFAULT_LIMITS,
    ) -> None:
        if not engines:
            raise ValueError("the receiver needs at least one account")
        self._engines = {engine.account: engine for engine in engines}
        self._default = engines[0].account if len(engines) == 1 else None
        self._path = (f"/{path_token}" if path_token else "") + WEBHOOK_PATH
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._server = BoundedHTTPServer((host, port), self._handler_class(), limits=limits)
        self._server.thread_name = "webhook-http"
        self._counts = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self.handled = 0
        """Payloads the worker has finished with (notified, dropped or failed)."""
        self.dropped = 0
        """Payloads refused (an untrusted ``resource_url``: answered 400) or ignored by the
        worker (events other than shipments)."""

    def __repr__(self) -> str:
        # The path carries the shared secret: never in a repr.
        return f"WebhookReceiver(accounts={sorted(self._engines)!r}, port={self.port})"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def open_connections(self) -> int:
        """Connections the HTTP server holds now (being read, queued or answered)."""
        return self._server.open_connections

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
        if str(payload.get("resource_type") or "") in _SHIP_EVENTS:
            try:
                # Lazy: this checks the URL and sends nothing (the worker walks the pages).
                self._engines[account].ss.webhooks.fetch_all(payload)
            except UntrustedWebhookURLError as exc:
                # 400, as docs/guides/webhooks.md says: a forged payload is refused, and
                # ShipStation's retry policy is undocumented (shipstation.md §3.9), so a
                # genuine one refused here by a misconfigured host is covered by the poll.
                logger.warning("webhook: refused a payload for account %s: %s", account, exc)
                with self._counts:
                    self.dropped += 1
                return 400, "resource_url refused"
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
            with self._counts:
                self.dropped += 1
            return
        try:
            fetched = list(engine.ss.webhooks.fetch_all(payload))
        except UntrustedWebhookURLError as exc:  # checked at the door already
            logger.warning("webhook: dropped a payload: %s", exc)
            with self._counts:
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
                # BoundedHTTPServer refuses bad framing before this runs; checked again
                # so that the handler never trusts a header it has not read.
                declared = (self.headers.get("Content-Length") or "0").strip()
                if not declared.isdigit():
                    self._answer(400, "malformed Content-Length")
                    return
                length = int(declared)
                if length > receiver._server.limits.max_body_bytes:
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
