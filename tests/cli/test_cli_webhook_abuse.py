"""The webhook receiver under abuse: silent connections, bad framing, clients that vanish.

Real loopback sockets against ``WebhookReceiver``. No durations are asserted: the receiver's
timeout is set short and the tests wait for what it does (a 408, a closed socket), with
generous bounds only so that a broken receiver fails instead of hanging.
"""

from __future__ import annotations

import logging
import resource
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import httpx
import pytest

from backmarket_shipstation._cli_webhook import WEBHOOK_PATH, WebhookReceiver
from backmarket_shipstation._serving import ServerLimits
from backmarket_shipstation.shipstation import ShipStationClient
from backmarket_shipstation.sync.engine import SyncEngine

SILENT = 500
GENEROUS = 60.0
"""Seconds before a test gives up waiting for what it expects (never reached when it works)."""

# Not a shipment event: the receiver queues it and the worker drops it without any request.
HARMLESS = (
    b'{"resource_url": "https://ssapi.shipstation.com/orders", "resource_type": "ORDER_NOTIFY"}'
)


class _Account:
    """What the receiver reads of an engine at its door: the name and the ShipStation client
    (which checks a ``resource_url`` without sending anything)."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.ss = ShipStationClient(api_key="key", api_secret="secret")


@pytest.fixture(autouse=True)
def enough_descriptors() -> Iterator[None]:
    """500 client sockets and their 500 server ends live in this one process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4096
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < 2 * SILENT + 100:
            pytest.skip(f"the open-files limit ({hard}) is below what the test needs")
        resource.setrlimit(
            resource.RLIMIT_NOFILE,
            (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard),
        )
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def serve() -> Iterator[Callable[[ServerLimits], WebhookReceiver]]:
    receivers: list[WebhookReceiver] = []

    def start(limits: ServerLimits) -> WebhookReceiver:
        engines = cast("list[SyncEngine]", [_Account("shop")])
        receiver = WebhookReceiver(engines, port=0, limits=limits)
        receiver.start()
        receivers.append(receiver)
        return receiver

    yield start
    for receiver in receivers:
        receiver.stop()


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GENEROUS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _post(receiver: WebhookReceiver, body: bytes = HARMLESS) -> httpx.Response:
    return httpx.post(receiver.url(), content=body, timeout=GENEROUS)


def _raw(receiver: WebhookReceiver, request: bytes) -> bytes:
    """Send ``request`` as it is and read the answer until the receiver closes."""
    with socket.create_connection((receiver.host, receiver.port), timeout=GENEROUS) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _open_silent(receiver: WebhookReceiver, count: int) -> list[socket.socket]:
    """Half send a complete header block announcing a body that never comes; half stop in
    the middle of their headers (slowloris)."""
    silent = []
    for n in range(count):
        sock = socket.create_connection((receiver.host, receiver.port), timeout=GENEROUS)
        if n % 2:
            sock.sendall(
                f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\n".encode()
            )
        else:
            sock.sendall(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
        silent.append(sock)
    return silent


def test_500_silent_connections_hold_no_threads_and_others_are_answered(
    serve: Callable[[ServerLimits], WebhookReceiver],
) -> None:
    before = threading.active_count()
    limits = ServerLimits(request_timeout=GENEROUS * 2, max_connections=SILENT + 20, workers=4)
    receiver = serve(limits)
    silent = _open_silent(receiver, SILENT)
    try:
        _wait_for(lambda: receiver.open_connections == SILENT, "the receiver to hold them all")
        answers = [_post(receiver).status_code for _ in range(20)]
        assert answers == [200] * 20
        receiver.wait_idle()
        # The HTTP loop, its workers and the receiver's own worker: nothing per connection.
        assert threading.active_count() <= before + 1 + limits.workers + 1
        # Every silent one is still held (far from its timeout) once the answered ones are
        # let go (a worker closes its connection just after the client has read the answer).
        _wait_for(lambda: receiver.open_connections == SILENT, "only the silent ones left")
    finally:
        for sock in silent:
            sock.close()
    _wait_for(lambda: receiver.open_connections == 0, "the receiver to see them go")


def test_silent_connections_are_answered_408_and_closed_after_the_timeout(
    serve: Callable[[ServerLimits], WebhookReceiver],
) -> None:
    before = threading.active_count()
    limits = ServerLimits(request_timeout=0.5, max_connections=SILENT + 20, workers=2)
    receiver = serve(limits)
    silent = _open_silent(receiver, SILENT)
    received: dict[socket.socket, bytes] = dict.fromkeys(silent, b"")
    selector = selectors.DefaultSelector()
    for sock in silent:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + GENEROUS
    try:
        # Wait for the receiver to close each one: end of file after its answer.
        while selector.get_map():
            assert time.monotonic() < deadline, f"{len(selector.get_map())} never closed"
            for key, _ in selector.select(1.0):
                sock = cast("socket.socket", key.fileobj)
                chunk = sock.recv(4096)
                received[sock] += chunk
                if not chunk:
                    selector.unregister(sock)
        assert threading.active_count() <= before + 1 + limits.workers + 1
    finally:
        selector.close()
        for sock in silent:
            sock.close()
    assert all(data.startswith(b"HTTP/1.1 408 ") for data in received.values())
    _wait_for(lambda: receiver.open_connections == 0, "the gauge to come down")
    assert _post(receiver).status_code == 200


def test_connections_beyond_the_limit_are_refused_with_503_then_served_again(
    serve: Callable[[ServerLimits], WebhookReceiver],
) -> None:
    receiver = serve(ServerLimits(request_timeout=GENEROUS * 2, max_connections=5))
    silent = _open_silent(receiver, 5)
    _wait_for(lambda: receiver.open_connections == 5, "five held connections")
    refused = _post(receiver)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    for sock in silent:
        sock.close()
    _wait_for(lambda: receiver.open_connections == 0, "the five to be let go")
    assert _post(receiver).status_code == 200


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (b"abc", 400),
        (b"-5", 400),
        (b"+5", 400),
        (b"5.0", 400),
        (b"\xd9\xa3", 400),  # an Arabic-Indic digit: a digit to str.isdigit(), not to HTTP
        (b"5, 6", 400),
        (b"99999999999999999999", 413),
        (b"65537", 413),
    ],
)
def test_a_malformed_or_oversized_content_length_gets_a_clear_answer(
    serve: Callable[[ServerLimits], WebhookReceiver],
    capfd: pytest.CaptureFixture[str],
    length: bytes,
    status: int,
) -> None:
    receiver = serve(ServerLimits(request_timeout=GENEROUS, max_body_bytes=64 * 1024))
    answer = _raw(
        receiver,
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: ".encode()
        + length
        + b"\r\n\r\n"
        + HARMLESS,
    )
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert b"Content-Length" in answer or b"too large" in answer or b"body over" in answer
    assert _post(receiver).status_code == 200, "the receiver still answers"
    assert "Traceback" not in capfd.readouterr().err


def test_two_content_lengths_that_disagree_are_refused(
    serve: Callable[[ServerLimits], WebhookReceiver],
) -> None:
    receiver = serve(ServerLimits(request_timeout=GENEROUS))
    answer = _raw(
        receiver,
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        f"Content-Length: {len(HARMLESS)}\r\n\r\n".encode()
        + HARMLESS,
    )
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"conflicting Content-Length" in answer


def test_a_chunked_body_is_asked_for_a_length(
    serve: Callable[[ServerLimits], WebhookReceiver],
) -> None:
    receiver = serve(ServerLimits(request_timeout=GENEROUS))
    chunked = f"{len(HARMLESS):x}\r\n".encode() + HARMLESS + b"\r\n0\r\n\r\n"
    answer = _raw(
        receiver,
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + chunked,
    )
    assert answer.startswith(b"HTTP/1.1 411 ")


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset, as a client that crashed or timed out does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_clients_that_vanish_leave_no_traceback(
    serve: Callable[[ServerLimits], WebhookReceiver],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = serve(ServerLimits(request_timeout=GENEROUS))
    caplog.set_level(logging.DEBUG, logger="backmarket_shipstation.serving")
    for _ in range(20):
        # Gone in the middle of the body, and gone right after a whole request.
        sock = socket.create_connection((receiver.host, receiver.port))
        sock.sendall(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nContent-Length: {len(HARMLESS)}\r\n\r\n".encode()
            + HARMLESS[:10]
        )
        _reset(sock)
        sock = socket.create_connection((receiver.host, receiver.port))
        sock.sendall(
            f"POST {WEBHOOK_PATH} HTTP/1.1\r\nContent-Length: {len(HARMLESS)}\r\n\r\n".encode()
            + HARMLESS
        )
        _reset(sock)
    _wait_for(lambda: receiver.open_connections == 0, "the vanished clients to be let go")
    assert _post(receiver).status_code == 200
    err = capfd.readouterr().err
    assert "Traceback" not in err
    assert "Exception occurred during processing" not in err
    assert all(r.levelno == logging.DEBUG for r in caplog.records), [
        r.getMessage() for r in caplog.records if r.levelno > logging.DEBUG
    ]
    assert any(
        "went away" in r.getMessage() or "closed before" in r.getMessage() for r in caplog.records
    )


def test_a_refused_resource_url_is_answered_400_and_logged_at_warning(
    serve: Callable[[ServerLimits], WebhookReceiver], caplog: pytest.LogCaptureFixture
) -> None:
    receiver = serve(ServerLimits(request_timeout=GENEROUS))
    caplog.set_level(logging.WARNING, logger="backmarket_shipstation")
    forged: dict[str, Any] = {
        "resource_url": "https://169.254.169.254/latest/meta-data?x=/shipments",
        "resource_type": "SHIP_NOTIFY",
    }
    answer = httpx.post(receiver.url(), json=forged, timeout=GENEROUS)
    assert answer.status_code == 400
    assert answer.json() == {"status": "resource_url refused"}
    receiver.wait_idle()
    assert (receiver.handled, receiver.dropped) == (0, 1), "refused at the door, not queued"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "169.254.169.254" in warnings[0].getMessage()
    assert "shop" in warnings[0].getMessage()
