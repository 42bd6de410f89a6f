"""The HTTP server under ``webhook serve`` and ``store serve``: bounded threads, read timeouts.

The standard library's threading servers give every connection a thread that blocks on the
socket with no timeout, so a few hundred clients that send their headers and go silent pin a
few hundred threads for ever (slowloris), and a handler exception (a client that went away)
is printed as a traceback. :class:`BoundedHTTPServer` keeps the stdlib request handlers but
changes who waits for the bytes:

- the thread in :meth:`~BoundedHTTPServer.serve_forever` owns a selector: it accepts, and
  reads each request (the header block, then ``Content-Length`` bytes of body) into memory
  without blocking;
- only a complete request goes to one of a fixed pool of ``workers`` threads, which runs the
  handler on the buffered bytes; so a silent or slow client holds a socket and its buffer,
  never a thread;
- a client that has not sent its whole request ``request_timeout`` seconds after connecting
  gets 408 and is closed; the same timeout bounds each write of the answer;
- at most ``max_connections`` are open at once; the next ones get 503 and are closed;
- framing the handler could not answer cleanly is answered here: a ``Content-Length`` that
  is not a number, or two that disagree, 400; over ``max_body_bytes``, 413 (before the body
  is read); a header block over ``max_header_bytes``, 431; a chunked body, 411;
- a client that goes away (reset, broken pipe, write timeout) is logged at DEBUG, not
  printed; any other handler error is logged with its traceback at ERROR.

Memory is bounded by ``max_connections * (max_header_bytes + max_body_bytes)``, threads by
``workers + 1``. One request per connection (HTTP/1.0 semantics, ``Connection: close``):
ShipStation opens a connection per call, and it keeps the loop simple.

Why not a server library (waitress, cheroot): both would do this, but ``webhook serve`` is a
core command and the core's dependencies are httpx/attrs/cattrs/typing-extensions. An
optional extra would need this fallback anyway (two servers to keep), and the webhook
receiver would have to be rewritten as a WSGI application. What is here is one selector
loop and a worker pool on top of the stdlib handlers, which stay as they were.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import errno
import io
import logging
import queue
import re
import selectors
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, cast

import attrs

__all__ = ["BoundedHTTPServer", "ServerLimits", "add_limit_options", "limits_from_args"]

logger = logging.getLogger("backmarket_shipstation.serving")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or value <= 0:
        raise ValueError(f"{attribute.name} must be more than 0 (got {value!r})")


@attrs.frozen(kw_only=True)
class ServerLimits:
    """What one server lets its clients hold."""

    request_timeout: float = attrs.field(default=10.0, validator=_positive)
    """Seconds a client has, from connecting, to send its whole request (headers and body);
    also the limit for each write of the answer. ShipStation sends a request at once."""
    max_connections: int = attrs.field(default=1000, validator=_positive)
    """Connections open at once (being read, queued or answered); beyond: 503."""
    workers: int = attrs.field(default=4, validator=_positive)
    """Threads that run the handler on complete requests."""
    max_header_bytes: int = attrs.field(default=16 * 1024, validator=_positive)
    """The request line and headers; ShipStation's are a few hundred bytes."""
    max_body_bytes: int = attrs.field(default=64 * 1024, validator=_positive)
    """Beyond: 413, answered before the body is read."""


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_REASONS = {
    400: "Bad Request",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def body_length(head: bytes) -> int | tuple[int, str]:
    """The body length a request's header block declares, or the (status, reason) refusing it.

    RFC 9112 §6.3: two different ``Content-Length`` values, or one that is not a decimal
    number, make the message length unknowable: 400. No ``Content-Length`` and no
    ``Transfer-Encoding``: no body. A ``Transfer-Encoding`` (chunked) is refused with 411:
    the stdlib handlers do not decode it, and ShipStation sends ``Content-Length``.
    """
    lengths: list[bytes] = []
    transfer_encoding = False
    for line in head.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            continue
        name = name.strip().lower()
        if name == b"content-length":
            lengths.extend(part.strip() for part in value.split(b","))
        elif name == b"transfer-encoding":
            transfer_encoding = True
    if transfer_encoding:
        if lengths:
            return 400, "both Transfer-Encoding and Content-Length"
        return 411, "send a Content-Length (chunked bodies are not accepted)"
    if not lengths:
        return 0
    if len(set(lengths)) > 1:
        return 400, "conflicting Content-Length values"
    # bytes.isdigit() is ASCII only: no sign, no spaces, no Unicode digits.
    if not lengths[0].isdigit():
        return 400, "malformed Content-Length"
    return int(lengths[0])


class _Connection:
    __slots__ = ("address", "buffer", "deadline", "done", "draining", "expected", "sock")

    def __init__(self, sock: socket.socket, address: Any, deadline: float) -> None:
        self.sock = sock
        self.address = address
        self.deadline = deadline
        self.buffer = bytearray()
        self.expected: int | None = None
        """Header block plus body, once the header block is in."""
        self.done = False
        self.draining = False


class _Prebuffered:
    """The accepted socket, seen by a stdlib handler: it reads the request from memory (the
    loop has read it all) and writes to the socket."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self._sock = sock
        self._data = data

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "r" in mode:
            return io.BytesIO(self._data)
        return cast("Any", self._sock).makefile(mode, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Marker:
    pass


_LISTENER = _Marker()
_WAKE = _Marker()


class BoundedHTTPServer(HTTPServer):
    """An :class:`~http.server.HTTPServer` with bounded threads and read timeouts (see the
    module). Use it as the stdlib server: ``serve_forever()`` in a thread, ``shutdown()``,
    ``server_close()``. ``open_connections`` is the gauge of connections held now."""

    thread_name = "http"

    def __init__(
        self,
        server_address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        limits: ServerLimits | None = None,
        bind_and_activate: bool = True,
    ) -> None:
        self.limits = limits or ServerLimits()
        # The listen backlog: connections beyond it wait in the kernel, not here.
        self.request_queue_size = min(socket.SOMAXCONN, self.limits.max_connections)
        # Before binding: a failed bind calls server_close(), which closes these too.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        super().__init__(server_address, handler, bind_and_activate)
        self._jobs: queue.Queue[tuple[socket.socket, Any, bytes] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._open = 0
        self.refused = 0
        """Connections answered 503 because ``max_connections`` were open."""
        self.timed_out = 0
        """Connections answered 408 and closed for not sending their request in time."""
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._warned_descriptors = 0.0

    @property
    def open_connections(self) -> int:
        with self._lock:
            return self._open

    # --- the loop ------------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stop.clear()
        self._stopped.clear()
        workers = [
            threading.Thread(target=self._work, name=f"{self.thread_name}-{n}", daemon=True)
            for n in range(self.limits.workers)
        ]
        for worker in workers:
            worker.start()
        selector = selectors.DefaultSelector()
        reading: dict[int, _Connection] = {}
        # Every connection has the same timeout, so deadlines come in accept order.
        deadlines: collections.deque[_Connection] = collections.deque()
        paused_until: float | None = None
        try:
            self.socket.setblocking(False)
            selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
            selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
            while not self._stop.is_set():
                now = time.monotonic()
                while deadlines and (deadlines[0].done or deadlines[0].deadline <= now):
                    connection = deadlines.popleft()
                    if not connection.done:
                        self._expire(selector, reading, connection)
                if paused_until is not None and now >= paused_until:
                    paused_until = None
                    selector.register(self.socket, selectors.EVENT_READ, _LISTENER)
                timeout = poll_interval
                if deadlines:
                    timeout = min(timeout, max(0.0, deadlines[0].deadline - now))
                if paused_until is not None:
                    timeout = min(timeout, max(0.0, paused_until - now))
                for key, _ in selector.select(timeout):
                    if key.data is _LISTENER:
                        if not self._accept(selector, reading, deadlines):
                            # Out of file descriptors: stop accepting for a moment
                            # rather than spin on a listener that stays readable.
                            selector.unregister(self.socket)
                            paused_until = time.monotonic() + 0.1
                    elif key.data is _WAKE:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    else:
                        self._read(selector, reading, cast("_Connection", key.data))
        finally:
            for connection in list(reading.values()):
                self._close(selector, reading, connection)
            selector.close()
            for _ in workers:
                self._jobs.put(None)
            for worker in workers:
                worker.join()
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` (which closes what it holds) and wait for it."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(
        self,
        selector: selectors.BaseSelector,
        reading: dict[int, _Connection],
        deadlines: collections.deque[_Connection],
    ) -> bool:
        """Accept what waits; False when out of file descriptors."""
        while True:
            try:
                sock, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return True
            except OSError as exc:
                if exc.errno in _OUT_OF_DESCRIPTORS:
                    now = time.monotonic()
                    if now - self._warned_descriptors > 60:
                        self._warned_descriptors = now
                        logger.warning(
                            "%s: cannot accept a connection (%s); lower --max-connections"
                            " or raise the open-files limit (ulimit -n)",
                            self.thread_name,
                            exc.strerror,
                        )
                    return False
                return True  # the client went away between SYN and accept
            sock.setblocking(False)
            with self._lock:
                full = self._open >= self.limits.max_connections
                if not full:
                    self._open += 1
            if full:
                self.refused += 1
                logger.debug("%s: %d connections open, refused one", self.thread_name, self._open)
                _answer_and_close(sock, 503, "too many connections", retry_after=True)
                continue
            connection = _Connection(sock, address, time.monotonic() + self.limits.request_timeout)
            reading[sock.fileno()] = connection
            deadlines.append(connection)
            selector.register(sock, selectors.EVENT_READ, connection)

    def _read(
        self,
        selector: selectors.BaseSelector,
        reading: dict[int, _Connection],
        connection: _Connection,
    ) -> None:
        try:
            chunk = connection.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            logger.debug("%s: client %s went away: %s", self.thread_name, connection.address, exc)
            self._close(selector, reading, connection)
            return
        if not chunk:
            if not connection.draining:
                logger.debug(
                    "%s: client %s closed before its request was complete",
                    self.thread_name,
                    connection.address,
                )
            self._close(selector, reading, connection)
            return
        if connection.draining:
            return  # answered already: read what the client still sends, so that
            # closing does not reset the connection before it has read the answer
        connection.buffer += chunk
        limits = self.limits
        if connection.expected is None:
            match = _HEADER_END.search(connection.buffer)
            if match is None:
                if len(connection.buffer) > limits.max_header_bytes:
                    self._refuse(selector, reading, connection, 431, "header block too large")
                return
            head_size = match.end()
            if head_size > limits.max_header_bytes:
                self._refuse(selector, reading, connection, 431, "header block too large")
                return
            length = body_length(bytes(connection.buffer[:head_size]))
            if isinstance(length, tuple):
                self._refuse(selector, reading, connection, *length)
                return
            if length > limits.max_body_bytes:
                self._refuse(
                    selector, reading, connection, 413, f"body over {limits.max_body_bytes} bytes"
                )
                return
            connection.expected = head_size + length
        if len(connection.buffer) >= connection.expected:
            # Complete: a worker takes it from here, on a blocking socket with a timeout.
            selector.unregister(connection.sock)
            del reading[connection.sock.fileno()]
            connection.done = True
            data = bytes(connection.buffer[: connection.expected])
            connection.buffer = bytearray()
            connection.sock.setblocking(True)
            connection.sock.settimeout(limits.request_timeout)
            self._jobs.put((connection.sock, connection.address, data))

    def _refuse(
        self,
        selector: selectors.BaseSelector,
        reading: dict[int, _Connection],
        connection: _Connection,
        status: int,
        reason: str,
    ) -> None:
        logger.debug("%s: %s answered %d: %s", self.thread_name, connection.address, status, reason)
        _send_quietly(connection.sock, _response(status, reason))
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(selector, reading, connection)
            return
        connection.draining = True
        connection.buffer = bytearray()

    def _expire(
        self,
        selector: selectors.BaseSelector,
        reading: dict[int, _Connection],
        connection: _Connection,
    ) -> None:
        if not connection.draining:
            self.timed_out += 1
            logger.debug(
                "%s: %s sent no complete request in %gs: closed",
                self.thread_name,
                connection.address,
                self.limits.request_timeout,
            )
            _send_quietly(connection.sock, _response(408, "request not received in time"))
        self._close(selector, reading, connection)

    def _close(
        self,
        selector: selectors.BaseSelector,
        reading: dict[int, _Connection],
        connection: _Connection,
    ) -> None:
        connection.done = True
        connection.buffer = bytearray()
        reading.pop(connection.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(connection.sock)
        connection.sock.close()
        self._release()

    def _release(self) -> None:
        with self._lock:
            self._open -= 1

    # --- the workers ---------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            sock, address, data = job
            request = cast("socket.socket", _Prebuffered(sock, data))
            try:
                self.finish_request(request, address)
            except Exception:
                self.handle_error(request, address)
            finally:
                self.shutdown_request(request)
                self._release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is routine (DEBUG); anything else is logged, not printed."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            logger.debug("%s: client %s went away: %s", self.thread_name, client_address, error)
        else:
            logger.error(
                "%s: request from %s failed", self.thread_name, client_address, exc_info=True
            )


def _response(status: int, reason: str, *, retry_after: bool = False) -> bytes:
    body = f"{reason}\n".encode()
    head = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if retry_after:
        head.append("Retry-After: 1")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _send_quietly(sock: socket.socket, data: bytes) -> None:
    # Non-blocking and best effort: a short answer fits the socket buffer, and a client
    # that does not read it gets nothing more from this thread.
    with contextlib.suppress(OSError):
        sock.send(data)


def _answer_and_close(sock: socket.socket, status: int, reason: str, *, retry_after: bool) -> None:
    _send_quietly(sock, _response(status, reason, retry_after=retry_after))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    sock.close()


# --- command line -----------------------------------------------------------------------


def add_limit_options(parser: argparse.ArgumentParser, defaults: ServerLimits) -> None:
    """``--request-timeout``, ``--max-connections`` and ``--workers`` (default: unset, so
    that a configuration file can set them; ``defaults`` is only for the help)."""

    def positive_float(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError("must be more than 0")
        return value

    def positive_int(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError("must be more than 0")
        return value

    parser.add_argument(
        "--request-timeout",
        type=positive_float,
        metavar="SECONDS",
        help="a client has this long to send its request, else 408 and closed"
        f" (default {defaults.request_timeout:g})",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        metavar="N",
        help=f"connections open at once; beyond, 503 (default {defaults.max_connections})",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        metavar="N",
        help=f"threads answering complete requests (default {defaults.workers})",
    )


def limits_from_args(args: argparse.Namespace, base: ServerLimits) -> ServerLimits:
    """``base`` with the options of :func:`add_limit_options` that were given."""
    changes = {
        name: value
        for name in ("request_timeout", "max_connections", "workers")
        if (value := getattr(args, name, None)) is not None
    }
    return attrs.evolve(base, **changes)
