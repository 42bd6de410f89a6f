"""The endpoint: credentials three ways, wrong ones, body and rate limits, routing, ASGI."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from pathlib import Path
from typing import Any

import attrs
import pytest
from customstore_support import PASSWORD, USERNAME, StoreHarness, wsgi_environ

from backmarket_shipstation.customstore import Limits, StoreCredentials
from backmarket_shipstation.customstore.app import CustomStoreApp


@pytest.mark.parametrize("auth", ["basic", "query", "headers"])
def test_the_three_ways_shipstation_sends_credentials(harness: StoreHarness, auth: str) -> None:
    harness.running.refresh_all()
    status, _, body = harness.call(
        "GET",
        {"action": "export", "start_date": "01/01/2026 00:00", "end_date": "12/31/2026 00:00"},
        auth=auth,
    )
    assert status == 200
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<Orders pages="1">')


@pytest.mark.parametrize(
    ("auth", "username", "password"),
    [
        ("basic", USERNAME, "wrong"),
        ("basic", "someone", PASSWORD),
        ("query", USERNAME, ""),
        ("headers", "", PASSWORD),
        ("none", USERNAME, PASSWORD),
    ],
)
def test_wrong_or_missing_credentials_get_401_with_a_challenge(
    harness: StoreHarness, auth: str, username: str, password: str
) -> None:
    status, headers, body = harness.call(
        "GET", {"action": "export"}, auth=auth, username=username, password=password
    )
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="ShipStation"'
    assert b"<Error>" in body
    assert PASSWORD.encode() not in body


def test_username_and_password_come_from_one_place(harness: StoreHarness) -> None:
    # The username in the query and the password in a header: not a login (Magento's rule).
    environ = wsgi_environ(
        query=f"action=export&SS-UserName={USERNAME}",
        headers={"SS-Password": PASSWORD},
    )
    seen: list[Any] = []
    harness.running.app(environ, lambda status, headers: seen.append(status))
    assert seen == ["401 Unauthorized"]


def test_malformed_basic_header_is_a_401(harness: StoreHarness) -> None:
    seen: list[Any] = []
    for value in ("Basic !!!not-base64", "Basic " + base64.b64encode(b"no-colon").decode()):
        harness.running.app(
            wsgi_environ(query="action=export", headers={"Authorization": value}),
            lambda status, headers: seen.append(status),
        )
    assert seen == ["401 Unauthorized"] * 2


def test_credentials_compare_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    credentials = StoreCredentials("user", "pass")
    assert not credentials.matches("nobody", "pass")
    # Both compared even when the username already failed: no early exit to time.
    assert calls == [(b"nobody", b"user"), (b"pass", b"pass")]
    assert "pass" not in repr(credentials)


def test_a_50_mb_body_is_refused_before_it_is_read(harness: StoreHarness) -> None:
    class Exploding(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("the body must not be read")

    environ = wsgi_environ(
        "POST",
        query="action=shipnotify&order_number=1&tracking_number=1Z",
        content_length=50 * 1024 * 1024,
        headers={
            "Authorization": "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        },
    )
    environ["wsgi.input"] = Exploding()
    seen: list[Any] = []
    harness.running.app(environ, lambda status, headers: seen.append(status))
    assert seen == ["413 Payload Too Large"]


def test_a_50_mb_chunked_body_is_cut_at_the_limit(harness: StoreHarness) -> None:
    class Endless(io.RawIOBase):
        served = 0

        def read(self, size: int = -1) -> bytes:
            self.served += size
            return b"<" * size

    stream = Endless()
    environ = wsgi_environ(
        "POST",
        query="action=shipnotify&order_number=1&tracking_number=1Z",
        headers={
            "Authorization": "Basic "
            + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(),
            "Transfer-Encoding": "chunked",
        },
    )
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input"] = stream
    seen: list[Any] = []
    harness.running.app(environ, lambda status, headers: seen.append(status))
    assert seen == ["413 Payload Too Large"]
    assert stream.served == Limits().max_body_bytes + 1


def test_rate_limit_per_client_address(harness: StoreHarness) -> None:
    app = CustomStoreApp(
        list(harness.running.app.accounts.values()),
        credentials=StoreCredentials(USERNAME, PASSWORD),
        limits=Limits(requests_per_minute=3),
        clock=harness.clock,
    )
    statuses: list[str] = []
    for _ in range(4):
        app(wsgi_environ(query="action=export"), lambda status, headers: statuses.append(status))
    assert statuses == ["401 Unauthorized"] * 3 + ["429 Too Many Requests"]
    harness.clock.advance(61)
    app(wsgi_environ(query="action=export"), lambda status, headers: statuses.append(status))
    assert statuses[-1] == "401 Unauthorized"


def test_accounts_are_served_by_path(harness: StoreHarness) -> None:
    assert harness.call("GET", {"action": "export"}, path="/elsewhere")[0] == 404
    # One account: "/" serves it too.
    status, _, _ = harness.call(
        "GET",
        {"action": "export", "start_date": "01/01/2026 00:00", "end_date": "01/02/2026 00:00"},
        path="/",
    )
    assert status == 200


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("POST", {"action": "export"}, 405),
        ("GET", {"action": "shipnotify"}, 405),
        ("GET", {"action": "delete"}, 400),
        ("GET", {"action": "export", "start_date": "yesterday", "end_date": "today"}, 400),
        (
            "GET",
            {
                "action": "export",
                "start_date": "01/01/2026 00:00",
                "end_date": "01/02/2026 00:00",
                "page": "0",
            },
            400,
        ),
    ],
)
def test_bad_requests(
    harness: StoreHarness, method: str, params: dict[str, str], expected: int
) -> None:
    assert harness.call(method, params)[0] == expected


def test_passwords_in_the_query_never_reach_the_log(
    harness: StoreHarness, caplog: pytest.LogCaptureFixture
) -> None:
    from backmarket_shipstation.customstore.server import StoreServer

    caplog.set_level(logging.DEBUG)
    server = StoreServer(harness.running, port=0)
    server.start(refresh_first=False)
    try:
        import httpx

        httpx.get(
            server.url("sandbox"),
            params={"action": "export", "SS-UserName": USERNAME, "SS-Password": PASSWORD},
        )
    finally:
        server.stop()
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("backmarket_shipstation")]
    assert any("GET /sandbox" in message for message in ours)
    assert not any(PASSWORD in message for message in ours)


def test_the_asgi_application_answers_like_the_wsgi_one(harness: StoreHarness) -> None:
    harness.running.refresh_all()
    app = harness.running.app
    token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode())

    async def call(
        query: bytes, body_chunks: list[bytes], method: str = "GET"
    ) -> tuple[int, bytes]:
        messages = [
            {"type": "http.request", "body": chunk, "more_body": n < len(body_chunks) - 1}
            for n, chunk in enumerate(body_chunks or [b""])
        ]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": "/sandbox",
            "query_string": query,
            "headers": [(b"authorization", b"Basic " + token)],
            "client": ("127.0.0.1", 5000),
        }
        await app.asgi(scope, receive, send)
        return sent[0]["status"], sent[1]["body"]

    status, body = asyncio.run(
        call(b"action=export&start_date=01/01/2026+00:00&end_date=12/31/2026+00:00", [])
    )
    assert status == 200
    assert body.count(b"<Order>") == len(harness.exported_orders())
    # A 50 MB body in 1 MB chunks: refused once the limit is passed, not read to the end.
    chunks = [b"x" * (1024 * 1024)] * 50
    status, _ = asyncio.run(call(b"action=shipnotify", chunks, method="POST"))
    assert status == 413


def test_several_accounts_on_one_endpoint_by_path(tmp_path: Path) -> None:
    from backmarket_shipstation.customstore.config import StoreAccountConfig, StoreConfig
    from backmarket_shipstation.customstore.server import build_store
    from backmarket_shipstation.sync.store import SQLiteStore

    harness = StoreHarness(tmp_path / "one.sqlite3")
    harness.close()
    sandbox = harness.sandbox
    account = harness.config.accounts[0]
    config = StoreConfig(
        accounts=(
            attrs.evolve(account, name="eu"),
            attrs.evolve(account, name="us", accept_orders=False, order_key_prefix="bm-us-"),
        ),
        credentials=StoreCredentials(USERNAME, PASSWORD),
    )
    assert isinstance(config.accounts[0], StoreAccountConfig)
    with (
        SQLiteStore(tmp_path / "two.sqlite3") as store,
        build_store(
            config,
            store=store,
            clock=harness.clock,
            transport=lambda _: sandbox.backmarket_transport(),
        ) as running,
    ):
        running.refresh_all()
        token = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        query = "action=export&start_date=01/01/2026+00:00&end_date=12/31/2026+00:00"
        bodies = {}
        for path in ("/eu", "/us", "/"):
            seen: list[str] = []
            body = b"".join(
                running.app(
                    wsgi_environ(
                        path=path, query=query, headers={"Authorization": f"Basic {token}"}
                    ),
                    lambda status, headers, seen=seen: seen.append(status),
                )
            )
            bodies[path] = (seen[0], body)
    assert bodies["/"][0] == "404 Not Found"  # several accounts: the path must name one
    assert bodies["/eu"][0] == bodies["/us"][0] == "200 OK"
    assert b"<OrderID><![CDATA[backmarket-" in bodies["/eu"][1]
    assert b"<OrderID><![CDATA[bm-us-" in bodies["/us"][1]
    assert b"<CustomField1><![CDATA[us]]>" in bodies["/us"][1]


def test_the_asgi_lifespan_is_answered(harness: StoreHarness) -> None:
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(harness.running.app.asgi({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def test_silent_connections_hold_no_thread_and_are_closed_after_the_timeout(
    harness: StoreHarness,
) -> None:
    import socket
    import threading
    import time

    import httpx

    from backmarket_shipstation._serving import ServerLimits
    from backmarket_shipstation.customstore.server import StoreServer

    before = threading.active_count()
    limits = ServerLimits(request_timeout=1.0, workers=2, max_body_bytes=1024)
    server = StoreServer(harness.running, port=0, limits=limits)
    server.start(refresh_first=False)
    silent = []
    try:
        for _ in range(100):
            sock = socket.create_connection((server.host, server.port), timeout=60)
            sock.sendall(b"POST /sandbox?action=shipnotify HTTP/1.1\r\nContent-Length: 500\r\n\r\n")
            silent.append(sock)
        # Answered while they are held, and no thread per connection.
        answer = httpx.get(server.url("sandbox"), params={"action": "export"}, timeout=60)
        assert answer.status_code == 401  # no credentials: the endpoint itself answered
        assert threading.active_count() <= before + 1 + limits.workers + 1
        malformed = socket.create_connection((server.host, server.port), timeout=60)
        malformed.sendall(b"POST /sandbox HTTP/1.1\r\nContent-Length: abc\r\n\r\n")
        assert malformed.recv(4096).startswith(b"HTTP/1.1 400 ")
        malformed.close()
        # Each silent one is answered 408 and closed by the server (recv ends).
        for sock in silent:
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 408 ")
        deadline = time.monotonic() + 60
        while server.open_connections:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        for sock in silent:
            sock.close()
        server.stop()
