"""The Custom Store endpoint: a WSGI application (and an ASGI one) that ShipStation calls.

One URL per account, ``/<account name>`` (``/`` too when only one account is served), two
operations told apart by ``action`` (shipstation-custom-store.md §1.1):

- ``GET ?action=export&start_date=…&end_date=…&page=N``: ``<Orders pages="N">``, at most
  100 orders a page, served from the :class:`~.feed.ExportFeed` (no Back Market call);
- ``POST ?action=shipnotify&order_number=…&carrier=…&service=…&tracking_number=…`` with a
  ``<ShipNotice>`` body: 200 with an empty body once reported (Magento's answer, §1.4).

Authentication is what ShipStation sends: HTTP Basic, or ``SS-UserName``/``SS-Password`` as
query parameters or headers (ShipStation's shipnotify example URL; its own Magento plugin),
compared in constant time; anything else is 401 with ``WWW-Authenticate: Basic
realm="ShipStation"``. Bodies over the limit are refused (413) before they are read, and
each client address is rate limited (429 with ``Retry-After``). The query string carries
the password in one of those forms: it never reaches a log.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

import attrs

from ..clock import Clock, SystemClock
from ..errors import MappingError
from .feed import PAGE_SIZE, ExportFeed
from .protocol import NoticeXMLError, parse_datetime, parse_ship_notice, render_orders
from .shipnotify import NoticeHandler

__all__ = ["CustomStoreApp", "Limits", "Request", "Response", "StoreAccount", "StoreCredentials"]

logger = logging.getLogger("backmarket_shipstation.customstore")

_REALM = 'Basic realm="ShipStation"'
_XML = "text/xml; charset=utf-8"


@attrs.frozen
class StoreCredentials:
    """The username and password typed into ShipStation's Custom Store form."""

    username: str = attrs.field(repr=False)
    password: str = attrs.field(repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("the Custom Store username and password must be non-empty")

    def matches(self, username: str, password: str) -> bool:
        """Constant-time: both are compared, whatever the first gives."""
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok


@attrs.frozen(kw_only=True)
class Limits:
    """Request limits of the endpoint."""

    max_body_bytes: int = 1024 * 1024
    """A notice is a few kilobytes; 1 MiB leaves room for thousand-item orders."""
    requests_per_minute: int = 600
    """Per client address: ShipStation pages and notifies in bursts, an attacker guesses."""
    overlap: timedelta = timedelta(minutes=10)
    """Each export window is widened by this much on both sides (see the guide: some
    integrations read the dates as Pacific time)."""


@attrs.frozen(kw_only=True)
class StoreAccount:
    """One Back Market account served at ``/<name>``."""

    name: str
    feed: ExportFeed
    notices: NoticeHandler
    credentials: StoreCredentials | None = None
    """This account's own credentials; ``None``: the application's."""


@attrs.frozen(kw_only=True)
class Request:
    """What the endpoint reads of an HTTP request (framework-neutral)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Lower-case names."""
    remote: str = ""


@attrs.frozen(kw_only=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def status_line(self) -> str:
        return f"{self.status} {_REASONS.get(self.status, 'Error')}"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _fault(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """An XML fault body, as ShipStation's Magento plugin answers (§1.1)."""
    text = message.replace("]]>", "]] >")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Message><![CDATA[{text}]]></Message></Error>"
    )
    return Response(status=status, body=body.encode(), headers=(("Content-Type", _XML), *headers))


class _RateLimiter:
    """A sliding one-minute window of request times per client address."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def admit(self, key: str) -> float | None:
        """``None`` when admitted, else the seconds to wait."""
        now = self.clock.monotonic()
        with self._lock:
            window = self._seen.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return max(1.0, 60 - (now - window[0]))
            window.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses rather than grow forever
                for idle in [k for k, v in self._seen.items() if not v]:
                    del self._seen[idle]
            return None


class _TooLarge(Exception):
    pass


class CustomStoreApp:
    """The Custom Store endpoint for one or more accounts: a WSGI callable, and :meth:`asgi`.

    Run it under any WSGI server (``gunicorn 'module:app'``) or ASGI server (``uvicorn
    'module:app.asgi'``), or with ``backmarket-shipstation store serve``. ``credentials``
    apply to every account that has none of its own.
    """

    def __init__(
        self,
        accounts: Sequence[StoreAccount],
        *,
        credentials: StoreCredentials | None,
        limits: Limits = Limits(),
        clock: Clock | None = None,
    ) -> None:
        if not accounts:
            raise ValueError("the Custom Store needs at least one account")
        for account in accounts:
            if account.credentials is None and credentials is None:
                raise ValueError(f"account {account.name!r} has no Custom Store credentials")
        self.accounts = {account.name: account for account in accounts}
        self._single = accounts[0] if len(accounts) == 1 else None
        self._credentials = credentials
        self.limits = limits
        self.clock = clock or SystemClock()
        self._limiter = _RateLimiter(limits.requests_per_minute, self.clock)

    def __repr__(self) -> str:
        return f"CustomStoreApp(accounts={sorted(self.accounts)!r})"

    # --- the framework-neutral core --------------------------------------------------

    def admit(self, request: Request) -> StoreAccount | Response:
        """Route, rate-limit and authenticate a request before its body is read."""
        name = unquote(request.path.strip("/"))
        account = self.accounts.get(name) if name else self._single
        if account is None:
            return _fault(404, "no Custom Store at this path")
        wait = self._limiter.admit(request.remote)
        if wait is not None:
            return _fault(429, "too many requests", (("Retry-After", str(int(wait + 0.999))),))
        expected = account.credentials or self._credentials
        given = _credentials_of(request)
        if expected is None or given is None or not expected.matches(*given):
            return _fault(401, "authentication required", (("WWW-Authenticate", _REALM),))
        return account

    def dispatch(self, account: StoreAccount, request: Request, body: bytes) -> Response:
        """Answer an admitted request."""
        action = request.query.get("action", "").strip().lower()
        if action == "export":
            if request.method not in ("GET", "HEAD"):
                return _fault(405, "export is a GET", (("Allow", "GET"),))
            return self._export(account, request)
        if action == "shipnotify":
            if request.method != "POST":
                return _fault(405, "shipnotify is a POST", (("Allow", "POST"),))
            return self._shipnotify(account, request, body)
        return _fault(400, "action must be export or shipnotify")

    def _export(self, account: StoreAccount, request: Request) -> Response:
        query = request.query
        try:
            start = parse_datetime(query.get("start_date", ""))
            end = parse_datetime(query.get("end_date", ""))
        except ValueError as exc:
            return _fault(400, str(exc))
        page_text = query.get("page", "1").strip() or "1"
        if not page_text.isdigit() or int(page_text) < 1:
            return _fault(400, f"page must be a number from 1 (got {page_text!r})")
        overlap = self.limits.overlap
        page = account.feed.page(
            account.name, start - overlap, end + overlap, int(page_text), page_size=PAGE_SIZE
        )
        body = render_orders(page.orders, pages=page.pages)
        return Response(status=200, body=body, headers=(("Content-Type", _XML),))

    def _shipnotify(self, account: StoreAccount, request: Request, body: bytes) -> Response:
        try:
            notice = parse_ship_notice(body, request.query)
        except NoticeXMLError as exc:
            return _fault(400, str(exc))
        except MappingError as exc:
            return _fault(400, str(exc))
        outcome = account.notices.handle(notice)
        if outcome.ok:
            return Response(status=200)
        message = f"order {notice.order_number}: {outcome.reason}"
        if outcome.transient:
            # Back Market did not answer: ShipStation retries (hourly), the journal makes
            # the retry safe.
            return _fault(503, message)
        return _fault(400, message)

    # --- WSGI ------------------------------------------------------------------------

    def __call__(
        self, environ: Mapping[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO", "/")),
            query=_query(str(environ.get("QUERY_STRING", ""))),
            headers=_wsgi_headers(environ),
            remote=str(environ.get("REMOTE_ADDR", "")),
        )
        admitted = self.admit(request)
        if isinstance(admitted, Response):
            response = admitted
        else:
            try:
                body = _read_wsgi_body(environ, self.limits.max_body_bytes)
            except _TooLarge:
                response = _fault(413, f"body over {self.limits.max_body_bytes} bytes")
            else:
                response = self._safe_dispatch(admitted, request, body)
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(response.status_line, headers)
        return [b"" if request.method == "HEAD" else response.body]

    def _safe_dispatch(self, account: StoreAccount, request: Request, body: bytes) -> Response:
        try:
            return self.dispatch(account, request, body)
        except Exception:
            # The traceback goes to the log (no credentials in it: they live in the
            # request, which is not logged); ShipStation gets a bare 500 and retries.
            logger.exception("Custom Store request failed (account %s)", account.name)
            return _fault(500, "internal error")

    # --- ASGI ------------------------------------------------------------------------

    async def asgi(
        self,
        scope: Mapping[str, Any],
        receive: Callable[[], Any],
        send: Callable[[Mapping[str, Any]], Any],
    ) -> None:
        """The same endpoint as an ASGI 3 application (the work runs in a thread)."""
        import asyncio

        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        client = scope.get("client") or ("", 0)
        request = Request(
            method=str(scope.get("method", "GET")).upper(),
            path=str(scope.get("path", "/")),
            query=_query(bytes(scope.get("query_string", b"")).decode("latin-1")),
            headers={
                bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
                for k, v in scope.get("headers", ())
            },
            remote=str(client[0]),
        )
        admitted = self.admit(request)
        if isinstance(admitted, Response):
            response = admitted
        else:
            limit = self.limits.max_body_bytes
            declared = request.headers.get("content-length", "")
            chunks: list[bytes] = []
            size = 0
            too_large = declared.isdigit() and int(declared) > limit
            while not too_large:
                message = await receive()
                chunk = bytes(message.get("body", b""))
                size += len(chunk)
                if size > limit:
                    too_large = True
                    break
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            if too_large:
                response = _fault(413, f"body over {limit} bytes")
            else:
                response = await asyncio.to_thread(
                    self._safe_dispatch, admitted, request, b"".join(chunks)
                )
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in (*response.headers, ("Content-Length", str(len(response.body))))
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


def _query(text: str) -> dict[str, str]:
    # parse_qs decodes "+" and %2f: ShipStation sends "01%2f23%2f2012+17%3a28" (§1.2).
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _wsgi_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if "CONTENT_LENGTH" in environ:
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    return headers


def _credentials_of(request: Request) -> tuple[str, str] | None:
    """The username and password, from Basic auth, the query string or SS-* headers."""
    authorization = request.headers.get("authorization", "")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, colon, password = decoded.partition(":")
        return (username, password) if colon else None
    # Username and password from one place, never one from each (Magento's Authenticator).
    query = request.query
    if "SS-UserName" in query or "SS-Password" in query:
        return query.get("SS-UserName", ""), query.get("SS-Password", "")
    headers = request.headers
    if "ss-username" in headers or "ss-password" in headers:
        return headers.get("ss-username", ""), headers.get("ss-password", "")
    return None


def _read_wsgi_body(environ: Mapping[str, Any], limit: int) -> bytes:
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if declared:
        if not declared.isdigit():
            raise _TooLarge
        length = int(declared)
        if length > limit:
            raise _TooLarge
        return bytes(stream.read(length)) if length else b""
    if "chunked" not in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        return b""  # no length and not chunked: no body (reading would wait for one)
    # Chunked (where the server decodes it): read one byte past the limit.
    data = bytes(stream.read(limit + 1))
    if len(data) > limit:
        raise _TooLarge
    return data
