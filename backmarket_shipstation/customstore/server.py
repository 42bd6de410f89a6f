"""Building the Custom Store from a configuration, and a small threaded server to run it.

:func:`build_store` opens the state, the feed and one Back Market client per account and
returns a :class:`RunningStore` (the WSGI/ASGI application plus the refreshers that keep the
export feed current). :class:`StoreServer` serves it on ``host:port`` with the standard
library's WSGI handler on :class:`~backmarket_shipstation._serving.BoundedHTTPServer`
(read timeouts, 8 worker threads, at most 1000 connections), and refreshes the feed in
the background: enough for a small setup; behind a real server, mount
``RunningStore.app`` instead (see docs/guides/custom-store.md, "Deployment").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import attrs

from .._serving import BoundedHTTPServer, ServerLimits
from ..backmarket.client import BackMarketClient
from ..clock import Clock, SystemClock
from ..errors import BackMarketShipStationError, ConfigurationError
from ..sync.state import is_postgres
from ..sync.store import SQLiteStore, SyncStore
from .app import CustomStoreApp, StoreAccount
from .config import StoreAccountConfig, StoreConfig
from .feed import ExportFeed, FeedOptions, FeedRefresher
from .shipnotify import NoticeHandler

if TYPE_CHECKING:
    import httpx

__all__ = ["RunningStore", "StoreServer", "build_store"]

logger = logging.getLogger("backmarket_shipstation.customstore")


@attrs.define
class RunningStore:
    """The application and what keeps it fed; :meth:`refresh_all` reads Back Market once,
    :meth:`start_refreshing` keeps doing it in a background thread."""

    app: CustomStoreApp
    refreshers: list[FeedRefresher]
    _stop: threading.Event = attrs.field(factory=threading.Event, init=False)
    _thread: threading.Thread | None = attrs.field(default=None, init=False)

    def start_refreshing(self, interval: float) -> None:
        """Read Back Market every ``interval`` seconds until :meth:`stop_refreshing`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh_all()

        self._thread = threading.Thread(target=loop, name="customstore-refresh", daemon=True)
        self._thread.start()

    def stop_refreshing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def refresh_all(self) -> None:
        for refresher in self.refreshers:
            try:
                refresher.refresh()
            except BackMarketShipStationError as exc:
                # The export keeps serving what the feed holds; the next pass resumes.
                logger.warning("refresh of account %s stopped: %s", refresher.account, exc)


@contextmanager
def build_store(
    config: StoreConfig,
    *,
    store: SyncStore | None = None,
    clock: Clock | None = None,
    transport: Callable[[StoreAccountConfig], httpx.BaseTransport] | None = None,
) -> Iterator[RunningStore]:
    """The Custom Store of ``config``, its clients and files open for the ``with`` block."""
    clock = clock or SystemClock()
    with ExitStack() as stack:
        if store is None:
            if is_postgres(config.state_path):
                # The export feed is a table of the SQLite state file (see _feed_path).
                raise ConfigurationError(
                    "store serve keeps its export feed in a SQLite state file;"
                    " a postgresql:// state is for sync and webhook serve"
                )
            store = stack.enter_context(SQLiteStore(config.state_path))
        feed = stack.enter_context(ExportFeed(_feed_path(store, config)))
        accounts: list[StoreAccount] = []
        refreshers: list[FeedRefresher] = []
        for account in config.accounts:
            bm = stack.enter_context(
                BackMarketClient(
                    token=account.backmarket_token,
                    user_agent=account.backmarket_user_agent,
                    region=account.backmarket_region,
                    sandbox=account.backmarket_sandbox,
                    base_url=account.backmarket_base_url,
                    transport=transport(account) if transport else None,
                    clock=clock,
                )
            )
            write_lock = threading.Lock()
            refresher = FeedRefresher(
                account=account.name,
                backmarket=bm,
                store=store,
                feed=feed,
                clock=clock,
                options=FeedOptions(
                    accept_orders=account.accept_orders,
                    overlap=config.overlap,
                    initial_lookback=config.initial_lookback,
                    statuses=config.statuses,
                    order_key_prefix=account.order_key_prefix,
                ),
                write_lock=write_lock,
            )
            refreshers.append(refresher)
            accounts.append(
                StoreAccount(
                    name=account.name,
                    feed=feed,
                    notices=NoticeHandler(
                        account=account.name,
                        backmarket=bm,
                        store=store,
                        feed=feed,
                        clock=clock,
                        write_lock=write_lock,
                    ),
                )
            )
        app = CustomStoreApp(
            accounts, credentials=config.credentials, limits=config.limits, clock=clock
        )
        yield RunningStore(app=app, refreshers=refreshers)


def _feed_path(store: SyncStore, config: StoreConfig) -> str:
    # The feed lives in the state file, next to the journal it works with.
    path = getattr(store, "path", None)
    return str(path) if isinstance(path, str) else config.state_path


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # The request line holds the query string, which may hold SS-Password: log the
        # method, the path alone and the status.
        path = self.path.split("?", 1)[0]
        logger.info("%s %s %s", self.command, path, args[1] if len(args) > 1 else "")

    def get_stderr(self) -> Any:
        # wsgiref prints a traceback there when writing the answer fails (a client that
        # stopped reading): that is the client's doing, logged at DEBUG.
        return _DebugStream()


class _DebugStream:
    def write(self, text: str) -> int:
        if text.strip():
            logger.debug("%s", text.rstrip())
        return len(text)

    def flush(self) -> None:
        pass


class _BoundedWSGIServer(BoundedHTTPServer, WSGIServer):
    """wsgiref's server on the bounded loop: read timeouts, bounded threads and connections
    (see :mod:`backmarket_shipstation._serving`)."""

    thread_name = "customstore-http"


class StoreServer:
    """Serves a :class:`RunningStore` on ``host:port`` and refreshes its feed every
    ``refresh_seconds`` in a background thread. :meth:`start`, then :meth:`stop`."""

    def __init__(
        self,
        running: RunningStore,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        refresh_seconds: float = 120.0,
        limits: ServerLimits | None = None,
    ) -> None:
        self.running = running
        self.refresh_seconds = refresh_seconds
        if limits is None:
            limits = ServerLimits(max_body_bytes=running.app.limits.max_body_bytes, workers=8)
        self._server = _BoundedWSGIServer((host, port), _QuietHandler, limits=limits)
        self._server.set_app(running.app)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"StoreServer(port={self.port})"

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

    def url(self, account: str) -> str:
        """The URL to type into ShipStation's Custom Store form for ``account``."""
        return f"http://{self.host}:{self.port}/{account}"

    def start(self, *, refresh_first: bool = True) -> None:
        """Serve; with ``refresh_first``, read Back Market once before answering exports."""
        if refresh_first:
            self.running.refresh_all()
        serving = threading.Thread(
            target=self._server.serve_forever, name="customstore-http", daemon=True
        )
        serving.start()
        self._threads.append(serving)
        self.running.start_refreshing(self.refresh_seconds)

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True once stopped."""
        return self._stop.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.running.stop_refreshing()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
