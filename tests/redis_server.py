"""A throw-away Redis server for the Celery tests (no pytest in here).

``redis-server`` (Debian's package) on loopback only, on a free port, in a temporary
directory, with persistence off (``--save ''``, no append-only file): nothing it holds
outlives the tests, and nothing is written outside that directory.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RedisServer", "ServerUnavailable", "find_binary", "running_server", "start_server"]


class ServerUnavailable(Exception):
    """No server could be started here; the message says why, in one line."""


def find_binary() -> Path:
    """Where ``redis-server`` is, or :class:`ServerUnavailable`."""
    found = shutil.which("redis-server")
    if found is None:
        raise ServerUnavailable("no redis-server on PATH: apt-get install redis-server")
    return Path(found)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A running throw-away server; :meth:`url` gives a ``redis://`` URL for one database."""

    def __init__(self, *, directory: Path, port: int, process: subprocess.Popen[bytes]):
        self.directory = directory
        self.port = port
        self.process = process

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def flush(self) -> None:
        """Empty every database (FLUSHALL): the next test starts from nothing."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(b"FLUSHALL\r\n")
            answer = conn.recv(64)
        if not answer.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHALL answered {answer!r}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_server(timeout: float = 30.0) -> RedisServer:
    """Start a server, or :class:`ServerUnavailable` saying why."""
    binary = find_binary()
    directory = Path(tempfile.mkdtemp(prefix="bmss-redis-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        port = _free_port()
        log = open(directory / "server.log", "wb")  # noqa: SIM115 - the server writes it
        process = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=directory,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not _ping(port):
            if process.poll() is not None:
                tail = (directory / "server.log").read_text(errors="replace").strip()
                last = (tail.splitlines() or ["(no output)"])[-1]
                raise ServerUnavailable(f"redis-server exited at start: {last}")
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"redis-server did not answer PING in {timeout:.0f} s")
            time.sleep(0.05)
        return RedisServer(directory=directory, port=port, process=process)
    except BaseException:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
        raise


@contextlib.contextmanager
def running_server() -> Iterator[RedisServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
