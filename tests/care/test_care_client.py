"""Care folders, messages and refunds: the client against the sandbox (in-process).

Written from what a seller does: read the open folders page by page, open one, answer the
customer, refund the line the folder is about.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest
from care_support import care_sandbox, client, line_in_state

from backmarket_shipstation.backmarket import (
    AsyncBackMarketClient,
    CareFolderState,
    OrderLineState,
    RefundType,
    refund_type_for,
)
from backmarket_shipstation.backmarket.care import (
    care_filter_date,
    list_care_folders_request,
    post_care_message_request,
    refund_request,
)
from backmarket_shipstation.errors import APITimeoutError, InvalidRequestError, NotFoundError


def test_folders_come_ten_per_page_and_every_one_once() -> None:
    sandbox = care_sandbox(folders=23, orders=150)
    with client(sandbox) as bm:
        pages = list(bm.care.list().pages())
        folders = list(bm.care.list())
    assert [len(p.results) for p in pages] == [10, 10, 3]
    # count is the number on the page ([OAS]), not a total
    assert [p.count for p in pages] == [10, 10, 3]
    assert sorted(f.id for f in folders) == sandbox.backmarket.care_folder_ids()
    assert len({f.id for f in folders}) == 23


def test_list_filters_reach_back_market() -> None:
    sandbox = care_sandbox(folders=12)
    ids = sandbox.backmarket.care_folder_ids()
    with client(sandbox) as bm:
        open_ids = {f.id for f in bm.care.list(state=CareFolderState.OPEN)}
        closed_ids = {f.id for f in bm.care.list(state=9)}
        after = [f.id for f in bm.care.list(last_id=ids[5])]
        first = bm.care.get(ids[0])
        assert first.orderline is not None
        by_line = [f.id for f in bm.care.list(orderline=first.orderline.id)]
        later = sandbox.clock.now() + timedelta(minutes=5)
        assert list(bm.care.list(last_modification_date=later)) == []
    assert open_ids
    assert closed_ids
    assert not open_ids & closed_ids
    assert open_ids | closed_ids == set(ids)
    assert after == ids[6:]
    assert by_line == [ids[0]]


def test_care_dates_are_sent_as_back_market_wants_them() -> None:
    moment = datetime(2026, 3, 2, 9, 5, tzinfo=timezone(timedelta(hours=1)))
    assert care_filter_date(moment) == "2026-03-02-08-05"
    request = list_care_folders_request(last_message_date=moment, state=0)
    assert dict(request.params) == {
        "last_message_date": "2026-03-02-08-05",
        "state": "0",
        "page": "1",
    }
    with pytest.raises(ValueError, match="timezone-aware"):
        care_filter_date(datetime(2026, 3, 2, 9, 5))
    with pytest.raises(ValueError, match=r"0 \(open\) or 9"):
        list_care_folders_request(state=3)


def test_a_folder_shows_its_line_order_messages_and_claims() -> None:
    sandbox = care_sandbox(folders=3)
    folder_id = sandbox.backmarket.care_folder_ids()[0]
    with client(sandbox) as bm:
        folder = bm.care.get(folder_id)
    assert folder.orderline is not None
    assert folder.orderline.order is not None
    order = sandbox.backmarket.get_order(folder.order_id or 0)
    assert order is not None
    assert folder.orderline.state is OrderLineState.SHIPPED
    assert isinstance(folder.orderline.order.shipper, int)  # an id here, not a name
    assert folder.orderline.snapshot is not None
    assert folder.orderline.snapshot.sku == order["orderlines"][0]["listing"]
    assert folder.claims
    assert folder.claims[0].issues
    assert folder.messages
    assert folder.messages[0].initiator == "Customer"
    assert folder.date_creation is not None
    assert folder.date_creation.tzinfo is not None
    # the customer's contact data stays out of reprs
    assert folder.client is not None
    assert folder.client.email
    assert folder.client.email not in repr(folder)


def test_unknown_folder_is_a_404() -> None:
    sandbox = care_sandbox(folders=1)
    with client(sandbox) as bm, pytest.raises(NotFoundError):
        bm.care.get(5)


def test_answering_a_closed_folder_reopens_it_with_attachments() -> None:
    sandbox = care_sandbox(folders=2)
    folder_id = sandbox.backmarket.care_folder_ids()[0]
    sandbox.backmarket.close_care_folder(folder_id)
    with client(sandbox) as bm:
        assert bm.care.get(folder_id).state is CareFolderState.CLOSED
        posted = bm.care.post_message(
            folder_id, "We send a replacement today.", ("label.pdf", b"%PDF")
        )
        plain = bm.care.post_message(folder_id, "Tracking follows.")
        folder = bm.care.get(folder_id)
        messages = bm.care.messages(folder_id)
    assert posted.group == folder_id
    assert posted.attachments
    assert len(posted.attachments) == 1
    assert plain.attachments == ()
    assert folder.state is CareFolderState.OPEN
    assert [m.message for m in messages[-2:]] == [
        "We send a replacement today.",
        "Tracking follows.",
    ]
    assert messages[-2].attachments
    assert messages[-2].attachments[0].attachment
    assert messages[-1].initiator == "Merchant"


def test_a_message_needs_text_and_at_most_ten_small_files() -> None:
    with pytest.raises(ValueError, match="needs text"):
        post_care_message_request(1, "  ")
    with pytest.raises(ValueError, match="at most 10"):
        post_care_message_request(1, "hi", [(f"{i}.jpg", b"x") for i in range(11)])
    with pytest.raises(ValueError, match="larger than 3 MB"):
        post_care_message_request(1, "hi", [("big.jpg", b"x" * (3 * 1024 * 1024 + 1))])


def test_refund_type_follows_the_line_state() -> None:
    assert refund_type_for(OrderLineState.PAID) is RefundType.FULL_BEFORE_ACCEPTANCE
    assert refund_type_for(2) is RefundType.FULL_BEFORE_SHIPPING
    assert refund_type_for(3) is RefundType.AFTER_SHIPPING
    for state in (0, 4, 5, 6, 7, 8, 9):
        with pytest.raises(ValueError, match="cannot be refunded"):
            refund_type_for(state)


def test_refund_body_carries_amount_only_for_a_partial_refund_after_shipping() -> None:
    full = refund_request(55, RefundType.FULL_BEFORE_SHIPPING)
    partial = refund_request(55, 6, amount=Decimal("19.90"))
    assert full.json == {"orderline_pk": 55, "refund_type": 5}
    assert partial.json == {"orderline_pk": 55, "refund_type": 6, "amount": 19.9}
    assert json.loads(json.dumps(partial.json))["amount"] == 19.9
    with pytest.raises(ValueError, match="only accepted"):
        refund_request(55, 5, amount=Decimal("10"))  # a line not shipped is refunded in full
    with pytest.raises(TypeError):
        refund_request(55, 6, amount=19.9)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fractions of a cent"):
        refund_request(55, 6, amount=Decimal("0.001"))
    with pytest.raises(ValueError, match="must be positive"):
        refund_request(55, 6, amount=Decimal("-1"))


@pytest.mark.parametrize(("state", "after"), [(1, 4), (2, 5), (3, 6)])
def test_a_full_refund_moves_the_line_as_back_market_does(state: int, after: int) -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, state)
    with client(sandbox) as bm:
        receipt = bm.care.refund(line["id"], refund_type_for(state), order_id=order_id)
        order = bm.orders.get(order_id)
    assert receipt.summary
    assert "refunded on the sku" in receipt.summary
    assert line["listing"] in receipt.summary
    assert order.lines[0].state == after
    assert len(sandbox.backmarket.refunds) == 1


def test_a_partial_refund_leaves_the_line_shipped() -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 3)
    with client(sandbox) as bm:
        receipt = bm.care.refund(line["id"], 6, amount=Decimal("10.00"), order_id=order_id)
        assert bm.orders.get(order_id).lines[0].state is OrderLineState.SHIPPED
    assert receipt.amount == Decimal("10.00")
    assert receipt.summary is not None
    assert receipt.summary.startswith("10")
    assert [r["amount"] for r in sandbox.backmarket.refunds] == [Decimal("10.0")]


def test_a_refund_type_that_does_not_match_the_state_is_refused() -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    with client(sandbox) as bm:
        with pytest.raises(InvalidRequestError) as refused:
            bm.care.refund(line["id"], 6, order_id=order_id)
        with pytest.raises(NotFoundError):
            bm.care.refund(1, 5)
    assert "state" in refused.value.message
    assert sandbox.backmarket.refunds == []


def test_a_lost_answer_to_a_full_refund_is_settled_by_reading_the_order() -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 2)
    sandbox.backmarket_faults.inject("timeout", path_prefix="/ws/sav/refund")
    with client(sandbox) as bm:
        receipt = bm.care.refund(line["id"], 5, order_id=order_id)
    assert receipt.summary is None  # known from the re-read, not from an answer
    assert len(sandbox.backmarket.refunds) == 1


def test_a_lost_answer_to_a_partial_refund_is_raised_not_resent() -> None:
    sandbox = care_sandbox(folders=0)
    order_id, line = line_in_state(sandbox, 3)
    sandbox.backmarket_faults.inject("timeout", path_prefix="/ws/sav/refund")
    with client(sandbox) as bm, pytest.raises(APITimeoutError) as failure:
        bm.care.refund(line["id"], 6, amount=Decimal("5.00"), order_id=order_id)
    assert "timeout" in str(failure.value)
    assert len(sandbox.backmarket.refunds) == 1


def test_async_client_lists_reads_and_refunds() -> None:
    sandbox = care_sandbox(folders=12)
    order_id, line = line_in_state(sandbox, 2)

    async def run() -> tuple[int, int, str | None]:
        async with AsyncBackMarketClient(
            token=sandbox.backmarket_token,
            user_agent=sandbox.backmarket_user_agent,
            transport=sandbox.backmarket_transport(),
            clock=sandbox.clock,
        ) as bm:
            folders = [f async for f in bm.care.list()]
            folder = await bm.care.get(folders[0].id)
            await bm.care.post_message(folder.id, "Hello")
            receipt = await bm.care.refund(line["id"], 5, order_id=order_id)
            return len(folders), len(await bm.care.messages(folder.id)), receipt.summary

    count, messages, summary = asyncio.run(run())
    assert count == 12
    assert messages == 2
    assert summary


def test_the_sandbox_enforces_each_care_endpoint_limit() -> None:
    # No client budget here: raw requests, as a client without one would send them.
    sandbox = care_sandbox(folders=1, rate_limit=None)
    headers = sandbox.backmarket_headers
    with httpx.Client(transport=sandbox.backmarket_transport(), headers=headers) as http:
        statuses = [http.get("https://www.backmarket.fr/ws/sav").status_code for _ in range(521)]
        sandbox.clock.advance(60)  # type: ignore[attr-defined]
        after_a_minute = http.get("https://www.backmarket.fr/ws/sav").status_code
    assert statuses[:520] == [200] * 520
    assert statuses[520] == 429
    assert after_a_minute == 200
