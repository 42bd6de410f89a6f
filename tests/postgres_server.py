"""A throw-away PostgreSQL server for the tests and benchmarks (no pytest in here).

``initdb`` in a temporary directory, then ``postgres`` listening on loopback only, on a free
port, with its unix socket in that directory too; trust authentication (nothing but this
machine's loopback can reach it) and no fsync (the data is thrown away). The binaries come
from ``pg_config --bindir`` or ``/usr/lib/postgresql/*/bin`` (Debian's layout). PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` user (``runuser``), in
a directory chowned to it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["PostgresServer", "ServerUnavailable", "find_bindir", "running_server"]

SUPERUSER = "bmss"


class ServerUnavailable(Exception):
    """No server could be started here; the message says why, in one line."""


def find_bindir() -> Path:
    """Where ``initdb`` and ``postgres`` are, or :class:`ServerUnavailable`."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            candidates.append(Path(out))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for path in candidates:
        if (path / "initdb").is_file() and (path / "postgres").is_file():
            return path
    raise ServerUnavailable(
        "no PostgreSQL server binaries (initdb, postgres) in `pg_config --bindir` or"
        " /usr/lib/postgresql/*/bin: apt-get install postgresql"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """A running throw-away server; :meth:`url` gives a libpq URL for a database on it."""

    def __init__(
        self, *, bindir: Path, directory: Path, port: int, process: subprocess.Popen[bytes]
    ):
        self.bindir = bindir
        self.directory = directory
        self.port = port
        self.process = process
        self._databases = 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "state") -> str:
        """A new empty database; its URL."""
        import psycopg

        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def fresh_state(self, database: str = "state") -> str:
        """The URL of ``database`` with no state in it: the store's schema dropped.

        Far cheaper than a new database (about 10 ms against 250) and as clean, since the
        store keeps everything in its own schema.
        """
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if exists is None:
                admin.execute(f'CREATE DATABASE "{database}"')
        with psycopg.connect(self.url(database), autocommit=True) as db:
            db.execute("DROP SCHEMA IF EXISTS backmarket_shipstation CASCADE")
        return self.url(database)

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT: PostgreSQL's "fast" shutdown (ends the sessions, no waiting for them).
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def _server_user() -> dict[str, object]:
    """Popen arguments that run the server as ``postgres`` when we are root (it refuses root).

    Popen's ``user``/``group`` switch in the child itself, so the server is our direct child
    (a ``runuser`` in between would not pass the shutdown signal on).
    """
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        raise ServerUnavailable("running as root and there is no postgres user") from None
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def start_server(timeout: float = 60.0) -> PostgresServer:
    """initdb and start a server, or :class:`ServerUnavailable` saying why."""
    bindir = find_bindir()
    directory = Path(tempfile.mkdtemp(prefix="bmss-pg-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        as_user = _server_user()
        if as_user:
            os.chown(directory, int(str(as_user["user"])), int(str(as_user["group"])))
        data = directory / "data"
        init = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=directory,
            **as_user,  # type: ignore[arg-type]
        )
        if init.returncode != 0:
            last = (init.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ServerUnavailable(f"initdb failed: {last}")
        port = _free_port()
        log = open(directory / "server.log", "wb")  # noqa: SIM115 - the server writes it
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-k",
                str(directory),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=100",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=directory,
            **as_user,  # type: ignore[arg-type]
        )
        log.close()
        server = PostgresServer(bindir=bindir, directory=directory, port=port, process=process)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                tail = (directory / "server.log").read_text(errors="replace").strip()
                last = (tail.splitlines() or ["(no output)"])[-1]
                raise ServerUnavailable(f"postgres exited at start: {last}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                ready = subprocess.run(
                    [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"],
                    check=False,
                    timeout=10,
                )
                if ready.returncode == 0:
                    return server
            except OSError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise ServerUnavailable(f"postgres did not accept connections in {timeout:.0f} s")
            time.sleep(0.1)
    except BaseException:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
        raise


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
