"""A real HTTP server on loopback that serves simulators, for clients, curl and examples.

Standard library only (:class:`http.server.ThreadingHTTPServer`), HTTP/1.1 with keep-alive.
Each simulator is mounted under a prefix (the sandbox mounts Back Market at ``/backmarket`` and
ShipStation at ``/shipstation``); the prefix is stripped before the simulator sees the request.
Faults and counters are applied exactly as in-process (:class:`RequestPipeline`); a fault that
raises (timeout, reset, connect error) closes the connection without an answer, so the client
sees a real protocol error.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

from .transport import RequestPipeline

__all__ = ["SandboxServer"]

# Headers the server computes itself; copying the simulator's would duplicate or contradict them.
_HOP_BY_HOP = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "content-encoding"}
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A client holding a keep-alive connection must not block stop().
    block_on_close = False
    sandbox: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    # A silent peer must not pin a thread forever.
    timeout = 60

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: object) -> None:
        # Quiet by default: a benchmark makes thousands of requests.
        return

    def _dispatch(self) -> None:
        sandbox = self.server.sandbox
        body = self._read_body()
        raw_path, _, query = self.path.partition("?")
        match = sandbox.mount_for(raw_path)
        if match is None:
            self._write(httpx.Response(404, text=f"No simulator is mounted at {raw_path}\n"))
            return
        prefix, pipeline = match
        inner = raw_path[len(prefix) :] or "/"
        url = f"{sandbox.url}{inner}" + (f"?{query}" if query else "")
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
        request = httpx.Request(self.command, url, headers=headers, content=body)
        try:
            response = pipeline.run(request)
        except httpx.TransportError:
            # The injected timeout, reset or refused connection: hang up without a word.
            self.close_connection = True
            return
        self._write(response)
        if sandbox.after_request is not None:
            sandbox.after_request(prefix)

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _write(self, response: httpx.Response) -> None:
        content = response.content
        head = [
            f"{self.protocol_version} {response.status_code} {response.reason_phrase}",
            f"Date: {self.date_time_string()}",
        ]
        head += [
            f"{key}: {value}"
            for key, value in response.headers.multi_items()
            if key.lower() not in _HOP_BY_HOP
        ]
        head.append(f"Content-Length: {len(content)}")
        # One write for head and body: two small writes meet Nagle's algorithm and the
        # peer's delayed ACK, which costs about 40 ms a response on loopback.
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace")
        self.wfile.write(data if self.command == "HEAD" else data + content)


class SandboxServer:
    """Serve request pipelines by mount prefix on ``host:port`` (port 0 picks a free one).

    Use as a context manager, or :meth:`start` and :meth:`stop`. ``after_request`` is called with
    the mount prefix after each answered request (a hook for embedders; the sandbox itself
    delivers webhooks from a background thread, see :meth:`Sandbox.serve`).
    """

    def __init__(
        self,
        mounts: Mapping[str, RequestPipeline],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        after_request: Callable[[str], None] | None = None,
    ) -> None:
        for prefix in mounts:
            if not prefix.startswith("/") or prefix.endswith("/"):
                raise ValueError(f"mount prefix must look like '/name', got {prefix!r}")
        # Longest prefix first, so '/a/b' wins over '/a'.
        self._mounts = sorted(mounts.items(), key=lambda item: -len(item[0]))
        self.after_request = after_request
        self._httpd = _Server((host, port), _Handler)
        self._httpd.sandbox = self
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on (the real one when 0 was asked)."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` with no trailing slash."""
        return f"http://{self.host}:{self.port}"

    def mount_for(self, path: str) -> tuple[str, RequestPipeline] | None:
        """The mount prefix and pipeline that serve ``path``, if any."""
        for prefix, pipeline in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix, pipeline
        return None

    def start(self) -> SandboxServer:
        """Serve on a background daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.01},
                name=f"sandbox-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until :meth:`stop` is called from elsewhere."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxServer(url={self.url!r}, mounts={[p for p, _ in self._mounts]!r})"
