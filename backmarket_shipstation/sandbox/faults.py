"""Fault injection, deterministic from a seed.

A :class:`FaultPlan` is the configuration (rates per fault kind, delays, which paths);
a :class:`FaultInjector` is its running state (a seeded random generator, the 429 burst in
progress, faults queued by :meth:`FaultInjector.inject`). Faults are applied by the transport
and the loopback server around a simulator, never inside it, so a simulator stays a faithful
model of the API and the faults model the network and the edge in front of it.

Each eligible request draws one number from the generator, so the same seed and the same
sequence of requests give the same faults. The kinds, and when the simulator runs:

==================  ==================================================================  ========
kind                what the client sees                                                handler
==================  ==================================================================  ========
``server_error``    a 500, 502, 503 or 504 with a short HTML body                       not run
``rate_limit``      a burst of ``rate_limit_burst`` 429s (API-shaped body and headers)  not run
``firewall``        Cloudflare's HTML 403 (``server: cloudflare``, ``cf-ray``)          not run
``connect_error``   ``httpx.ConnectError``                                              not run
``slow``            the normal response after ``slow_seconds`` on the clock             run
``timeout``         ``httpx.ReadTimeout`` after ``timeout_seconds`` on the clock        **run**
``reset``           ``httpx.RemoteProtocolError`` (connection dropped, no response)     **run**
``truncated_json``  the response body cut in half                                       run
``malformed_json``  a body that is not JSON, with the original content type             run
==================  ==================================================================  ========

``timeout`` and ``reset`` run the handler first on purpose: the write took effect but its answer
was lost, which is exactly the case a client must survive without writing twice.
"""

from __future__ import annotations

import json
import random
import threading
from collections import deque
from dataclasses import dataclass, fields
from typing import Literal, get_args

import httpx

from ..clock import Clock, SystemClock
from ._cloudflare import firewall_block, ray_id

__all__ = ["FAULT_KINDS", "Fault", "FaultInjector", "FaultKind", "FaultPlan"]

FaultKind = Literal[
    "server_error",
    "rate_limit",
    "firewall",
    "connect_error",
    "slow",
    "timeout",
    "reset",
    "truncated_json",
    "malformed_json",
]
FAULT_KINDS: tuple[FaultKind, ...] = get_args(FaultKind)
_SERVER_ERROR_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class FaultPlan:
    """How often each fault happens, as a probability per eligible request (0 to 1).

    The rates are exclusive (one draw per request picks at most one fault), so their sum must
    not exceed 1. ``rate_limit_rate`` is the chance that a request *starts* a burst of
    ``rate_limit_burst`` consecutive 429s. ``paths`` limits faults to requests whose path
    starts with one of the prefixes (e.g. ``("/ws/orders",)``); ``methods`` to those methods.
    An empty tuple means all.
    """

    seed: int = 0
    server_error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    rate_limit_burst: int = 3
    rate_limit_retry_after: int = 10
    firewall_rate: float = 0.0
    connect_error_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 3.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 30.0
    reset_rate: float = 0.0
    truncated_json_rate: float = 0.0
    malformed_json_rate: float = 0.0
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        rates = self.rates()
        for kind, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{kind} rate must be between 0 and 1, got {rate}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        if self.rate_limit_burst < 1:
            raise ValueError("rate_limit_burst must be at least 1")
        for name in ("slow_seconds", "timeout_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")

    def rates(self) -> dict[FaultKind, float]:
        """The rate of every fault kind, in the order the draw tests them."""
        return {kind: float(getattr(self, f"{kind}_rate")) for kind in FAULT_KINDS}

    @classmethod
    def uniform(cls, total_rate: float, *, seed: int = 0) -> FaultPlan:
        """A plan that spreads ``total_rate`` evenly across every fault kind."""
        share = total_rate / len(FAULT_KINDS)
        return cls(
            seed=seed,
            server_error_rate=share,
            rate_limit_rate=share,
            firewall_rate=share,
            connect_error_rate=share,
            slow_rate=share,
            timeout_rate=share,
            reset_rate=share,
            truncated_json_rate=share,
            malformed_json_rate=share,
        )

    def describe(self) -> str:
        """The non-default settings, for benchmark output."""
        default = FaultPlan()
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return "FaultPlan(" + ", ".join(changed) + ")"


@dataclass(frozen=True)
class Fault:
    """One fault chosen for one request."""

    kind: FaultKind
    status: int | None = None
    ray: str = ""


class FaultInjector:
    """The running state of a :class:`FaultPlan` for one API: thread-safe and deterministic.

    ``api`` shapes the injected 429 (``"shipstation"``: ``{"message": "Too Many Requests"}``
    and ``X-Rate-Limit-*`` headers; otherwise Back Market's V1 envelope and ``Retry-After``).
    Sleeps for ``slow`` and ``timeout`` happen on ``clock``.
    """

    def __init__(
        self, plan: FaultPlan | None = None, *, clock: Clock | None = None, api: str = ""
    ) -> None:
        self.plan = plan or FaultPlan()
        self.clock: Clock = clock or SystemClock()
        self.api = api
        self._rng = random.Random(self.plan.seed)
        self._lock = threading.Lock()
        self._burst_left = 0
        self._queued: deque[tuple[FaultKind, str]] = deque()

    def inject(self, kind: FaultKind, count: int = 1, *, path_prefix: str = "") -> None:
        """Force ``kind`` on the next ``count`` requests whose path starts with ``path_prefix``.

        Queued faults come before the random draw and ignore the plan's rates and filters,
        which makes single-fault tests exact.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._queued.extend([(kind, path_prefix)] * count)

    @property
    def pending(self) -> int:
        """Faults queued by :meth:`inject` and not yet used."""
        with self._lock:
            return len(self._queued)

    def decide(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (advances the generator)."""
        with self._lock:
            for position, (kind, prefix) in enumerate(self._queued):
                if path.startswith(prefix):
                    del self._queued[position]
                    return self._make(kind)
            if not self._eligible(method, path):
                return None
            if self._burst_left > 0:
                self._burst_left -= 1
                return self._make("rate_limit")
            draw = self._rng.random()
            threshold = 0.0
            for kind, rate in self.plan.rates().items():
                threshold += rate
                if draw < threshold:
                    if kind == "rate_limit":
                        self._burst_left = self.plan.rate_limit_burst - 1
                    return self._make(kind)
            return None

    def delay_of(self, fault: Fault | None) -> float:
        """Seconds to wait on the clock before answering."""
        if fault is None:
            return 0.0
        if fault.kind == "slow":
            return self.plan.slow_seconds
        if fault.kind == "timeout":
            return self.plan.timeout_seconds
        return 0.0

    def respond_early(self, fault: Fault, request: httpx.Request) -> httpx.Response | None:
        """The response that replaces the simulator's, or None when the simulator must run.

        Raises ``httpx.ConnectError`` for ``connect_error``.
        """
        if fault.kind == "connect_error":
            raise httpx.ConnectError("[Errno 111] Connection refused (injected)", request=request)
        if fault.kind == "firewall":
            return firewall_block(request, fault.ray)
        if fault.kind == "server_error":
            status = fault.status or 503
            reason = httpx.codes.get_reason_phrase(status)
            body = f"<html><body><h1>{status} {reason}</h1></body></html>\n"
            return httpx.Response(
                status,
                headers={"content-type": "text/html"},
                content=body.encode(),
                request=request,
            )
        if fault.kind == "rate_limit":
            return self._too_many_requests(request)
        return None

    def spoil(
        self, fault: Fault, request: httpx.Request, response: httpx.Response
    ) -> httpx.Response:
        """Apply a fault that acts after the simulator ran (raise, truncate or garble)."""
        if fault.kind == "timeout":
            raise httpx.ReadTimeout("The read operation timed out (injected)", request=request)
        if fault.kind == "reset":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response (injected)", request=request
            )
        if fault.kind in ("truncated_json", "malformed_json"):
            body = response.content
            if fault.kind == "truncated_json":
                body = body[: len(body) // 2]
            else:
                body = b'{"results": [{"order_id": 1,, <!-- upstream error -->'
            headers = [
                (k, v) for k, v in response.headers.multi_items() if k.lower() != "content-length"
            ]
            return httpx.Response(
                response.status_code, headers=headers, content=body, request=request
            )
        return response

    def _eligible(self, method: str, path: str) -> bool:
        plan = self.plan
        if plan.methods and method.upper() not in {m.upper() for m in plan.methods}:
            return False
        return not plan.paths or any(path.startswith(p) for p in plan.paths)

    def _make(self, kind: FaultKind) -> Fault:
        if kind == "server_error":
            return Fault(kind, status=self._rng.choice(_SERVER_ERROR_STATUSES))
        if kind == "firewall":
            return Fault(kind, status=403, ray=ray_id(self._rng))
        if kind == "rate_limit":
            return Fault(kind, status=429)
        return Fault(kind)

    def _too_many_requests(self, request: httpx.Request) -> httpx.Response:
        wait = self.plan.rate_limit_retry_after
        if self.api == "shipstation":
            headers = {
                "content-type": "application/json; charset=utf-8",
                "x-rate-limit-limit": "40",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(wait),
            }
            body: object = {"message": "Too Many Requests"}
        else:
            headers = {"content-type": "application/json", "retry-after": str(wait)}
            body = {"error": {"code": "rate_limited", "message": "Too Many Requests"}}
        return httpx.Response(
            429, headers=headers, content=json.dumps(body).encode(), request=request
        )

    def __repr__(self) -> str:
        return f"FaultInjector(api={self.api!r}, plan={self.plan.describe()})"
