"""Running the sync for a whole configuration: clients per account, one state store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, TypeAlias

from ..backmarket.client import BackMarketClient
from ..clock import Clock, SystemClock
from ..shipstation.client import ShipStationClient
from .config import AccountConfig, SyncConfig
from .engine import Progress, SyncEngine, SyncOptions
from .report import RunReport
from .shared import KeyPairShare
from .state import open_store
from .store import SyncStore

__all__ = ["Transports", "engines", "key_pair_shares", "run_sync"]

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
                    progress=progress,
                    lease_clock=lease_clock,
                )
            )
        yield result


def backmarket_client(
    account: AccountConfig,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> BackMarketClient:
    """A Back Market client with the account's credentials and host."""
    return BackMarketClient(
        token=account.backmarket_token,
        user_agent=account.backmarket_user_agent,
        region=account.backmarket_region,
        sandbox=account.backmarket_sandbox,
        base_url=account.backmarket_base_url,
        transport=transport,
        clock=clock,
    )


def shipstation_client(
    account: AccountConfig,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
) -> ShipStationClient:
    """A ShipStation client with the account's key pair and host."""
    return ShipStationClient(
        api_key=account.shipstation_api_key,
        api_secret=account.shipstation_api_secret,
        base_url=account.shipstation_base_url,
        transport=transport,
        clock=clock,
    )


def key_pair_shares(
    accounts: Sequence[AccountConfig], *, clock: Clock, concurrent: bool = False
) -> dict[str, KeyPairShare]:
    """One :class:`KeyPairShare` per ShipStation key pair two or more of ``accounts`` use
    (same base URL, API key and secret), by account name; an account alone on its key pair
    has none and reads for itself, as before (an unfiltered poll would also read any other
    store of its ShipStation account)."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for account in accounts:
        key = (
            account.shipstation_base_url or "",
            account.shipstation_api_key,
            account.shipstation_api_secret,
        )
        groups.setdefault(key, []).append(account.name)
    shares: dict[str, KeyPairShare] = {}
    for names in groups.values():
        if len(names) > 1:
            share = KeyPairShare(clock=clock, concurrent=concurrent)
            shares.update(dict.fromkeys(names, share))
    return shares


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
) -> RunReport:
    """Sync every account of ``config`` once; each has its own cursors and report.

    Accounts on one ShipStation key pair share this cycle's polls and createorders batches
    (:mod:`.shared`) unless ``share_polls`` is False.
    """
    clock = clock or SystemClock()
    shares = key_pair_shares(config.accounts, clock=clock) if share_polls else {}
    with ExitStack() as stack:
        if store is None:
            store = stack.enter_context(open_store(config.state_path))
        report = RunReport()
        with engines(
            config,
            store=store,
            options=options,
            clock=clock,
            transports=transports,
            progress=progress,
            lease_clock=lease_clock,
        ) as running:
            for engine in running:
                report.accounts.append(engine.run(share=shares.get(engine.account)))
        return report


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
