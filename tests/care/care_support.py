"""Shared helpers of the care tests: a sandbox with care folders and a client on it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from backmarket_shipstation.backmarket import BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox


def care_sandbox(*, folders: int = 14, orders: int = 60, **options: Any) -> Sandbox:
    return Sandbox(
        seed=5,
        orders=orders,
        clock=VirtualClock(),
        backmarket_options={"care_folders": folders, **options},
    )


def client(
    sandbox: Sandbox, transport: httpx.BaseTransport | None = None, **kwargs: Any
) -> BackMarketClient:
    return BackMarketClient(
        token=sandbox.backmarket_token,
        user_agent=sandbox.backmarket_user_agent,
        transport=transport or sandbox.backmarket_transport(),
        clock=sandbox.clock,
        **kwargs,
    )


def line_in_state(sandbox: Sandbox, state: int) -> tuple[int, dict[str, Any]]:
    """(order id, orderline) of the first single-line order with a line in ``state``."""
    for order in sandbox.backmarket.orders():
        lines = order["orderlines"]
        if len(lines) == 1 and lines[0]["state"] == state and lines[0]["quantity"] == 1:
            return order["order_id"], lines[0]
    raise LookupError(f"no order with a line in state {state}")


class Killed(BaseException):
    """The process dies (not an Exception: nothing in the SDK catches it)."""


class KillingTransport(httpx.BaseTransport):
    """Forwards to the sandbox, and "kills the process" at the first request ``when`` picks:
    before it reaches Back Market, or after Back Market applied it (the answer is lost)."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        when: Callable[[httpx.Request], bool],
        *,
        after_delivery: bool,
    ) -> None:
        self.inner = inner
        self.when = when
        self.after_delivery = after_delivery
        self.killed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.killed and self.when(request):
            self.killed = True
            if self.after_delivery:
                request.read()
                self.inner.handle_request(request)
            raise Killed(f"killed at {request.method} {request.url.path}")
        return self.inner.handle_request(request)
