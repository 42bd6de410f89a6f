"""ShipStation V2 inventory: the small client the stock sync reads, against the simulator.

A seller keeps stock in ShipStation's inventory (several warehouses, units allocated to open
orders); the stock sync needs each SKU's available quantity, read page by page within V2's
200 requests a minute.
"""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import AuthenticationError, InvalidRequestError
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import (
    AsyncShipStationInventoryClient,
    InventoryPage,
    ShipStationInventoryClient,
)
from backmarket_shipstation.shipstation.inventory import (
    list_inventory_request,
    next_inventory_page,
    shipstation_v2_error,
)


def _stocked(rows: int = 61, **options: object) -> Sandbox:
    sandbox = Sandbox(seed=4, orders=1, clock=VirtualClock())
    for i in range(rows):
        sandbox.shipstation_inventory.set_stock(
            f"SKU-{i:03d}", 3 + i % 5, allocated=i % 2, warehouse_id="se-1" if i % 3 else "se-2"
        )
    for option, value in options.items():
        setattr(sandbox.shipstation_inventory, option, value)
    return sandbox


def _client(sandbox: Sandbox, **kwargs: object) -> ShipStationInventoryClient:
    return ShipStationInventoryClient(
        api_key=sandbox.shipstation_v2_api_key,
        transport=sandbox.shipstation_v2_transport(),
        clock=sandbox.clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_every_row_once_page_after_page_by_the_next_links() -> None:
    sandbox = _stocked(61)
    with _client(sandbox) as v2:
        pages = list(v2.inventory.list(limit=7).pages())
    assert len(pages) == math.ceil(61 / 7)
    assert [p.page for p in pages] == list(range(1, 10))
    skus = [row.sku for page in pages for row in page.inventory]
    assert len(skus) == len(set(skus)) == 61
    assert sandbox.counters.count(api="shipstation_v2") == 9


def test_available_is_on_hand_minus_allocated_over_every_warehouse() -> None:
    sandbox = _stocked(0)
    inventory = sandbox.shipstation_inventory
    inventory.set_stock("IP13", 5, allocated=2, warehouse_id="se-1", location_id="se-10")
    inventory.set_stock("IP13", 1, warehouse_id="se-1", location_id="se-11")
    inventory.set_stock("IP13", 4, allocated=4, warehouse_id="se-2")
    inventory.set_stock("GS22", 2, warehouse_id="se-2")
    with _client(sandbox) as v2:
        everything = v2.inventory.available()
        paris = v2.inventory.available(inventory_warehouse_id="se-1")
        rows = list(v2.inventory.list(sku=["IP13"], group_by="location"))
    assert everything == {"IP13": 4, "GS22": 2}
    assert paris == {"IP13": 4}
    assert sorted((r.inventory_warehouse_id, r.inventory_location_id) for r in rows) == [
        ("se-1", "se-10"),
        ("se-1", "se-11"),
        ("se-2", "se-1000"),
    ]
    assert rows[0].average_cost is not None


def test_the_key_goes_in_the_api_key_header_and_nowhere_else() -> None:
    sandbox = _stocked(1)
    seen: list[httpx.Request] = []
    inner = sandbox.shipstation_v2_transport()

    class Spy(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return inner.handle_request(request)

    with ShipStationInventoryClient(
        api_key=sandbox.shipstation_v2_api_key, transport=Spy(), clock=sandbox.clock
    ) as v2:
        list(v2.inventory.list())
        assert sandbox.shipstation_v2_api_key not in repr(v2)
    assert seen[0].headers["api-key"] == sandbox.shipstation_v2_api_key
    assert "authorization" not in seen[0].headers
    assert seen[0].url.host == "api.shipstation.com"
    assert seen[0].url.path == "/v2/inventory"


def test_a_wrong_key_is_an_authentication_error_without_the_key() -> None:
    sandbox = _stocked(1)
    wrong = "0" * 32
    with (
        ShipStationInventoryClient(
            api_key=wrong, transport=sandbox.shipstation_v2_transport(), clock=sandbox.clock
        ) as v2,
        pytest.raises(AuthenticationError) as refused,
    ):
        v2.inventory.available()
    assert "API key is invalid" in refused.value.message
    assert wrong not in str(refused.value)
    assert refused.value.api == "ShipStation V2"


def test_two_hundred_a_minute_are_kept_without_meeting_429() -> None:
    sandbox = _stocked(3)
    with _client(sandbox) as v2:
        start = sandbox.clock.monotonic()
        for _ in range(250):
            list(v2.inventory.list())
    assert sandbox.counters.count(api="shipstation_v2", outcome="429") == 0
    assert sandbox.counters.count(api="shipstation_v2") == 250
    assert sandbox.clock.monotonic() - start >= 60.0


def test_a_429_is_waited_out_as_retry_after_says() -> None:
    sandbox = _stocked(3)
    # A client that believes it may send far more (another tool shares the key).
    with _client(sandbox, max_requests_per_minute=10_000) as v2:
        for _ in range(205):
            list(v2.inventory.list())
    assert sandbox.counters.count(api="shipstation_v2", outcome="429") >= 1
    assert sandbox.counters.count(api="shipstation_v2", outcome="200") == 205


def test_a_next_link_is_followed_on_the_configured_host_only() -> None:
    first = list_inventory_request(limit=2)
    page = InventoryPage.from_dict(
        {
            "inventory": [{"sku": "A", "available": 1}],
            "links": {"next": {"href": "https://evil.example/steal?limit=2&page=2"}},
        }
    )
    following = next_inventory_page(first, page, 1)
    assert following is not None
    assert following.path == "/v2/inventory"
    assert dict(following.params) == {"limit": "2", "page": "2"}
    same = InventoryPage.from_dict(
        {"inventory": [{"sku": "A"}], "links": {"next": {"href": "https://x/v2/inventory?limit=2"}}}
    )
    assert next_inventory_page(first, same, 1) is None  # a link to itself ends the walk
    last = InventoryPage.from_dict({"inventory": [{"sku": "A"}], "links": {"next": {}}})
    assert next_inventory_page(first, last, 1) is None


def test_v2_errors_name_the_field() -> None:
    response = httpx.Response(
        400,
        json={
            "request_id": "r-1",
            "errors": [
                {
                    "error_source": "shipstation",
                    "error_type": "validation",
                    "error_code": "invalid_field_value",
                    "message": "must be positive",
                    "field_name": "limit",
                }
            ],
        },
    )
    error = shipstation_v2_error("GET", "/v2/inventory", response)
    assert isinstance(error, InvalidRequestError)
    assert error.message == "limit: must be positive"
    assert error.request_id == "r-1"


def test_bad_arguments_are_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="limit"):
        list_inventory_request(limit=0)
    with pytest.raises(ValueError, match="group_by"):
        list_inventory_request(group_by="sku")  # type: ignore[arg-type]
    assert dict(list_inventory_request(sku=["A", "B"]).params)["sku"] == "A,B"


def test_async_client_reads_the_same() -> None:
    sandbox = _stocked(30)

    async def run() -> dict[str, int]:
        async with AsyncShipStationInventoryClient(
            api_key=sandbox.shipstation_v2_api_key,
            transport=sandbox.shipstation_v2_transport(),
            clock=sandbox.clock,
        ) as v2:
            return await v2.inventory.available()

    assert asyncio.run(run()) == sandbox.shipstation_inventory.available()


def test_served_over_loopback() -> None:
    sandbox = _stocked(12)
    with (
        sandbox.serve(deliver_webhooks=False) as served,
        ShipStationInventoryClient(
            api_key=sandbox.shipstation_v2_api_key, base_url=served.shipstation_v2_url
        ) as v2,
    ):
        rows = list(v2.inventory.list(limit=5))
    assert len(rows) == 12
