"""An httpx transport (sync and async) that hands requests to a simulator in-process.

``httpx.Client(transport=SimulatorTransport(sim.handle))`` talks to a simulator with no socket:
the fastest way to test a client or run a benchmark. Faults and counters are applied here,
around the simulator, exactly as the loopback server applies them (both use
:class:`RequestPipeline`).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from .counters import RequestCounters, endpoint_of
from .faults import Fault, FaultInjector, FaultPlan

__all__ = ["Handler", "RequestPipeline", "SimulatorTransport"]

Handler = Callable[[httpx.Request], httpx.Response]


class RequestPipeline:
    """Fault decision, simulator call, fault effects and counting, for one API.

    Callers do the waiting themselves (``clock.sleep`` or ``await clock.asleep``) between
    :meth:`decide` and :meth:`finish`, so the same steps serve sync and async code.
    """

    def __init__(
        self,
        handler: Handler,
        faults: FaultInjector | FaultPlan | None = None,
        counters: RequestCounters | None = None,
        *,
        api: str = "",
    ) -> None:
        if isinstance(faults, FaultPlan):
            faults = FaultInjector(faults, api=api)
        self.handler = handler
        self.faults = faults
        self.counters = counters
        self.api = api

    def decide(self, request: httpx.Request) -> tuple[Fault | None, float]:
        """The fault for this request (if any) and the seconds to wait before :meth:`finish`."""
        if self.faults is None:
            return None, 0.0
        fault = self.faults.decide(request.method, request.url.path)
        return fault, self.faults.delay_of(fault)

    def finish(self, request: httpx.Request, fault: Fault | None) -> httpx.Response:
        """Run the simulator (unless the fault replaces it), apply the fault, count."""
        endpoint = endpoint_of(request.method, request.url.path)
        if fault is None or self.faults is None:
            response = self.handler(request)
            self._count(endpoint, str(response.status_code))
            return response
        self._count(endpoint, f"fault:{fault.kind}")
        early = self.faults.respond_early(fault, request)
        if early is not None:
            return early
        return self.faults.spoil(fault, request, self.handler(request))

    def run(self, request: httpx.Request) -> httpx.Response:
        """All steps, sleeping on the fault injector's clock (sync callers)."""
        fault, delay = self.decide(request)
        if delay and self.faults is not None:
            self.faults.clock.sleep(delay)
        return self.finish(request, fault)

    async def arun(self, request: httpx.Request) -> httpx.Response:
        """All steps, awaiting the fault injector's clock (async callers)."""
        fault, delay = self.decide(request)
        if delay and self.faults is not None:
            await self.faults.clock.asleep(delay)
        return self.finish(request, fault)

    def _count(self, endpoint: str, outcome: str) -> None:
        if self.counters is not None:
            self.counters.record(self.api, endpoint, outcome)


class SimulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Route httpx requests to ``handler`` (a simulator's ``handle``), sync or async.

    ``faults`` is a :class:`FaultInjector` (share one to keep its state across transports) or
    a :class:`FaultPlan` (a fresh injector on the system clock); ``counters`` records every
    request under the name ``api``.
    """

    def __init__(
        self,
        handler: Handler,
        faults: FaultInjector | FaultPlan | None = None,
        counters: RequestCounters | None = None,
        *,
        api: str = "",
    ) -> None:
        self.pipeline = RequestPipeline(handler, faults, counters, api=api)

    @property
    def faults(self) -> FaultInjector | None:
        """The fault injector in use, if any."""
        return self.pipeline.faults

    @property
    def counters(self) -> RequestCounters | None:
        """The counters in use, if any."""
        return self.pipeline.counters

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The simulator reads request.content, which needs the body read first.
        request.read()
        return self.pipeline.run(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await self.pipeline.arun(request)

    def __repr__(self) -> str:
        return f"SimulatorTransport(api={self.pipeline.api!r})"
