"""A success answer whose JSON body is cut or garbled is a failed delivery, not data."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from backmarket_shipstation.backmarket import AsyncBackMarketClient, BackMarketClient
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import APIConnectionError

TOKEN = "dGVzdDpCTVQtdG9rZW4="
UA = "BM-Acme-ShipSync;ops@acme.example"
ORDER = {
    "order_id": 41234567,
    "state": 3,
    "orderlines": [{"id": 1, "state": 2, "listing": "SKU-1", "quantity": 1}],
}
SHIPPED = {**ORDER, "state": 9, "orderlines": [{**ORDER["orderlines"][0], "state": 3}]}


def _json(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def _cut(body: Any) -> httpx.Response:
    text = json.dumps(body)
    return httpx.Response(
        200, content=text[: len(text) // 2].encode(), headers={"content-type": "application/json"}
    )


def _client(answers: list[httpx.Response], seen: list[str]) -> BackMarketClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return answers.pop(0)

    return BackMarketClient(
        token=TOKEN, user_agent=UA, transport=httpx.MockTransport(handler), clock=VirtualClock()
    )


def test_a_cut_body_on_a_read_is_retried() -> None:
    seen: list[str] = []
    with _client([_cut(ORDER), _json(ORDER)], seen) as bm:
        assert bm.orders.get(41234567).order_id == 41234567
    assert seen == ["GET", "GET"]


def test_a_cut_body_every_time_is_a_connection_error_not_a_payload_error() -> None:
    seen: list[str] = []
    with _client([_cut(ORDER) for _ in range(10)], seen) as bm, pytest.raises(APIConnectionError):
        bm.orders.get(41234567)
    assert 1 < len(seen) <= 10


def test_a_cut_body_after_a_ship_write_rereads_instead_of_shipping_twice() -> None:
    seen: list[str] = []
    with _client([_cut(SHIPPED), _json(SHIPPED)], seen) as bm:
        result = bm.orders.ship(41234567, tracking_number="1Z999")
    assert result is not None
    assert result.order_id == 41234567
    assert seen == ["POST", "GET"], "the order was re-read, the write not sent again"


def test_a_text_answer_to_a_write_is_not_mistaken_for_a_cut_body() -> None:
    seen: list[str] = []
    text = httpx.Response(200, text="The invoice has been updated")
    with _client([text], seen) as bm:
        bm.orders.upload_invoice(41234567, b"%PDF-1.4")
    assert seen == ["POST"]


def test_the_async_client_follows_the_same_policy() -> None:
    seen: list[str] = []
    answers = [_cut(ORDER), _json(ORDER)]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return answers.pop(0)

    async def run() -> int:
        async with AsyncBackMarketClient(
            token=TOKEN, user_agent=UA, transport=httpx.MockTransport(handler),
            clock=VirtualClock(),
        ) as bm:  # fmt: skip
            return (await bm.orders.get(41234567)).order_id

    assert asyncio.run(run()) == 41234567
    assert seen == ["GET", "GET"]
