"""The agency world: many Back Market sellers, their stores in ShipStation, one clock.

An agency runs the sync for dozens of sellers. Each seller has a Back Market account of its
own (its own token and User-Agent, its own rate limit) and a store in ShipStation; the stores
are usually all in the agency's one ShipStation account, behind one key pair whose 40 requests
a minute every store shares (shipstation.md §1.3), sometimes each in its own account.
:class:`AgencySandbox` simulates that world with the simulators of :class:`Sandbox`, unchanged:

- one :class:`~.backmarket.BackMarketSimulator` per seller. Every seller's orders are numbered
  from the same base, so the same order id exists in every account (the sync keeps them apart
  with each account's ``orderKey`` prefix); every third seller is on the US platform
  (``www.backmarket.com``, ``en-us`` orders only), the others on the EU one;
- with ``shared_key_pair=True`` one :class:`~.shipstation.ShipStationSimulator` with one store
  per seller and one key pair; with ``False`` one simulated ShipStation account per seller,
  each with its own key pair and store;
- the limits each simulator enforces: about 200 requests per 10 s per Back Market token
  (its Cloudflare edge), 40 a minute per ShipStation key pair with ``X-Rate-Limit-*``
  headers and 429s.

``config()`` and ``transports`` run the sync in process; ``serve()`` serves the world on
loopback for other processes (``served.write_config(path)`` writes the TOML file they load).
``pack()`` plays every seller's packer; ``check()`` says whether the run kept its promises.
See docs/sandbox.md, "The agency sandbox".
"""

from __future__ import annotations

import base64
import json
import random
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import httpx

from ..clock import Clock, SystemClock
from .backmarket import BackMarketSimulator
from .counters import RequestCounters
from .data import MARKETS
from .faults import FaultInjector, FaultPlan
from .server import SandboxServer
from .shipstation import ShipStationSimulator
from .transport import RequestPipeline, SimulatorTransport

if TYPE_CHECKING:
    from ..sync.config import AccountConfig, SyncConfig
    from ..sync.sandbox_run import Packed

__all__ = [
    "AgencyCheck",
    "AgencyKeyPair",
    "AgencySandbox",
    "AgencySeller",
    "ServedAgency",
    "ShipWrite",
    "describe_agency",
    "serve_agency_forever",
]

_EU_URL = "https://www.backmarket.fr"
_US_URL = "https://www.backmarket.com"
_SHIPSTATION_URL = "https://ssapi.shipstation.com"
_SHIP_PATH = re.compile(r"/ws/orders/(\d+)$")
_SHIP_STATE = 3
_OPEN_ORDER_STATES = frozenset({1, 3})
_LINES_TO_SHIP = frozenset({1, 2})
_LINES_CLOSED = frozenset({4, 5})


class _Tally(RequestCounters):
    """Counters of one transport that also count into the world's, the seller's and the key
    pair's counters, so each can be read on its own."""

    def __init__(self, *targets: RequestCounters) -> None:
        super().__init__()
        self._targets = targets

    def record(self, api: str, endpoint: str, outcome: str) -> None:
        super().record(api, endpoint, outcome)
        for target in self._targets:
            target.record(api, endpoint, outcome)


class AgencyKeyPair:
    """One simulated ShipStation account: its key pair, simulator, faults and counters."""

    def __init__(
        self,
        *,
        name: str,
        api_key: str,
        api_secret: str,
        shipstation: ShipStationSimulator,
        faults: FaultInjector,
    ) -> None:
        self.name = name
        """``"agency"`` for the shared account, else the seller's name."""
        self.api_key = api_key
        self.api_secret = api_secret
        self.shipstation = shipstation
        self.faults = faults
        self.counters = RequestCounters()
        """Every ShipStation request made with this key pair (in process and served)."""
        self.base_url = _SHIPSTATION_URL
        """The base URL in process (the official one); served: see :class:`ServedAgency`."""

    def __repr__(self) -> str:
        return f"AgencyKeyPair(name={self.name!r})"


@attrs.frozen(kw_only=True)
class ShipWrite:
    """A Back Market ship write (``new_state`` 3) that reached the simulator."""

    order_id: int
    status: int


class AgencySeller:
    """One seller of the agency: its Back Market account and its store in ShipStation.

    Satisfies :class:`~backmarket_shipstation.sync.sandbox_run.PackingWorld`, so the
    one-account packer helpers take a seller too.
    """

    def __init__(
        self,
        *,
        name: str,
        region: str,
        backmarket_token: str,
        backmarket_user_agent: str,
        backmarket: BackMarketSimulator,
        backmarket_faults: FaultInjector,
        key_pair: AgencyKeyPair,
        shipstation_store_id: int,
        order_key_prefix: str,
    ) -> None:
        self.name = name
        self.region = region
        """``"eu"`` or ``"us"``: the Back Market platform of the account."""
        self.backmarket_token = backmarket_token
        self.backmarket_user_agent = backmarket_user_agent
        self.backmarket = backmarket
        self.backmarket_faults = backmarket_faults
        self.key_pair = key_pair
        self.shipstation_store_id = shipstation_store_id
        self.order_key_prefix = order_key_prefix
        """``orderKey`` = prefix + Back Market order id: ids overlap between accounts."""
        self.backmarket_base_url = _US_URL if region == "us" else _EU_URL
        """The base URL in process (the platform's); served: see :class:`ServedAgency`."""
        self.counters = RequestCounters()
        """This seller's requests: to its Back Market account, and to ShipStation in process
        (served, ShipStation requests are counted per key pair only: they share one URL)."""
        self._ship_writes: list[ShipWrite] = []
        self._lock = threading.Lock()

    @property
    def shipstation(self) -> ShipStationSimulator:
        """The ShipStation simulator the seller's store is in (shared with the others when
        the agency has one key pair)."""
        return self.key_pair.shipstation

    @property
    def ship_writes(self) -> list[ShipWrite]:
        """Every ship write that reached this seller's Back Market simulator, in order."""
        with self._lock:
            return list(self._ship_writes)

    def handle_backmarket(self, request: httpx.Request) -> httpx.Response:
        """The seller's Back Market simulator, noting each ship write that reaches it."""
        response = self.backmarket.handle(request)
        match = _SHIP_PATH.search(request.url.path) if request.method == "POST" else None
        if match is not None:
            try:
                body = json.loads(request.content or b"null")
            except ValueError:
                body = None
            if isinstance(body, dict) and str(body.get("new_state")) == str(_SHIP_STATE):
                with self._lock:
                    self._ship_writes.append(
                        ShipWrite(order_id=int(match.group(1)), status=response.status_code)
                    )
        return response

    def order_key(self, order_id: int) -> str:
        """The ``orderKey`` of one of this seller's Back Market orders in ShipStation."""
        return f"{self.order_key_prefix}{order_id}"

    def __repr__(self) -> str:
        return (
            f"AgencySeller(name={self.name!r}, region={self.region!r}, "
            f"store_id={self.shipstation_store_id}, key_pair={self.key_pair.name!r})"
        )


@attrs.frozen(kw_only=True)
class AgencyCheck:
    """What :meth:`AgencySandbox.check` found: counts, and every broken promise."""

    accounts: int
    orders_in_shipstation: int
    """ShipStation orders of the sellers' stores (one per imported Back Market order)."""
    to_ship: int
    """Orders shipped in ShipStation with every identifier typed: each needs one ship write."""
    ship_writes: int
    """Ship writes that reached the Back Market simulators, every account together."""
    rate_limited: int
    """429s the simulators answered (both APIs; injected faults are not counted)."""
    violations: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing was lost, duplicated, misrouted, sent twice or rate limited."""
        return not self.violations

    def to_text(self) -> str:
        """A short summary, then one line per violation."""
        head = (
            f"{self.accounts} accounts: {self.orders_in_shipstation} orders in ShipStation, "
            f"{self.to_ship} to ship, {self.ship_writes} ship writes, {self.rate_limited} x 429"
        )
        if self.ok:
            return head + ": ok"
        return "\n".join([head + f": {len(self.violations)} violations", *self.violations])


def _seller_name(number: int) -> str:
    return f"seller-{number:02d}"


class AgencySandbox:
    """K simulated Back Market sellers and their ShipStation stores, on one clock.

    Args:
        accounts: how many sellers (``seller-01``, ``seller-02``...).
        orders_per_account: orders generated in each Back Market account (the same ids in
            every account; each account's data drawn from its own seed).
        seed: makes every account's orders, credentials and ShipStation ids deterministic.
        clock: the time source (default: real time; a ``VirtualClock`` for tests and
            benchmarks).
        shared_key_pair: one ShipStation account with one store per seller and one key pair
            (True), or one ShipStation account, key pair and store per seller (False).
        faults: a :class:`FaultPlan` applied to every seller's Back Market account and every
            ShipStation key pair, each drawing from its own seed.
        us_every: every n-th seller is on the US platform (``en-us`` orders); 0: none.
        backmarket_options, shipstation_options: keyword options for every simulator.
    """

    def __init__(
        self,
        accounts: int = 3,
        orders_per_account: int = 200,
        seed: int = 0,
        clock: Clock | None = None,
        shared_key_pair: bool = True,
        faults: FaultPlan | None = None,
        *,
        us_every: int = 3,
        backmarket_options: Mapping[str, Any] | None = None,
        shipstation_options: Mapping[str, Any] | None = None,
    ) -> None:
        if accounts < 1:
            raise ValueError("an agency has at least one account")
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self.shared_key_pair = shared_key_pair
        self.orders_per_account = orders_per_account
        self.counters = RequestCounters()
        """Every request of the world, under ``api`` ``"backmarket"`` or ``"shipstation"``."""
        plan = faults or FaultPlan()
        ss_options = dict(shipstation_options or {})
        self.key_pairs: list[AgencyKeyPair] = []
        if shared_key_pair:
            self.key_pairs.append(self._key_pair("agency", 0, plan, ss_options))
        self.sellers: list[AgencySeller] = []
        for index in range(accounts):
            name = _seller_name(index + 1)
            rng = random.Random(f"agency-credentials-{seed}-{index}")
            # Shaped like a real token: base64 of "<22 hex>:BMT-<40 hex>" (backmarket.md §2.1).
            raw = f"{rng.getrandbits(88):022x}:BMT-{rng.getrandbits(160):040x}"
            token = base64.b64encode(raw.encode()).decode()
            email = f"ops@seller{index + 1:02d}.example"
            region = "us" if us_every > 0 and (index + 1) % us_every == 0 else "eu"
            backmarket = BackMarketSimulator(
                clock=self.clock,
                token=token,
                base_url=_US_URL if region == "us" else _EU_URL,
                seed=seed * 1000 + index,
                orders=orders_per_account,
                markets=("en-us",) if region == "us" else _EU_MARKETS,
                **dict(backmarket_options or {}),
            )
            if shared_key_pair:
                key_pair = self.key_pairs[0]
                store_id = (
                    key_pair.shipstation.backmarket_store_id
                    if index == 0
                    else key_pair.shipstation.add_store(
                        store_name=f"Back Market {name}",
                        marketplace_id=key_pair.shipstation.backmarket_marketplace_id,
                        status_mappings=[
                            {"orderStatus": "awaiting_shipment", "statusKey": "1"},
                            {"orderStatus": "shipped", "statusKey": "9"},
                        ],
                    )
                )
            else:
                key_pair = self._key_pair(name, index, plan, ss_options)
                self.key_pairs.append(key_pair)
                store_id = key_pair.shipstation.backmarket_store_id
            self.sellers.append(
                AgencySeller(
                    name=name,
                    region=region,
                    backmarket_token=token,
                    backmarket_user_agent=f"BM-Seller{index + 1:02d}-ShipStationSync;{email}",
                    backmarket=backmarket,
                    backmarket_faults=FaultInjector(
                        replace(plan, seed=plan.seed + 2 * index + 1),
                        clock=self.clock,
                        api="backmarket",
                    ),
                    key_pair=key_pair,
                    shipstation_store_id=store_id,
                    order_key_prefix=f"bm-{name}-",
                )
            )
        self._by_name = {seller.name: seller for seller in self.sellers}

    def _key_pair(
        self, name: str, index: int, plan: FaultPlan, options: Mapping[str, Any]
    ) -> AgencyKeyPair:
        rng = random.Random(f"agency-shipstation-{self.seed}-{name}")
        api_key, api_secret = f"{rng.getrandbits(128):032x}", f"{rng.getrandbits(128):032x}"
        # ShipStation store ids are unique across accounts: give each account its own range.
        stores: dict[str, int] = (
            {}
            if name == "agency"
            else {
                "manual_store_id": 320_000 + 2 * index,
                "backmarket_store_id": 320_001 + 2 * index,
            }
        )
        simulator = ShipStationSimulator(
            clock=self.clock,
            api_key=api_key,
            api_secret=api_secret,
            seed=self.seed * 1000 + index,
            **{**stores, **options},
        )
        faults = FaultInjector(
            replace(plan, seed=plan.seed + 10_000 + index), clock=self.clock, api="shipstation"
        )
        return AgencyKeyPair(
            name=name, api_key=api_key, api_secret=api_secret, shipstation=simulator, faults=faults
        )

    def __repr__(self) -> str:
        # No credentials here, even fake ones: reprs end up in logs.
        return (
            f"AgencySandbox(accounts={len(self.sellers)}, "
            f"orders_per_account={self.orders_per_account}, key_pairs={len(self.key_pairs)}, "
            f"clock={self.clock!r})"
        )

    def seller(self, name: str) -> AgencySeller:
        """The seller called ``name`` (``KeyError`` if none)."""
        return self._by_name[name]

    def _chosen(self, account: str | None) -> list[AgencySeller]:
        return self.sellers if account is None else [self.seller(account)]

    def _key_pairs_of(self, account: str | None) -> list[AgencyKeyPair]:
        return list({s.key_pair.name: s.key_pair for s in self._chosen(account)}.values())

    # --- running the sync in process ---------------------------------------------------

    def config(self, state_path: str = ":memory:", **settings: Any) -> SyncConfig:
        """A configuration with one account per seller, for the in-process transports.

        ``settings`` are :class:`~backmarket_shipstation.sync.SyncOptions` fields for every
        account (``dry_run=True``, ``lease_wait=...``); each account keeps its own
        ``order_key_prefix``.
        """
        return self._config(state_path, settings, None)

    def _config(
        self,
        state_path: str,
        settings: Mapping[str, Any],
        urls: Mapping[str, tuple[str, str]] | None,
    ) -> SyncConfig:
        from ..backmarket.regions import Region
        from ..sync.config import AccountConfig, SyncConfig
        from ..sync.options import SyncOptions

        if "order_key_prefix" in settings:
            raise ValueError("each account has its own order_key_prefix: ids overlap")
        accounts = []
        for seller in self.sellers:
            bm_url, ss_url = (
                urls[seller.name] if urls else (seller.backmarket_base_url, _SHIPSTATION_URL)
            )
            options = (
                SyncOptions(**{**settings, "order_key_prefix": seller.order_key_prefix})
                if settings
                else None
            )
            accounts.append(
                AccountConfig(
                    name=seller.name,
                    backmarket_token=seller.backmarket_token,
                    backmarket_region=Region(seller.region),
                    backmarket_user_agent=seller.backmarket_user_agent,
                    backmarket_base_url=bm_url,
                    shipstation_api_key=seller.key_pair.api_key,
                    shipstation_api_secret=seller.key_pair.api_secret,
                    shipstation_base_url=ss_url,
                    shipstation_store_id=seller.shipstation_store_id,
                    order_key_prefix=seller.order_key_prefix,
                    options=options,
                )
            )
        first = accounts[0].options
        if first is None:
            return SyncConfig(accounts=tuple(accounts), state_path=state_path)
        return SyncConfig(
            accounts=tuple(accounts),
            state_path=state_path,
            overlap=first.overlap,
            initial_lookback=first.initial_lookback,
        )

    def transports(self, account: AccountConfig) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
        """The (Back Market, ShipStation) transports of an account of :meth:`config`: its
        own Back Market simulator, the ShipStation simulator of its key pair. Fits
        ``run_sync(..., transports=agency.transports)``."""
        seller = self.seller(account.name)
        return (
            SimulatorTransport(
                seller.handle_backmarket,
                seller.backmarket_faults,
                _Tally(seller.counters, self.counters),
                api="backmarket",
            ),
            SimulatorTransport(
                seller.key_pair.shipstation.handle,
                seller.key_pair.faults,
                _Tally(seller.counters, seller.key_pair.counters, self.counters),
                api="shipstation",
            ),
        )

    # --- the sellers at work -----------------------------------------------------------

    def pack(self, account: str | None = None, *, forget_every: int = 0) -> dict[str, Packed]:
        """Play the packer of one seller (``account``) or of every seller: type each
        device's IMEI or serial number into Internal Notes and buy a label (mark BackShip
        orders shipped), as :func:`~backmarket_shipstation.sync.sandbox_run.pack` does for
        one account. ``forget_every=n`` leaves every n-th order of each store without its
        identifiers. Returns what each seller's packer did, by seller name."""
        from ..sync.sandbox_run import pack

        # One listing per ShipStation account: each packer changes only its own store's
        # orders, so the others' are still as listed.
        listed = {kp.name: kp.shipstation.orders() for kp in self._key_pairs_of(account)}
        return {
            s.name: pack(s, forget_every=forget_every, listed=listed[s.key_pair.name])
            for s in self._chosen(account)
        }

    def type_missing_identifiers(self, account: str | None = None) -> int:
        """The packers catch up on the identifiers they forgot; returns orders fixed."""
        from ..sync.sandbox_run import type_missing_identifiers

        return sum(type_missing_identifiers(s) for s in self._chosen(account))

    # --- what happened -----------------------------------------------------------------

    @property
    def rate_limited(self) -> int:
        """429s the simulators answered, both APIs (injected faults are not counted)."""
        return self.counters.count(outcome="429")

    def check(self, account: str | None = None) -> AgencyCheck:
        """Whether the world is as a finished cycle must leave it, for every seller.

        - every Back Market order still to accept or ship is in its own seller's ShipStation
          store, exactly once by ``orderKey``, and no order is in another seller's store;
        - every order shipped in ShipStation with every device's identifier in its Internal
          Notes had exactly one ship write on its own Back Market account and is shipped
          there; an order shipped without them had none; no ship write went to an order
          that was not shipped in ShipStation;
        - no API answered a 429.
        """
        problems: list[str] = []
        chosen = self._chosen(account)
        prefixes = sorted(((s.order_key_prefix, s) for s in self.sellers), key=lambda p: -len(p[0]))
        in_stores = 0
        to_ship = 0
        writes = 0
        key_pairs = self._key_pairs_of(account)
        every = {kp.name: kp.shipstation.orders(include_deleted=True) for kp in key_pairs}
        active = {kp.name: kp.shipstation.orders() for kp in key_pairs}
        for key_pair in key_pairs:
            for order in every[key_pair.name]:
                key = str(order.get("orderKey") or "")
                owner = next((s for p, s in prefixes if key.startswith(p)), None)
                store = (order.get("advancedOptions") or {}).get("storeId")
                if owner is not None and owner.shipstation_store_id != store:
                    problems.append(
                        f"{owner.name}: order {key} is in store {store}, "
                        f"not {owner.shipstation_store_id}"
                    )
        for seller in chosen:
            found = self._check_seller(
                seller, every[seller.key_pair.name], active[seller.key_pair.name]
            )
            problems.extend(found.problems)
            in_stores += found.in_store
            to_ship += found.to_ship
            writes += found.writes
        rate_limited = sum(s.counters.count(api="backmarket", outcome="429") for s in chosen) + sum(
            kp.counters.count(outcome="429") for kp in key_pairs
        )
        if rate_limited:
            problems.append(f"{rate_limited} requests answered 429")
        return AgencyCheck(
            accounts=len(chosen),
            orders_in_shipstation=in_stores,
            to_ship=to_ship,
            ship_writes=writes,
            rate_limited=rate_limited,
            violations=tuple(problems),
        )

    def _check_seller(
        self,
        seller: AgencySeller,
        every: list[dict[str, Any]],
        active: list[dict[str, Any]],
    ) -> _SellerFindings:
        problems: list[str] = []
        name = seller.name
        mine = [
            o
            for o in every
            if (o.get("advancedOptions") or {}).get("storeId") == seller.shipstation_store_id
        ]
        keys = Counter(str(o.get("orderKey")) for o in mine)
        for key, n in sorted(keys.items()):
            if n > 1:
                problems.append(f"{name}: order {key} is {n} times in its store")
            if not key.startswith(seller.order_key_prefix):
                problems.append(f"{name}: order {key} of another account is in its store")
        by_key = {
            str(o.get("orderKey")): o
            for o in active
            if (o.get("advancedOptions") or {}).get("storeId") == seller.shipstation_store_id
        }
        writes = Counter(w.order_id for w in seller.ship_writes)
        to_ship = 0
        bm = seller.backmarket
        for order in bm.orders():
            oid = int(order["order_id"])
            lines = order["orderlines"]
            ss_order = by_key.get(seller.order_key(oid))
            if (
                order["state"] in _OPEN_ORDER_STATES
                and {line["state"] for line in lines} & _LINES_TO_SHIP
                and ss_order is None
            ):
                problems.append(f"{name}: order {oid} (state {order['state']}) not in ShipStation")
            shipped = ss_order is not None and ss_order.get("orderStatus") == "shipped"
            notes = str((ss_order or {}).get("internalNotes") or "")
            complete = shipped and all(
                identifier in notes
                for line in lines
                if line["state"] not in _LINES_CLOSED
                for identifier in _identifiers(bm, int(line["id"]))
            )
            if complete:
                to_ship += 1
                if writes[oid] != 1:
                    problems.append(f"{name}: order {oid} shipped, {writes[oid]} ship writes")
                elif order["state"] != 9:
                    problems.append(
                        f"{name}: order {oid} ship write answered, state {order['state']}"
                    )
            elif writes[oid]:
                why = "without its identifiers" if shipped else "not shipped in ShipStation"
                problems.append(f"{name}: order {oid} {why}, {writes[oid]} ship writes")
        return _SellerFindings(
            problems=tuple(problems),
            in_store=len(by_key),
            to_ship=to_ship,
            writes=sum(writes.values()),
        )

    # --- serving -----------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ServedAgency:
        """Serve the world over HTTP on ``host:port`` (0: a free port), started.

        Each seller's Back Market account is at ``/backmarket/<seller>``, each ShipStation
        key pair at ``/shipstation/<key pair>`` (``/shipstation/agency`` when shared). Use
        it as a context manager or call ``stop()``.
        """
        return ServedAgency(self, host, port)


@attrs.frozen
class _SellerFindings:
    problems: tuple[str, ...]
    in_store: int
    to_ship: int
    writes: int


# The simulated markets but the US one: what an account on the EU platform sells in.
_EU_MARKETS = tuple(m.code for m in MARKETS if m.code != "en-us")


def _identifiers(bm: BackMarketSimulator, line_id: int) -> Iterator[str]:
    for table in (bm.device_imeis, bm.device_serials):
        found = table.get(line_id)
        if found is not None:
            yield found


class ServedAgency:
    """A running loopback server for an :class:`AgencySandbox`: its URLs, a configuration
    pointing at it (``config()``, ``write_config(path)``), ``stop()``."""

    def __init__(self, agency: AgencySandbox, host: str, port: int) -> None:
        self.agency = agency
        mounts: dict[str, RequestPipeline] = {}
        for seller in agency.sellers:
            mounts[f"/backmarket/{seller.name}"] = RequestPipeline(
                seller.handle_backmarket,
                seller.backmarket_faults,
                _Tally(seller.counters, agency.counters),
                api="backmarket",
            )
        for key_pair in agency.key_pairs:
            mounts[f"/shipstation/{key_pair.name}"] = RequestPipeline(
                key_pair.shipstation.handle,
                key_pair.faults,
                _Tally(key_pair.counters, agency.counters),
                api="shipstation",
            )
        self.server = SandboxServer(mounts, host=host, port=port)
        self.backmarket_urls = {
            s.name: f"{self.server.url}/backmarket/{s.name}" for s in agency.sellers
        }
        """Base URL of each seller's served Back Market account, by seller name."""
        self.shipstation_urls = {
            kp.name: f"{self.server.url}/shipstation/{kp.name}" for kp in agency.key_pairs
        }
        """Base URL of each served ShipStation account, by key pair name."""
        self._previous: list[tuple[Any, str]] = []
        for seller in agency.sellers:
            self._previous.append((seller.backmarket, seller.backmarket.base_url))
            seller.backmarket.base_url = self.backmarket_urls[seller.name]
        for key_pair in agency.key_pairs:
            self._previous.append((key_pair.shipstation, key_pair.shipstation.base_url))
            key_pair.shipstation.base_url = self.shipstation_urls[key_pair.name]
        self.stopped = threading.Event()
        """Set once :meth:`stop` was called."""
        self.server.start()

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        return self.server.url

    def config(self, state_path: str = ":memory:", **settings: Any) -> SyncConfig:
        """:meth:`AgencySandbox.config` with every base URL on this server (no transports
        needed: clients connect over loopback)."""
        urls = {
            s.name: (self.backmarket_urls[s.name], self.shipstation_urls[s.key_pair.name])
            for s in self.agency.sellers
        }
        return self.agency._config(state_path, settings, urls)

    def write_config(
        self, path: str | Path, *, state: str = "backmarket-shipstation.sqlite3", **settings: Any
    ) -> Path:
        """Write the TOML configuration file of the served world (docs/sync.md, "The
        configuration file"), for ``backmarket-shipstation sync --config`` and workers in
        other processes. ``state`` is the ``state_path`` (a file or a ``postgresql://``
        URL); ``settings`` are top-level settings of the file (``lease_expiry_seconds=30``).
        The file holds the sandbox's fake credentials in clear. Returns the path."""
        lines = [f"state_path = {_toml(state)}"]
        lines += [f"{key} = {_toml(value)}" for key, value in settings.items()]
        for account in self.config(state).accounts:
            lines += [
                "",
                "[[accounts]]",
                f"name = {_toml(account.name)}",
                f"backmarket_token = {_toml(account.backmarket_token)}",
                f"backmarket_region = {_toml(str(account.backmarket_region))}",
                f"backmarket_user_agent = {_toml(account.backmarket_user_agent)}",
                f"backmarket_base_url = {_toml(account.backmarket_base_url)}",
                f"shipstation_api_key = {_toml(account.shipstation_api_key)}",
                f"shipstation_api_secret = {_toml(account.shipstation_api_secret)}",
                f"shipstation_base_url = {_toml(account.shipstation_base_url)}",
                f"shipstation_store_id = {account.shipstation_store_id}",
                f"order_key_prefix = {_toml(account.order_key_prefix)}",
            ]
        target = Path(path)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return target

    def stop(self) -> None:
        """Stop the server; restore the simulators' in-process base URLs."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self.server.stop()
        for simulator, url in self._previous:
            simulator.base_url = url

    def __enter__(self) -> ServedAgency:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ServedAgency(url={self.url!r}, accounts={len(self.agency.sellers)})"


def _toml(value: object) -> str:
    """A TOML scalar: JSON's string escapes are valid TOML basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"only text, numbers and booleans go in the file, not {value!r}")


def describe_agency(served: ServedAgency, config_path: Path | None = None) -> str:
    """What a person needs to point workers or ``sync --config`` at a served agency."""
    agency = served.agency
    shared = "one ShipStation key pair" if agency.shared_key_pair else "a key pair each"
    lines = [
        f"backmarket-shipstation agency sandbox: {len(agency.sellers)} sellers, {shared}"
        " (simulated APIs, fake credentials)",
        "",
        f"{'seller':<10} {'region':<6} {'store id':>8}  Back Market base URL",
    ]
    lines += [
        f"{s.name:<10} {s.region:<6} {s.shipstation_store_id:>8}  {served.backmarket_urls[s.name]}"
        for s in agency.sellers
    ]
    lines += ["", "ShipStation base URLs:"]
    lines += [f"  {name:<10} {url}" for name, url in served.shipstation_urls.items()]
    if config_path is not None:
        lines += [
            "",
            f"Configuration file (every account, fake credentials in clear): {config_path}",
            f"  backmarket-shipstation sync --config {config_path}",
            f"  backmarket-shipstation status --config {config_path}",
        ]
    return "\n".join(lines)


def serve_agency_forever(
    port: int = 8765,
    host: str = "127.0.0.1",
    *,
    accounts: int = 3,
    orders_per_account: int = 50,
    seed: int = 0,
    shared_key_pair: bool = True,
    config_path: str | Path | None = None,
    state: str = "backmarket-shipstation.sqlite3",
    out: TextIO | None = None,
    ready: Callable[[ServedAgency], None] | None = None,
) -> None:
    """Serve a real-time agency sandbox until interrupted (Ctrl-C), printing each seller's
    URLs; with ``config_path``, write the TOML file of every account there first.

    The CLI's ``backmarket-shipstation sandbox serve --accounts K`` calls this. ``ready``
    (tests, embedding) receives the running server; calling its ``stop()`` ends the call.
    """
    stream = out or sys.stdout
    agency = AgencySandbox(
        accounts=accounts,
        orders_per_account=orders_per_account,
        seed=seed,
        clock=SystemClock(),
        shared_key_pair=shared_key_pair,
    )
    served = agency.serve(host, port)
    try:
        written = None if config_path is None else served.write_config(config_path, state=state)
        print(describe_agency(served, written), file=stream, flush=True)
        print("\nServing; press Ctrl-C to stop.", file=stream, flush=True)
        if ready is not None:
            ready(served)
        with suppress(KeyboardInterrupt):
            while not served.stopped.wait(0.5):
                pass
    finally:
        served.stop()
