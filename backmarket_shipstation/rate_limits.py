"""Rate budgets shared by every process and host that uses a credential.

In one process, every client of a credential already shares its limiters (see
:func:`~backmarket_shipstation._http.shared_limiter`). Give clients a :class:`RateLimits` and
they share them with every other process and host that gives its clients the same store: a
ShipStation key pair's 40 requests a minute, a Back Market token's ~200 per 10 s and its
per-endpoint budgets (catalog, SKU lines, care) are then spent once, whoever spends them.

**How.** A limiter is its logic and a state. Shared, the state is a small record in a
:class:`~backmarket_shipstation._http.RateLimitStore` (for a sync whose state is PostgreSQL,
:class:`~backmarket_shipstation.sync.postgres_rate_limits.PostgresRateLimitStore`: one row per
credential, read ``FOR UPDATE``, changed and written back in one short transaction per
reservation), on the epoch timeline of ``clock.now()`` since monotonic clocks differ per
process. The logic is the same code as in one process: ShipStation's fixed window (the first
40 requests of a window go at once, the next wait for the end the server's
``X-Rate-Limit-Reset`` announced), Back Market's sliding window. A 429 from either API puts
the penalty in the shared record, so every process waits, not just the one that was told.

**Back Market's scope.** Cloudflare enforces Back Market's request rate, possibly per egress
address rather than per token (backmarket.md §6.2). ``backmarket_scope="token"`` (the default)
keys the general limit (and the catalog limit, also Cloudflare's) by a digest of the token;
``"host"`` keys them by the host, so that every token used from this machine shares one
budget. The host is this machine's egress, named by ``host`` (default: its hostname): give
the same name to machines that leave through one NAT address, so that they share one budget.
The per-endpoint quotas of an account (care, SKU lines per hour) stay per token.

Keys are digests (SHA-256 of the credential, or of the host's name), never credentials.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import attrs

from ._http import (
    Budget,
    Limiter,
    LimiterFactory,
    RateLimitStore,
    RateRecord,
    Secret,
    SharedState,
)
from .clock import Clock

__all__ = [
    "BackMarketScope",
    "MemoryRateLimitStore",
    "RateLimitSettings",
    "RateLimitStore",
    "RateLimits",
    "SharedState",
    "open_rate_limits",
]

BackMarketScope = Literal["token", "host"]
"""What one Back Market budget counts: the requests of one token, or of this host."""

T = TypeVar("T")
L = TypeVar("L", Limiter, Budget)

# The limits Cloudflare counts, which follow backmarket_scope; every other is the account's.
_ADDRESS_KINDS = frozenset({"backmarket", "backmarket:catalog"})


class MemoryRateLimitStore:
    """A :class:`RateLimitStore` in this process's memory: records kept as their JSON would be.

    For tests and for clients on different clocks or event loops of one process that must
    share a budget through the store's path; processes need a shared store (PostgreSQL).
    """

    blocking = False

    def __init__(self) -> None:
        self._records: dict[str, RateRecord] = {}
        self._lock = threading.Lock()
        self.updates = 0
        """Updates made, for tests and benchmarks."""

    def update(self, key: str, step: Callable[[RateRecord | None], tuple[RateRecord, T]]) -> T:
        import copy

        with self._lock:
            current = self._records.get(key)
            record, result = step(None if current is None else copy.deepcopy(current))
            self._records[key] = copy.deepcopy(record)
            self.updates += 1
            return result

    def keys(self) -> list[str]:
        """The keys of the records kept (digests, never credentials)."""
        with self._lock:
            return sorted(self._records)

    def __repr__(self) -> str:
        return f"MemoryRateLimitStore(records={len(self._records)})"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class RateLimits:
    """The limiters of clients that share their budgets through ``store``.

    Give the same :class:`RateLimits` (or one on the same store) to every client, in every
    process, that uses a credential: ``BackMarketClient(..., rate_limits=limits)``,
    ``ShipStationClient(..., rate_limits=limits)``. ``backmarket_scope`` and ``host`` say what
    one Back Market budget counts (see the module text). One limiter object per key and clock
    in the process, as without a store.
    """

    def __init__(
        self,
        store: RateLimitStore,
        *,
        backmarket_scope: BackMarketScope = "token",
        host: str | None = None,
    ) -> None:
        if backmarket_scope not in ("token", "host"):
            raise ValueError(
                f"backmarket_scope must be 'token' or 'host', not {backmarket_scope!r}"
            )
        self.store = store
        self.backmarket_scope: BackMarketScope = backmarket_scope
        import socket

        self.host = host or socket.gethostname()
        """This machine's egress, as named for a per-host Back Market budget."""
        self._limiters: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()

    def key(self, kind: str, credential: Secret) -> str:
        """The store key of ``kind``'s limiter for ``credential``: digests only."""
        if self.backmarket_scope == "host" and kind in _ADDRESS_KINDS:
            return f"{kind}:host:{_digest('host:' + self.host)}"
        return f"{kind}:{credential.digest()}"

    def limiter(self, kind: str, credential: Secret, clock: Clock, factory: LimiterFactory[L]) -> L:
        """The limiter of ``kind`` for ``credential``, its state in the store."""
        key = self.key(kind, credential)
        with self._lock:
            found: L | None = self._limiters.get((key, id(clock)))
            if found is None:
                found = factory(clock, SharedState(self.store, key))
                # The limiter holds its clock, so id(clock) stays unique while it lives.
                self._limiters[(key, id(clock))] = found
            return found

    def __repr__(self) -> str:
        return (
            f"RateLimits({self.store!r}, backmarket_scope={self.backmarket_scope!r},"
            f" host={self.host!r})"
        )


@attrs.frozen(kw_only=True)
class RateLimitSettings:
    """How a sync configuration shares its budgets: through the PostgreSQL state at
    ``state_url``, Back Market's budget keyed per ``backmarket_scope``, this host named
    ``host`` (default: its hostname)."""

    state_url: str = attrs.field(repr=False)
    backmarket_scope: BackMarketScope = "token"
    host: str | None = None


_OPEN: dict[tuple[RateLimitSettings, int], RateLimits] = {}
_OPEN_LOCK = threading.Lock()


def open_rate_limits(settings: RateLimitSettings) -> RateLimits:
    """The process's :class:`RateLimits` for ``settings``: one store connection per process.

    Keyed by the process id too: a worker forked after the parent opened one (Celery's
    prefork pool) must not share the parent's database connection.
    """
    key = (settings, os.getpid())
    with _OPEN_LOCK:
        found = _OPEN.get(key)
        if found is None:
            import atexit

            from .sync.postgres_rate_limits import PostgresRateLimitStore

            store = PostgresRateLimitStore(settings.state_url)
            # Kept for the life of the process (the next run of a watch loop uses it again),
            # closed as the process ends rather than left to the garbage collector.
            atexit.register(store.close)
            found = RateLimits(
                store, backmarket_scope=settings.backmarket_scope, host=settings.host
            )
            _OPEN[key] = found
        return found
