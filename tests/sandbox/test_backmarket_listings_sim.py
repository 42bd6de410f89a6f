"""The Back Market simulator's listings and tasks, over raw HTTP (no SDK client)."""

from __future__ import annotations

from typing import Any

import httpx

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import Sandbox


def http(**options: Any) -> tuple[Sandbox, httpx.Client]:
    box = Sandbox(seed=5, orders=3, clock=VirtualClock(), backmarket_options=options)
    raw = httpx.Client(
        base_url=box.backmarket_base_url,
        transport=box.backmarket_transport(),
        headers=box.backmarket_headers,
    )
    return box, raw


def test_the_default_catalog_lists_every_sku_the_orders_sell() -> None:
    box, raw = http(catalog_rate_limit=None)
    order_skus = {
        line["listing"] for order in box.backmarket.orders() for line in order["orderlines"]
    }
    listed: list[dict[str, Any]] = []
    url: str | None = "/ws/listings?page-size=50"
    while url:
        page = raw.get(url).json()
        listed.extend(page["results"])
        url = page["next"]
    assert len(listed) == page["count"] == 250
    assert order_skus <= {x["sku"] for x in listed}
    assert {"id", "listing_id", "product_id", "sku", "quantity", "price", "currency"} <= set(
        listed[0]
    )


def test_page_size_above_fifty_is_served_as_fifty() -> None:
    _, raw = http()
    assert len(raw.get("/ws/listings", params={"page-size": 80}).json()["results"]) == 50


def test_detail_and_get_answer_404_for_unknown_listings() -> None:
    _, raw = http()
    assert raw.get("/ws/listings/detail", params={"sku": "NOPE"}).status_code == 404
    assert raw.get("/ws/listings/123").status_code == 404
    assert raw.get("/ws/listings/detail").status_code == 400
    found = raw.get("/ws/listings/detail", params={"sku": "ip13-128-mid-exc"}).json()
    assert found["statuscode"] == 200
    assert found["sku"] == "IP13-128-MID-EXC"


def test_update_errors_are_bare_json_strings() -> None:
    box, raw = http()
    listing = box.backmarket.listings.listing("IP13-128-MID-EXC")
    assert listing is not None
    answer = raw.post(f"/ws/listings/{listing['id']}", json={"quantity": -2})
    assert answer.status_code == 400
    assert isinstance(answer.json(), str)
    missing = raw.post("/ws/listings", json={"catalog": "sku,quantity\nA,1"})
    assert missing.status_code == 400
    assert missing.json() == "parameter quotechar not found"


def test_the_catalog_endpoints_block_after_twenty_requests_in_ten_seconds() -> None:
    box, raw = http()
    statuses = [raw.get("/ws/listings").status_code for _ in range(21)]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429
    assert raw.get("/ws/orders").status_code == 200  # other endpoints are not blocked
    box.clock.sleep(10)
    assert raw.get("/ws/listings").status_code == 200


def test_the_data_limit_refuses_writes_beyond_2000_sku_lines_an_hour() -> None:
    box, raw = http(catalog_rate_limit=None)
    listing = box.backmarket.listings.listing("IP13-128-MID-EXC")
    assert listing is not None
    task = raw.post(
        "/ws/listings",
        json={
            "catalog": "sku,quantity\n" + "\n".join(["IP13-128-MID-EXC,1"] * 1999),
            "quotechar": '"',
            "delimiter": ",",
            "encoding": "utf-8",
        },
    )
    assert task.status_code == 200
    assert raw.post(f"/ws/listings/{listing['id']}", json={"quantity": 4}).status_code == 200
    refused = raw.post(f"/ws/listings/{listing['id']}", json={"quantity": 5})
    assert refused.status_code == 429
    assert box.backmarket.listings.listing(listing["id"])["quantity"] == 4
    box.clock.sleep(3600)
    assert raw.post(f"/ws/listings/{listing['id']}", json={"quantity": 5}).status_code == 200


def test_a_task_goes_from_to_do_to_in_progress_to_success() -> None:
    box, raw = http()
    body = {
        "catalog": 'sku;quantity;price\n"IP13-128-MID-EXC";2;301.50\nNEW-1;1;10.00',
        "quotechar": '"',
        "delimiter": ";",
        "encoding": "utf-8",
    }
    task_id = raw.post("/ws/listings", json=body).json()["bodymessage"]
    states = []
    for wait in (0, 30, 300):
        box.clock.sleep(wait)
        states.append(raw.get(f"/ws/tasks/{task_id}").json())
    assert [s["action_status"] for s in states] == [0, 2, 9]
    assert states[-1]["result"] == [
        {"sku": "IP13-128-MID-EXC", "status": "success"},
        {
            "sku": "NEW-1",
            "status": "error",
            "message": "unknown sku: product_id or ean needed to create a listing",
        },
    ]
    listing = box.backmarket.listings.listing("IP13-128-MID-EXC")
    assert listing is not None
    assert (listing["quantity"], listing["prices"]["fr-fr"]) == (2, "301.50")
    assert raw.get("/ws/tasks/1").status_code == 404


def test_a_file_that_cannot_be_read_fails_the_task_with_last_action_error() -> None:
    box, raw = http()
    body = {"catalog": "ean,quantity\n1,2", "quotechar": '"', "delimiter": ",", "encoding": "utf-8"}
    task_id = raw.post("/ws/listings", json=body).json()["bodymessage"]
    box.clock.sleep(301)
    task = raw.get(f"/ws/tasks/{task_id}").json()
    assert task["action_status"] == 8
    assert task["last_action_error"] == "column sku not found in the catalog header"


def test_a_new_order_lowers_the_stock_of_its_listings() -> None:
    box, _ = http()
    before = box.backmarket.listings.quantities()
    order = box.backmarket.new_order()
    after = box.backmarket.listings.quantities()
    sold: dict[str, int] = {}
    for line in order["orderlines"]:
        sold[line["listing"]] = sold.get(line["listing"], 0) + line["quantity"]
    assert sold
    for sku, units in sold.items():
        assert after[sku] == before[sku] - units
    assert {k: v for k, v in after.items() if k not in sold} == {
        k: v for k, v in before.items() if k not in sold
    }
