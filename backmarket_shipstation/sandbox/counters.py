"""Counters of every request a sandbox receives, by API, endpoint and outcome.

Tests assert on them ("the client made exactly one list call per page") and benchmarks print
them ("2,000 requests, 12 of them 429"). An endpoint is the method plus the path with its
numeric (and UUID) segments folded to ``{id}``, so ``GET /ws/orders/41000007`` counts as
``GET /ws/orders/{id}``. An outcome is the status code as text (``"200"``, ``"429"``) for a
response the simulator produced, or ``"fault:<kind>"`` for one the fault injector produced
(``"fault:server_error"``, ``"fault:timeout"``...).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping

__all__ = ["RequestCounters", "endpoint_of"]

_NUMERIC_SEGMENT = re.compile(
    r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?=/|$)"
)


def endpoint_of(method: str, path: str) -> str:
    """The counter key of a request: ``"GET /ws/orders/{id}"`` for ``GET /ws/orders/12``."""
    return f"{method.upper()} {_NUMERIC_SEGMENT.sub('/{id}', path) or '/'}"


class RequestCounters:
    """Thread-safe tallies of requests, keyed by ``(api, endpoint, outcome)``.

    One instance may be shared by several transports (the :class:`Sandbox` shares one between
    Back Market and ShipStation, each transport recording under its own ``api`` name).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def record(self, api: str, endpoint: str, outcome: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[(api, endpoint, outcome)] += 1

    def count(
        self, *, api: str | None = None, endpoint: str | None = None, outcome: str | None = None
    ) -> int:
        """How many requests match every filter given (no filter: all requests)."""
        with self._lock:
            return sum(
                n
                for (a, e, o), n in self._counts.items()
                if (api is None or a == api)
                and (endpoint is None or e == endpoint)
                and (outcome is None or o == outcome)
            )

    @property
    def total(self) -> int:
        """Every request recorded."""
        return self.count()

    def by_endpoint(self, *, api: str | None = None) -> dict[str, int]:
        """Requests per endpoint, all outcomes together."""
        return self._group(api, lambda key: key[1])

    def by_outcome(self, *, api: str | None = None) -> dict[str, int]:
        """Requests per outcome, all endpoints together."""
        return self._group(api, lambda key: key[2])

    def snapshot(self) -> Mapping[tuple[str, str, str], int]:
        """A copy of every tally, keyed by ``(api, endpoint, outcome)``."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self._counts.clear()

    def report(self) -> str:
        """A plain-text table, one line per (api, endpoint, outcome), for benchmark output."""
        rows = sorted(self.snapshot().items())
        width = max((len(f"{a} {e}") for (a, e, _), _ in rows), default=10)
        lines = [f"{f'{a} {e}':<{width}}  {o:<20} {n:>8}" for (a, e, o), n in rows]
        lines.append(f"{'total':<{width}}  {'':<20} {sum(n for _, n in rows):>8}")
        return "\n".join(lines)

    def _group(
        self, api: str | None, key_of: Callable[[tuple[str, str, str]], str]
    ) -> dict[str, int]:
        grouped: Counter[str] = Counter()
        with self._lock:
            for key, n in self._counts.items():
                if api is None or key[0] == api:
                    grouped[key_of(key)] += n
        return dict(grouped)

    def __repr__(self) -> str:
        return f"RequestCounters(total={self.total})"
