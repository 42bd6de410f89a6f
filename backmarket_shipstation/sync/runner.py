"""Running the sync for a whole configuration: clients per account, one state store.

Accounts run in parallel, ``parallel`` at a time (:data:`DEFAULT_PARALLEL` unless the
configuration or the caller says otherwise), each in a thread of its own under its own
lease. Rate limits are per credential (a Back Market token, a ShipStation key pair), so
accounts with their own credentials do not slow each other down, and a thread spends most of
its time waiting (on a rate limit, on the network), so the number is not tied to CPU cores.
A slow account holds only its own thread; an account that fails as a whole (refused
credentials, a wrong store id) has its :attr:`~.report.AccountReport.error` set and the others
go on. On a :class:`~backmarket_shipstation.clock.VirtualClock` each account's thread is a
worker of the clock, so their waits overlap as they would in real time.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, TypeAlias

from ..backmarket.client import BackMarketClient
from ..clock import Clock, SystemClock, as_worker, waiting_on_others
from ..rate_limits import RateLimits, open_rate_limits
from ..shipstation.client import ShipStationClient
from .config import DEFAULT_PARALLEL, AccountConfig, SyncConfig
from .engine import Progress, SyncEngine, SyncOptions
from .report import AccountReport, RunReport
from .shared import KeyPairShare
from .state import open_store
from .store import SyncStore

__all__ = [
    "DEFAULT_PARALLEL",
    "Transports",
    "clashing_order_keys",
    "engines",
    "key_pair_groups",
    "key_pair_shares",
    "run_engines",
    "run_sync",
]

logger = logging.getLogger("backmarket_shipstation.sync")

if TYPE_CHECKING:
    import httpx

# A string: httpx loads when a client is built, not when the sync package is imported.
Transports: TypeAlias = "Callable[[AccountConfig], tuple[httpx.BaseTransport, httpx.BaseTransport]]"
"""Gives the (Back Market, ShipStation) transports for an account: tests and the sandbox."""


@contextmanager
def engines(
    config: SyncConfig,
    *,
    store: SyncStore,
    options: SyncOptions | Mapping[str, SyncOptions] | None = None,
    clock: Clock | None = None,
    transports: Transports | None = None,
    progress: Progress | None = None,
    lease_clock: Clock | None = None,
) -> Iterator[list[SyncEngine]]:
    """One :class:`SyncEngine` per account, with its clients open for the ``with`` block.

    ``options`` is one :class:`SyncOptions` for all accounts or a mapping by account name
    (accounts not in it get the defaults, with ``accept_orders`` from the configuration).
    ``lease_clock`` times the accounts' leases (real time by default, see
    :class:`SyncEngine`).
    """
    clock = clock or SystemClock()
    with ExitStack() as stack:
        result: list[SyncEngine] = []
        for account in config.accounts:
            bm_transport, ss_transport = transports(account) if transports else (None, None)
            bm = stack.enter_context(backmarket_client(account, bm_transport, clock))
            ss = stack.enter_context(shipstation_client(account, ss_transport, clock))
            result.append(
                SyncEngine(
                    account=account.name,
                    backmarket=bm,
                    shipstation=ss,
                    store=store,
                    store_id=account.shipstation_store_id,
                    options=_options_for(account, options, config),
                    clock=clock,
                    progress=_named(progress, account.name)
                    if progress is not None and len(config.accounts) > 1
                    else progress,
                    lease_clock=lease_clock,
                )
            )
        yield result


def backmarket_client(
    account: AccountConfig,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> BackMarketClient:
    """A Back Market client with the account's credentials and host, its budgets shared as
    the configuration says (:attr:`AccountConfig.rate_limits`)."""
    return BackMarketClient(
        token=account.backmarket_token,
        user_agent=account.backmarket_user_agent,
        region=account.backmarket_region,
        sandbox=account.backmarket_sandbox,
        base_url=account.backmarket_base_url,
        transport=transport,
        clock=clock,
        rate_limits=_rate_limits(account, clock),
    )


def shipstation_client(
    account: AccountConfig,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> ShipStationClient:
    """A ShipStation client with the account's key pair and host, its budget shared as the
    configuration says (:attr:`AccountConfig.rate_limits`)."""
    return ShipStationClient(
        api_key=account.shipstation_api_key,
        api_secret=account.shipstation_api_secret,
        base_url=account.shipstation_base_url,
        transport=transport,
        clock=clock,
        rate_limits=_rate_limits(account, clock),
    )


def key_pair_shares(
    accounts: Sequence[AccountConfig], *, clock: Clock, concurrent: bool = False
) -> dict[str, KeyPairShare]:
    """One :class:`KeyPairShare` per ShipStation key pair two or more of ``accounts`` use
    (same base URL, API key and secret), by account name; an account alone on its key pair
    has none and reads for itself, as before (an unfiltered poll would also read any other
    store of its ShipStation account)."""
    shares: dict[str, KeyPairShare] = {}
    for group in key_pair_groups(accounts):
        if len(group) > 1:
            share = KeyPairShare(clock=clock, concurrent=concurrent)
            shares.update(dict.fromkeys((account.name for account in group), share))
    return shares


def clashing_order_keys(accounts: Sequence[AccountConfig]) -> list[str]:
    """One line for each set of accounts whose ShipStation orders would overwrite each other:
    the same key pair (one ShipStation account) and the same ``order_key_prefix``, so one
    Back Market order id (the EU and US platforms number their orders apart, and may meet)
    gives both accounts the same ``orderKey``, which ShipStation upserts as one order."""
    lines = []
    for group in key_pair_groups(accounts):
        by_prefix: dict[str, list[str]] = {}
        for account in group:
            by_prefix.setdefault(account.order_key_prefix, []).append(account.name)
        for prefix, names in by_prefix.items():
            if len(names) > 1:
                lines.append(
                    f"accounts {', '.join(names)} share a ShipStation key pair and the"
                    f" order_key_prefix {prefix!r}: an order id both have becomes one"
                    " ShipStation order; give each account its own order_key_prefix"
                )
    return lines


def key_pair_groups(accounts: Sequence[AccountConfig]) -> list[list[AccountConfig]]:
    """``accounts`` grouped by ShipStation key pair (same base URL, API key and secret), in
    the order each key pair first appears, each group in configuration order."""
    groups: dict[tuple[str, str, str], list[AccountConfig]] = {}
    for account in accounts:
        key = (
            account.shipstation_base_url or "",
            account.shipstation_api_key,
            account.shipstation_api_secret,
        )
        groups.setdefault(key, []).append(account)
    return list(groups.values())


def _rate_limits(account: AccountConfig, clock: Clock | None) -> RateLimits | None:
    """The store that shares the account's budgets, or ``None`` (in this process only).

    Only on real time: the store's timeline is the epoch of every process's clock, and a
    :class:`~backmarket_shipstation.clock.VirtualClock`'s time is its own (another process's
    virtual clock would read the records as past or future). Clients on one virtual clock in
    one process still share their limiters, as they always did.
    """
    if account.rate_limits is None or not isinstance(clock, (SystemClock, type(None))):
        return None
    # One store connection per process and state, however many accounts and clients.
    return open_rate_limits(account.rate_limits)


def run_sync(
    config: SyncConfig,
    *,
    store: SyncStore | None = None,
    options: SyncOptions | Mapping[str, SyncOptions] | None = None,
    clock: Clock | None = None,
    transports: Transports | None = None,
    progress: Progress | None = None,
    lease_clock: Clock | None = None,
    share_polls: bool = True,
    parallel: int | None = None,
) -> RunReport:
    """Sync every account of ``config`` once; each has its own cursors and report.

    ``parallel`` accounts run at a time (default: the configuration's ``parallel``, itself
    :data:`DEFAULT_PARALLEL` unless set; ``1`` runs them one after another in the calling
    thread). The report lists the accounts in the configuration's order whatever order they
    finished in. An error that stops an account as a whole is that account's
    :attr:`~.report.AccountReport.error`, never raised, so one account's refused credentials
    cannot stop the others; :attr:`RunReport.exit_code` keeps the worst outcome.

    Accounts on one ShipStation key pair share this cycle's polls and createorders batches
    (:mod:`.shared`) unless ``share_polls`` is False; run in parallel, their createorders
    batches combine the orders of the accounts importing at once.
    """
    workers = config.parallel if parallel is None else parallel
    if workers < 1:
        raise ValueError(f"parallel must be 1 or more (got {workers})")
    clock = clock or SystemClock()
    for line in clashing_order_keys(config.accounts):
        logger.warning("%s", line)
    concurrent = workers > 1 and len(config.accounts) > 1
    shares = (
        key_pair_shares(config.accounts, clock=clock, concurrent=concurrent) if share_polls else {}
    )
    with ExitStack() as stack:
        if store is None:
            store = stack.enter_context(open_store(config.state_path))
        with engines(
            config,
            store=store,
            options=options,
            clock=clock,
            transports=transports,
            progress=_serialized(progress) if progress is not None and workers > 1 else progress,
            lease_clock=lease_clock,
        ) as running:
            return RunReport(
                accounts=run_engines(running, parallel=workers, clock=clock, shares=shares)
            )


def run_engines(
    running: Sequence[SyncEngine],
    *,
    parallel: int,
    clock: Clock | None = None,
    shares: Mapping[str, KeyPairShare] | None = None,
) -> list[AccountReport]:
    """``engine.run()`` for each engine, ``parallel`` at a time; the reports in the same order.

    With ``parallel`` 1 (or a single engine) they run in the calling thread. Otherwise each
    runs in a thread registered as a worker of ``clock`` (see
    :func:`~backmarket_shipstation.clock.as_worker`). An exception that is not the SDK's
    (a bug, a crash a test simulates) does not stop the other accounts either: it is raised
    once they are done (the first, in the engines' order). ``shares``: each account's
    :class:`~.shared.KeyPairShare` by name (see :func:`key_pair_shares`); build them with
    ``concurrent=True`` when ``parallel`` > 1.
    """
    shares = shares or {}
    if parallel < 1:
        raise ValueError(f"parallel must be 1 or more (got {parallel})")
    if parallel == 1 or len(running) <= 1:
        return [engine.run(share=shares.get(engine.account)) for engine in running]
    clock = clock or SystemClock()
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(running)):
        todo.put(index)
    reports: list[AccountReport | None] = [None] * len(running)
    raised: list[BaseException | None] = [None] * len(running)
    count = min(parallel, len(running))
    registered = threading.Barrier(count + 1)
    for engine in running[:count]:
        # The first accounts all start now: createorders batches wait for each of them, even
        # one whose thread is slow to get going.
        share = shares.get(engine.account)
        if share is not None:
            share.expect(engine.account)

    def work() -> None:
        with as_worker(clock):
            registered.wait()
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    engine = running[index]
                    reports[index] = engine.run(share=shares.get(engine.account))
                except BaseException as exc:  # raised by the caller's thread, below
                    logger.error(
                        "account %s: unexpected error", running[index].account, exc_info=True
                    )
                    raised[index] = exc

    # The calling thread is a worker until every thread has registered: otherwise the first
    # threads could move a virtual clock on before the last ones start waiting with them.
    with as_worker(clock):
        threads = [
            # Daemon threads: a second Ctrl-C ends the process without waiting for them (a
            # run cut short is what the journal and the leases are for).
            threading.Thread(target=work, name=f"sync-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in threads:
            thread.start()
        registered.wait()
        with waiting_on_others(clock):
            for thread in threads:
                thread.join()
    for exc in raised:
        if exc is not None:
            raise exc
    return [report for report in reports if report is not None]


def _named(progress: Progress, account: str) -> Progress:
    """``progress`` with the account in the stage (``[eu] import``): with several accounts,
    possibly at once, a count alone does not say whose it is."""

    def call(stage: str, count: int) -> None:
        progress(f"[{account}] {stage}", count)

    return call


def _serialized(progress: Progress) -> Progress:
    """``progress`` called from several threads, one call at a time (a terminal line)."""
    lock = threading.Lock()

    def call(stage: str, count: int) -> None:
        with lock:
            progress(stage, count)

    return call


def _options_for(
    account: AccountConfig,
    options: SyncOptions | Mapping[str, SyncOptions] | None,
    config: SyncConfig,
) -> SyncOptions:
    if isinstance(options, SyncOptions):
        return options
    chosen = (options or {}).get(account.name)
    if chosen is not None:
        return chosen
    if account.options is not None:
        return account.options  # every setting of the configuration file
    return SyncOptions(
        accept_orders=account.accept_orders,
        order_key_prefix=account.order_key_prefix,
        overlap=config.overlap,
        initial_lookback=config.initial_lookback,
    )
