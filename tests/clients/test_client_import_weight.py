"""Importing the clients stays light: the HTTP stack loads when a client is built, not before.

Each check runs in a fresh interpreter and looks at which modules the import *added*, so that
whatever the interpreter preloads (site, sitecustomize) does not count. No timing is asserted:
only which modules are loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

# What the client import used to pull in although no client exists yet: httpx and its own
# dependencies (~80 ms), asyncio (via the clock, ~15 ms), the email package (Retry-After dates).
DEFERRED = ("httpx", "httpcore", "asyncio", "email.utils", "ssl", "http.client")

CLIENT_IMPORT = (
    "from backmarket_shipstation import (AsyncBackMarketClient, AsyncShipStationClient, "
    "BackMarketClient, RetryPolicy, ShipStationClient)"
)


def _added_modules(statements: str) -> set[str]:
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        f"{statements}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_importing_the_clients_does_not_load_httpx_or_asyncio() -> None:
    added = _added_modules(CLIENT_IMPORT)
    assert "backmarket_shipstation.backmarket.client" in added
    assert "backmarket_shipstation.shipstation.client" in added
    assert sorted(added.intersection(DEFERRED)) == []


def test_importing_the_webhook_helpers_does_not_load_httpx() -> None:
    added = _added_modules("import backmarket_shipstation.shipstation.webhooks")
    assert "httpx" not in added


def test_building_a_client_loads_httpx_and_the_default_timeout() -> None:
    added = _added_modules(
        f"{CLIENT_IMPORT}\n"
        "client = ShipStationClient(api_key='k' * 16, api_secret='s' * 16)\n"
        "assert type(client._core.http).__name__ == 'Client'\n"
        "timeout = client._core.http.timeout\n"
        "assert (timeout.connect, timeout.read) == (5.0, 30.0), timeout\n"
        "client.close()"
    )
    assert "httpx" in added


def test_an_async_client_loads_what_it_awaits_with() -> None:
    added = _added_modules(
        f"{CLIENT_IMPORT}\n"
        "import asyncio\n"
        "from backmarket_shipstation.clock import SystemClock, VirtualClock\n"
        "clock = VirtualClock()\n"
        "asyncio.run(clock.asleep(2.5))\n"
        "assert clock.slept == 2.5\n"
        "asyncio.run(SystemClock().asleep(0.001))\n"
        "client = AsyncBackMarketClient(\n"
        "    token='t' * 16, user_agent='BM-Acme-Sync;ops@acme.example'\n"
        ")\n"
        "assert type(client._core.http).__name__ == 'AsyncClient'\n"
        "asyncio.run(client.aclose())"
    )
    assert {"httpx", "asyncio"} <= added


def test_importing_the_sync_package_does_not_load_httpx() -> None:
    # Its Transports alias names httpx types for type checkers only.
    added = _added_modules("import backmarket_shipstation.sync")
    assert "backmarket_shipstation.sync.runner" in added
    assert "httpx" not in added
