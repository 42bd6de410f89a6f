"""bm.listings and bm.tasks: every endpoint, the budgets and the task waiter.

Against the sandbox (in-process transport, virtual clock) for what a seller does, and
httpx.MockTransport where the exact request on the wire or an unclear failure matters.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backmarket_shipstation.backmarket import AsyncBackMarketClient, BackMarketClient
from backmarket_shipstation.backmarket.listing_models import ListingUpdate, TaskStatus
from backmarket_shipstation.backmarket.listings import WaitSchedule
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import BudgetExhaustedError, NotFoundError
from backmarket_shipstation.sandbox import Sandbox

TOKEN = "YWJjZGVmOkJNVC1zZWNyZXQtdG9rZW4tdmFsdWU="
UA = "BM-Acme-ShipSync;ops@acme.example"
UUID = "6c0a9a4e-0b1f-4c55-9d3e-2f7c1c7e9a01"


def sandbox(listings: int = 300, **options: Any) -> Sandbox:
    return Sandbox(
        seed=3,
        orders=5,
        clock=VirtualClock(),
        backmarket_options={"listings": listings, **options},
    )


def client(box: Sandbox, **kwargs: Any) -> BackMarketClient:
    return BackMarketClient(
        token=box.backmarket_token,
        user_agent=box.backmarket_user_agent,
        transport=box.backmarket_transport(),
        clock=box.clock,
        **kwargs,
    )


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> BackMarketClient:
    return BackMarketClient(
        token=TOKEN,
        user_agent=UA,
        transport=httpx.MockTransport(handler),
        clock=VirtualClock(),
        **kwargs,
    )


def listing_json(**fields: Any) -> dict[str, Any]:
    return {"id": UUID, "listing_id": 4000001, "sku": "IP13-128-MID-EXC", "quantity": 4, **fields}


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def test_list_walks_every_page_lazily_fifty_at_a_time() -> None:
    box = sandbox(listings=120)
    with client(box) as bm:
        listings = bm.listings.list()
        assert box.counters.total == 0  # nothing fetched until iterated
        first = next(iter(listings))
        assert box.counters.count(endpoint="GET /ws/listings") == 1
        every = list(listings)
    assert len(every) == 120
    assert len({x.id for x in every}) == 120
    assert first.id == every[0].id
    # 1 page for the first item, then 3 pages of 50, 50 and 20 for the full walk.
    assert box.counters.count(endpoint="GET /ws/listings") == 4


def test_list_sends_the_filters_and_the_page_size() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 0, "next": None, "results": []})

    with mock_client(handler) as bm:
        assert list(bm.listings.list(publication_state=2, min_quantity=1, max_quantity=9)) == []
    query = dict(seen[0].url.params)
    assert query == {
        "publication_state": "2",
        "min_quantity": "1",
        "max_quantity": "9",
        "page": "1",
        "page-size": "50",
    }
    with pytest.raises(ValueError, match="page_size"):
        bm.listings.list(page_size=51)


def test_quantity_filters_select_listings_on_the_sandbox() -> None:
    box = sandbox(listings=200)
    with client(box) as bm:
        out_of_stock = list(bm.listings.list(max_quantity=0))
        stocked = list(bm.listings.list(min_quantity=1))
    assert out_of_stock
    assert all(x.quantity == 0 for x in out_of_stock)
    assert all((x.quantity or 0) >= 1 for x in stocked)
    assert len(out_of_stock) + len(stocked) == 200


def test_get_by_uuid_by_integer_id_and_by_sku_give_the_same_listing() -> None:
    box = sandbox()
    stored = box.backmarket.listings.listing("IP12-128-BLU-GOO")
    assert stored is not None
    with client(box) as bm:
        by_uuid = bm.listings.get(stored["id"])
        by_int = bm.listings.get(stored["listing_id"])
        by_sku = bm.listings.get_by_sku("ip12-128-blu-goo")  # SKUs are case-insensitive
    assert by_uuid == by_int == by_sku
    assert by_uuid.sku == "IP12-128-BLU-GOO"
    assert by_uuid.quantity == stored["quantity"]
    assert by_uuid.price == Decimal(stored["prices"]["fr-fr"])
    assert box.counters.count(endpoint="GET /ws/listings/detail") == 1
    assert box.counters.count(endpoint="GET /ws/listings/{id}") == 2


def test_an_unknown_listing_is_not_found() -> None:
    box = sandbox()
    with client(box) as bm:
        with pytest.raises(NotFoundError):
            bm.listings.get_by_sku("NO-SUCH-SKU")
        with pytest.raises(NotFoundError):
            bm.listings.get(UUID)


def test_a_market_reads_its_own_price_and_currency() -> None:
    box = sandbox()
    with client(box) as bm:
        french = bm.listings.get_by_sku("IP13-128-MID-EXC")
        british = bm.listings.get_by_sku("IP13-128-MID-EXC", market="en-gb")
    assert french.currency == "EUR"
    assert british.currency == "GBP"
    assert british.price != french.price
    with pytest.raises(ValueError, match="market"):
        bm.listings.get_by_sku("IP13-128-MID-EXC", market="xx-xx")


# --------------------------------------------------------------------------------------
# Writing one listing
# --------------------------------------------------------------------------------------


def test_quantity_is_global_and_zero_takes_the_listing_offline() -> None:
    box = sandbox()
    with client(box) as bm:
        listing = bm.listings.get_by_sku("IP14-128-PUR-EXC")
        offline = bm.listings.take_offline(listing.id)
        assert offline.quantity == 0
        assert offline.publication_state == 3
        back = bm.listings.set_quantity(listing.id, 5)
        assert back.quantity == 5
        assert back.publication_state == 2
        # The same stock whichever market reads it.
        assert bm.listings.get(listing.id, market="de-de").quantity == 5
    assert [w["fields"] for w in box.backmarket.listings.writes] == [
        {"quantity": 0},
        {"quantity": 5},
    ]


def test_price_and_comment_go_to_the_market_named_by_accept_language() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=listing_json(price="249.00", statuscode=200))

    with mock_client(handler) as bm:
        bm.listings.edit(UUID, price="249.00", comment="Boxed", market="de-de")
    request = seen[0]
    assert request.method == "POST"
    assert request.url.path == f"/ws/listings/{UUID}"
    assert request.headers["accept-language"] == "de-de"
    assert json.loads(request.content) == {"price": "249.00", "comment": "Boxed"}

    box = sandbox()
    with client(box) as bm:
        listing = bm.listings.get_by_sku("IP13-128-MID-EXC")
        bm.listings.edit(listing.id, price="249.00", market="de-de")
        assert bm.listings.get(listing.id, market="de-de").price == Decimal("249.00")
        assert bm.listings.get(listing.id, market="fr-fr").price == listing.price


def test_a_write_that_breaks_back_markets_rules_is_never_sent() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=listing_json())

    with mock_client(handler) as bm:
        for bad in (
            ListingUpdate(quantity=-1),
            ListingUpdate(price=Decimal("0")),
            ListingUpdate(comment="x" * 501),
            ListingUpdate(warranty_delay=6),
            ListingUpdate(),
        ):
            with pytest.raises(ValueError, match=r"quantity|price|comment|warranty|at least one"):
                bm.listings.update(UUID, bad)
    assert sent == []


def test_a_currency_of_another_market_is_refused_by_back_market() -> None:
    box = sandbox()
    with client(box) as bm:
        listing = bm.listings.get_by_sku("IP13-128-MID-EXC")
        with pytest.raises(Exception, match="currency USD does not match"):
            bm.listings.edit(listing.id, price="300.00", currency="USD")


def test_an_unclear_update_is_checked_before_it_is_sent_again() -> None:
    """A timeout after Back Market applied the write: the re-read shows it (or a lower stock,
    an order having sold one since), so the write is not sent a second time."""
    posts: list[dict[str, Any]] = []
    live = {"quantity": 6}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(json.loads(request.content))
            live["quantity"] = posts[-1]["quantity"] - 1  # applied, then one unit sold
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(200, json=listing_json(quantity=live["quantity"]))

    with mock_client(handler) as bm:
        result = bm.listings.set_quantity(UUID, 3)
    assert posts == [{"quantity": 3}]
    assert result.quantity == 2


def test_an_unclear_update_that_did_not_apply_is_sent_again() -> None:
    posts: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(json.loads(request.content))
            if len(posts) == 1:
                raise httpx.ReadTimeout("no answer", request=request)
            return httpx.Response(200, json=listing_json(quantity=3))
        return httpx.Response(200, json=listing_json(quantity=6))  # not applied

    with mock_client(handler) as bm:
        assert bm.listings.set_quantity(UUID, 3).quantity == 3
    assert posts == [{"quantity": 3}, {"quantity": 3}]


# --------------------------------------------------------------------------------------
# The hourly SKU-line budget and the catalog limit
# --------------------------------------------------------------------------------------


def test_2001_sku_lines_in_an_hour_never_reach_the_api_at_once() -> None:
    box = sandbox(listings=50)
    skus = sorted(box.backmarket.listings.quantities())
    with client(box) as bm:
        ids = [bm.listings.get_by_sku(sku).id for sku in skus]
        start = box.clock.monotonic()
        for n in range(2001):
            bm.listings.set_quantity(ids[n % len(ids)], n % 7)
    writes = box.backmarket.listings.writes
    assert len(writes) == 2001
    assert box.counters.count(outcome="429") == 0
    assert box.backmarket.listings.refused_writes == 0
    # The 2,001st line went out only once the first had left the hour.
    assert writes[-1]["at"] >= writes[0]["at"] + 3600
    assert writes[1999]["at"] < start + 3600
    times = [w["at"] for w in writes]
    for i in range(len(times) - 2000):
        assert times[i + 2000] - times[i] >= 3600


def test_refuse_mode_raises_before_sending_when_the_hour_is_spent() -> None:
    box = sandbox(listings=20)
    skus = sorted(box.backmarket.listings.quantities())
    with client(box, max_sku_lines_per_hour=30, over_budget="refuse") as bm:
        ids = [bm.listings.get_by_sku(sku).id for sku in skus]
        for n in range(30):
            bm.listings.set_quantity(ids[n % 20], 1)
        assert bm.listings.sku_lines_available() == 0
        posts = box.counters.count(endpoint="POST /ws/listings/{id}")
        with pytest.raises(BudgetExhaustedError) as refused:
            bm.listings.set_quantity(ids[0], 2)
        assert box.counters.count(endpoint="POST /ws/listings/{id}") == posts
        assert "sku_lines" in refused.value.budget
        assert 0 < refused.value.wait <= 3600
        # The caller may choose to wait for this one write instead.
        before = box.clock.monotonic()
        bm.listings.set_quantity(ids[0], 2, over_budget="wait")
        assert box.clock.monotonic() - before == pytest.approx(refused.value.wait)


def test_a_batch_larger_than_the_hourly_budget_is_refused_whole() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"bodymessage": 1, "statuscode": 200})

    rows = [{"sku": f"S{n}", "quantity": 1} for n in range(2001)]
    with mock_client(handler) as bm, pytest.raises(ValueError, match="never fit"):
        bm.listings.batch(rows)
    assert sent == []


def test_the_budget_is_shared_by_every_client_of_the_token() -> None:
    box = sandbox(listings=10)
    with client(box, max_sku_lines_per_hour=5, over_budget="refuse") as one:
        listing = one.listings.get_by_sku(sorted(box.backmarket.listings.quantities())[0])
        for q in range(5):
            one.listings.set_quantity(listing.id, q)
    with client(box, max_sku_lines_per_hour=5, over_budget="refuse") as two:
        assert two.listings.sku_lines_available() == 0
        with pytest.raises(BudgetExhaustedError):
            two.listings.set_quantity(listing.id, 9)


def test_catalog_reads_stay_under_twenty_per_ten_seconds() -> None:
    box = sandbox(listings=2000)
    with client(box) as bm:
        start = box.clock.monotonic()
        assert len(list(bm.listings.list())) == 2000
        elapsed = box.clock.monotonic() - start
    assert box.counters.count(endpoint="GET /ws/listings") == 40
    assert box.counters.count(outcome="429") == 0
    # 18 per 10 s by default: the 40th request cannot go before 20 s have passed.
    assert elapsed >= 20


# --------------------------------------------------------------------------------------
# CSV batches and tasks
# --------------------------------------------------------------------------------------


def test_a_batch_posts_the_four_parameters_and_returns_the_task() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"bodymessage": 4242, "statuscode": 200})

    with mock_client(handler) as bm:
        task = bm.listings.batch(
            [{"sku": "A;1", "quantity": 3}, {"sku": "B2", "quantity": 0, "price": "99.00"}],
            delimiter=";",
        )
    assert task.task_id == 4242
    assert task.lines == 2
    body = json.loads(seen[0].content)
    assert set(body) == {"catalog", "quotechar", "delimiter", "encoding"}
    assert body["delimiter"] == ";"
    assert body["encoding"] == "utf-8"
    assert body["catalog"] == 'sku;quantity;price\n"A;1";3;\nB2;0;99.00'


def test_a_catalog_over_15000_lines_or_without_sku_is_refused_before_sending() -> None:
    with mock_client(lambda r: httpx.Response(500)) as bm:
        with pytest.raises(ValueError, match="15000"):
            bm.listings.batch("sku,quantity\n" + "\n".join(f"S{n},1" for n in range(15_000)))
        with pytest.raises(ValueError, match="sku"):
            bm.listings.batch("ean,quantity\n123,1")


def test_the_waiter_returns_each_skus_result_on_success() -> None:
    box = sandbox(listings=30)
    skus = sorted(box.backmarket.listings.quantities())
    with client(box) as bm:
        task = bm.listings.batch(
            [{"sku": skus[0], "quantity": 9}, {"sku": "GHOST-1", "quantity": 1}]
        )
        assert bm.tasks.get(task.task_id).action_status is TaskStatus.TODO
        outcome = bm.tasks.wait(task.task_id)
    assert outcome.outcome == "success"
    assert [(s.sku, s.ok) for s in outcome.skus] == [(skus[0], True), ("GHOST-1", False)]
    assert [s.sku for s in outcome.failed_skus] == ["GHOST-1"]
    assert box.backmarket.listings.quantities()[skus[0]] == 9
    assert outcome.waited >= 300  # the sandbox's task takes 5 minutes


def test_the_waiter_reports_a_failed_task_with_its_error() -> None:
    box = sandbox(listings=30)
    with client(box) as bm:
        task = bm.listings.batch("sku,quantity\nA,1", encoding="no-such-codec")
        outcome = bm.tasks.wait(task.task_id)
    assert outcome.outcome == "failure"
    assert outcome.error == "unknown encoding no-such-codec"
    assert outcome.skus == ()


def test_the_waiter_gives_up_at_its_timeout_with_backoff_between_polls() -> None:
    box = sandbox(listings=30, task_seconds=7200)
    polls: list[float] = []
    transport = box.backmarket_transport()

    def recording(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/ws/tasks/"):
            polls.append(box.clock.monotonic())
        return transport.handle_request(request)

    with BackMarketClient(
        token=box.backmarket_token,
        user_agent=box.backmarket_user_agent,
        transport=httpx.MockTransport(recording),
        clock=box.clock,
    ) as bm:
        skus = sorted(box.backmarket.listings.quantities())
        task = bm.listings.batch([{"sku": skus[0], "quantity": 1}])
        start = box.clock.monotonic()
        outcome = bm.tasks.wait(task.task_id, WaitSchedule(timeout=600, first=10, longest=120))
    assert outcome.outcome == "timeout"
    assert outcome.task is not None
    assert outcome.task.action_status is TaskStatus.IN_PROGRESS
    assert outcome.waited == pytest.approx(600)
    assert outcome.polls == len(polls)
    gaps = [b - a for a, b in zip([start, *polls], polls, strict=False)]
    assert gaps[0] == pytest.approx(10, abs=1)
    # Each wait at least as long as the one before, but the last (cut to the timeout).
    assert all(later >= earlier - 1 for earlier, later in itertools.pairwise(gaps[:-1]))
    assert max(gaps) <= 121
    assert polls[-1] - start == pytest.approx(600, abs=1)


# --------------------------------------------------------------------------------------
# Async
# --------------------------------------------------------------------------------------


def test_the_async_client_shares_the_endpoints_budget_and_waiter() -> None:
    box = sandbox(listings=60)

    async def main() -> None:
        async with AsyncBackMarketClient(
            token=box.backmarket_token,
            user_agent=box.backmarket_user_agent,
            transport=box.backmarket_transport(),
            clock=box.clock,
            max_sku_lines_per_hour=2,
            over_budget="refuse",
        ) as bm:
            listings = [x async for x in bm.listings.list()]
            assert len(listings) == 60
            first = await bm.listings.get_by_sku(listings[0].sku or "")
            assert (await bm.listings.get(first.id)).id == first.id
            assert (await bm.listings.take_offline(first.id)).quantity == 0
            task = await bm.listings.batch([{"sku": first.sku, "quantity": 4}])
            outcome = await bm.tasks.wait(task.task_id)
            assert outcome.outcome == "success"
            assert (await bm.tasks.get(task.task_id)).action_status is TaskStatus.SUCCESS
            with pytest.raises(BudgetExhaustedError):
                await bm.listings.edit(first.id, quantity=1, price="120.00")

    asyncio.run(main())
    assert box.backmarket.listings.listing(box.backmarket.listings.writes[0]["sku"]) is not None
    assert box.counters.count(outcome="429") == 0
