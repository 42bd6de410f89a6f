"""Tests of the sandbox framework: transport, faults, counters, server, data generator, facade.

Plain httpx throughout; virtual clocks so nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import (
    FAULT_KINDS,
    FaultInjector,
    FaultPlan,
    OrderGenerator,
    RequestCounters,
    RequestPipeline,
    Sandbox,
    SandboxServer,
    ServedSandbox,
    SimulatorTransport,
    endpoint_of,
    generate_orders,
    is_valid_imei,
    parse_filter_date,
    serve_forever,
)
from backmarket_shipstation.sandbox.data import luhn_check_digit

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


class Echo:
    """A tiny simulator: answers JSON describing the request, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls += 1
        body = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query.decode(),
            "body": request.content.decode(),
            "padding": "x" * 200,
        }
        return httpx.Response(200, json=body)


# --- counters ------------------------------------------------------------------------------


def test_endpoint_folds_numeric_segments() -> None:
    assert endpoint_of("get", "/ws/orders/41000007") == "GET /ws/orders/{id}"
    assert endpoint_of("PATCH", "/ws/orderlines/5") == "PATCH /ws/orderlines/{id}"
    assert endpoint_of("POST", "/ws/orders/12/invoice") == "POST /ws/orders/{id}/invoice"
    assert endpoint_of("GET", "/orders") == "GET /orders"
    assert endpoint_of("GET", "/v2/x") == "GET /v2/x"


def test_counters_tally_by_endpoint_and_outcome() -> None:
    counters = RequestCounters()
    counters.record("backmarket", "GET /ws/orders", "200")
    counters.record("backmarket", "GET /ws/orders", "200")
    counters.record("backmarket", "GET /ws/orders", "429")
    counters.record("shipstation", "GET /orders", "fault:timeout")
    assert counters.total == 4
    assert counters.count(api="backmarket", outcome="200") == 2
    assert counters.by_endpoint(api="backmarket") == {"GET /ws/orders": 3}
    assert counters.by_outcome() == {"200": 2, "429": 1, "fault:timeout": 1}
    assert counters.snapshot()[("shipstation", "GET /orders", "fault:timeout")] == 1
    assert "total" in counters.report()
    assert counters.report().splitlines()[-1].split()[-1] == "4"
    counters.reset()
    assert counters.total == 0


def test_counters_are_thread_safe() -> None:
    counters = RequestCounters()

    def work() -> None:
        for _ in range(2000):
            counters.record("a", "GET /", "200")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counters.total == 16000


# --- transport -----------------------------------------------------------------------------


def test_transport_reads_streamed_bodies_before_the_simulator_sees_them() -> None:
    echo = Echo()
    counters = RequestCounters()
    transport = SimulatorTransport(echo.handle, counters=counters, api="echo")
    with httpx.Client(transport=transport, base_url="https://api.example") as client:
        body = client.post("/things/12?x=1", content=iter([b"hello ", b"world"])).json()
    assert body["body"] == "hello world"
    assert body["path"] == "/things/12"
    assert body["query"] == "x=1"
    assert counters.snapshot() == {("echo", "POST /things/{id}", "200"): 1}


def test_transport_works_async() -> None:
    echo = Echo()
    counters = RequestCounters()
    transport = SimulatorTransport(echo.handle, counters=counters, api="echo")

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=transport, base_url="https://a.example") as c:
            responses = await asyncio.gather(*(c.post("/n", json={"i": i}) for i in range(20)))
        return [r.json() for r in responses]

    bodies = asyncio.run(run())
    assert sorted(json.loads(b["body"])["i"] for b in bodies) == list(range(20))
    assert counters.total == 20


def test_transport_accepts_a_plan_directly() -> None:
    transport = SimulatorTransport(Echo().handle, FaultPlan(server_error_rate=1.0), api="echo")
    with httpx.Client(transport=transport) as client:
        assert client.get("https://a.example/").status_code in (500, 502, 503, 504)


# --- faults ----------------------------------------------------------------------------


def test_fault_plan_validates_rates() -> None:
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan(server_error_rate=0.6, timeout_rate=0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(reset_rate=-0.1)
    with pytest.raises(ValueError, match="burst"):
        FaultPlan(rate_limit_burst=0)
    plan = FaultPlan.uniform(0.45, seed=4)
    assert sum(plan.rates().values()) == pytest.approx(0.45)
    assert "seed=4" in plan.describe()


def outcomes(plan: FaultPlan, n: int = 400) -> list[str]:
    clock = VirtualClock(START)
    counters = RequestCounters()
    echo = Echo()
    transport = SimulatorTransport(
        echo.handle, FaultInjector(plan, clock=clock, api="echo"), counters, api="echo"
    )
    seen = []
    with httpx.Client(transport=transport) as client:
        for i in range(n):
            try:
                response = client.get(f"https://a.example/r/{i}")
                if response.status_code == 200:
                    json.loads(response.content)
                seen.append(str(response.status_code))
            except httpx.TransportError as error:
                seen.append(type(error).__name__)
            except ValueError:
                seen.append("bad-json")
    return seen


def test_faults_are_deterministic_from_the_seed() -> None:
    plan = FaultPlan.uniform(0.5, seed=11)
    first = outcomes(plan)
    assert first == outcomes(plan)
    assert first != outcomes(FaultPlan.uniform(0.5, seed=12))
    kinds = Counter(first)
    # Every kind shows up at this rate and size; the exact mix is fixed by the seed.
    for expected in ("200", "429", "403", "ConnectError", "ReadTimeout", "RemoteProtocolError"):
        assert kinds[expected] > 0, expected
    assert kinds["bad-json"] > 0
    assert any(kinds[s] for s in ("500", "502", "503", "504"))


def test_fault_rate_is_roughly_honoured() -> None:
    seen = outcomes(FaultPlan(seed=1, server_error_rate=0.2), n=2000)
    errors = sum(1 for s in seen if s.startswith("5"))
    assert 300 < errors < 500


def test_rate_limit_faults_come_in_bursts() -> None:
    seen = outcomes(FaultPlan(seed=3, rate_limit_rate=0.02, rate_limit_burst=4), n=1000)
    runs = re.findall(r"(?:429,)+", ",".join(seen) + ",")
    assert runs
    assert all(run.count("429") % 4 == 0 for run in runs)


def test_faults_only_hit_matching_paths_and_methods() -> None:
    injector = FaultInjector(
        FaultPlan(server_error_rate=1.0, paths=("/ws/orders",), methods=("POST",))
    )
    assert injector.decide("POST", "/ws/orders/1") is not None
    assert injector.decide("GET", "/ws/orders/1") is None
    assert injector.decide("POST", "/ws/orderlines/1") is None


def run_one(kind: str, api: str = "echo") -> tuple[Echo, VirtualClock, Any]:
    """One request with ``kind`` injected: (simulator, clock, response or exception)."""
    clock = VirtualClock(START)
    echo = Echo()
    injector = FaultInjector(FaultPlan(), clock=clock, api=api)
    injector.inject(kind)  # type: ignore[arg-type]
    transport = SimulatorTransport(echo.handle, injector)
    with httpx.Client(transport=transport) as client:
        try:
            return echo, clock, client.post("https://a.example/x", json={"a": 1})
        except httpx.TransportError as error:
            return echo, clock, error


def test_injected_server_error_replaces_the_simulator() -> None:
    echo, _, response = run_one("server_error")
    assert response.status_code in (500, 502, 503, 504)
    assert echo.calls == 0


def test_injected_rate_limit_speaks_each_apis_dialect() -> None:
    echo, _, response = run_one("rate_limit", api="shipstation")
    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Requests"}
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert response.headers["x-rate-limit-reset"] == "10"
    _, _, response = run_one("rate_limit", api="backmarket")
    assert response.json()["error"]["code"] == "rate_limited"
    assert response.headers["retry-after"] == "10"
    assert echo.calls == 0


def test_injected_firewall_block_is_cloudflare_html() -> None:
    _, _, response = run_one("firewall")
    assert response.status_code == 403
    assert response.headers["server"] == "cloudflare"
    assert response.headers["cf-ray"]
    assert "<html" in response.text


def test_injected_connect_error_never_reaches_the_simulator() -> None:
    echo, _, error = run_one("connect_error")
    assert isinstance(error, httpx.ConnectError)
    assert echo.calls == 0


def test_injected_timeout_waits_on_the_clock_after_the_write_happened() -> None:
    echo, clock, error = run_one("timeout")
    assert isinstance(error, httpx.ReadTimeout)
    assert echo.calls == 1, "the request was processed; only its answer was lost"
    assert clock.slept == 30.0


def test_injected_reset_loses_the_answer_of_a_processed_request() -> None:
    echo, _, error = run_one("reset")
    assert isinstance(error, httpx.RemoteProtocolError)
    assert echo.calls == 1


def test_injected_slow_response_arrives_late_but_whole() -> None:
    echo, clock, response = run_one("slow")
    assert response.json()["path"] == "/x"
    assert clock.slept == 3.0
    assert echo.calls == 1


@pytest.mark.parametrize("kind", ["truncated_json", "malformed_json"])
def test_injected_broken_json(kind: str) -> None:
    _, _, response = run_one(kind)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_injected_faults_are_counted_as_faults() -> None:
    counters = RequestCounters()
    injector = FaultInjector(FaultPlan(), clock=VirtualClock(START))
    injector.inject("server_error", 2, path_prefix="/a")
    transport = SimulatorTransport(Echo().handle, injector, counters, api="echo")
    with httpx.Client(transport=transport, base_url="https://x.example") as client:
        client.get("/b/1")
        client.get("/a/1")
        client.get("/a/2")
        client.get("/a/3")
    assert injector.pending == 0
    assert counters.by_outcome() == {"200": 2, "fault:server_error": 2}


def test_unknown_fault_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultInjector().inject("meteor")  # type: ignore[arg-type]
    assert set(FAULT_KINDS) == set(FaultPlan().rates())


# --- server --------------------------------------------------------------------------------


@pytest.fixture
def echo_server() -> Iterator[tuple[Echo, SandboxServer, FaultInjector, RequestCounters]]:
    echo = Echo()
    counters = RequestCounters()
    injector = FaultInjector(FaultPlan(), clock=VirtualClock(START))
    pipeline = RequestPipeline(echo.handle, injector, counters, api="echo")
    with SandboxServer({"/echo": pipeline}) as server:
        yield echo, server, injector, counters


def test_server_strips_the_mount_prefix_and_keeps_the_query(
    echo_server: tuple[Echo, SandboxServer, FaultInjector, RequestCounters],
) -> None:
    _, server, _, counters = echo_server
    with httpx.Client(base_url=server.url) as client:
        body = client.get("/echo/ws/orders?state=1&date_creation=2025-01-01+00:00:00").json()
        assert body["path"] == "/ws/orders"
        assert body["query"] == "state=1&date_creation=2025-01-01+00:00:00"
        assert client.get("/echo").json()["path"] == "/"
        assert client.get("/nothing/here").status_code == 404
        assert client.get("/echoes").status_code == 404
    assert counters.snapshot() == {
        ("echo", "GET /ws/orders", "200"): 1,
        ("echo", "GET /", "200"): 1,
    }


def test_server_carries_bodies_methods_and_chunked_uploads(
    echo_server: tuple[Echo, SandboxServer, FaultInjector, RequestCounters],
) -> None:
    _, server, _, _ = echo_server
    with httpx.Client(base_url=server.url) as client:
        assert client.patch("/echo/l/1", json={"imei": "1"}).json()["body"] == '{"imei":"1"}'
        chunked = client.post("/echo/u", content=iter([b"a" * 10, b"b" * 5000]))
        assert chunked.json()["body"] == "a" * 10 + "b" * 5000
        head = client.head("/echo/x")
        assert head.status_code == 200
        assert head.content == b""
        assert client.delete("/echo/x").json()["method"] == "DELETE"


def test_server_keeps_connections_alive(
    echo_server: tuple[Echo, SandboxServer, FaultInjector, RequestCounters],
) -> None:
    echo, server, _, _ = echo_server
    with httpx.Client(base_url=server.url) as client:
        for i in range(300):
            assert client.get(f"/echo/{i}").status_code == 200
    assert echo.calls == 300


def test_server_hangs_up_on_injected_transport_faults(
    echo_server: tuple[Echo, SandboxServer, FaultInjector, RequestCounters],
) -> None:
    echo, server, injector, counters = echo_server
    with httpx.Client(base_url=server.url) as client:
        for kind in ("reset", "timeout", "connect_error"):
            injector.inject(kind)
            with pytest.raises(httpx.RemoteProtocolError):
                client.post("/echo/w", json={})
        injector.inject("truncated_json")
        broken = client.get("/echo/t")
        with pytest.raises(json.JSONDecodeError):
            broken.json()
        assert client.get("/echo/after").status_code == 200
    assert echo.calls == 4, "reset and timeout ran the handler; connect_error did not"
    assert counters.count(outcome="fault:timeout") == 1


def test_server_answers_async_clients(
    echo_server: tuple[Echo, SandboxServer, FaultInjector, RequestCounters],
) -> None:
    _, server, _, _ = echo_server

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url) as client:
            responses = await asyncio.gather(*(client.get(f"/echo/{i}") for i in range(30)))
        return [r.status_code for r in responses]

    assert asyncio.run(run()) == [200] * 30


def test_mount_prefixes_are_validated() -> None:
    with pytest.raises(ValueError, match="mount prefix"):
        SandboxServer({"echo": RequestPipeline(Echo().handle)})


# --- data generator --------------------------------------------------------------------------


def test_luhn_and_imei_validation() -> None:
    assert luhn_check_digit("49015420323751") == 8
    assert is_valid_imei("490154203237518")
    assert not is_valid_imei("490154203237517")
    assert is_valid_imei("490154203237517", luhn=False)
    assert not is_valid_imei("49015420323751")
    # Full-width digits pass str.isdigit() but are not an IMEI.
    assert not is_valid_imei("".join(chr(0xFF10 + int(d)) for d in "490154203237518"))


def test_generator_is_deterministic() -> None:
    first = list(generate_orders(seed=7, count=40, now=START))
    assert first == list(generate_orders(seed=7, count=40, now=START))
    assert first != list(generate_orders(seed=8, count=40, now=START))
    generator = OrderGenerator(7, 40, START)
    assert generator.order(17) == first[17], "one order can be rebuilt alone"
    with pytest.raises(IndexError):
        generator.order(40)


@pytest.fixture(scope="module")
def thousand() -> list[dict[str, Any]]:
    return list(generate_orders(seed=2, count=1000, now=START))


def test_generated_orders_cover_the_documented_variety(thousand: list[dict[str, Any]]) -> None:
    states = Counter(o["state"] for o in thousand)
    assert {1, 3, 9, 10} <= set(states)
    line_states = Counter(line["state"] for o in thousand for line in o["orderlines"])
    assert line_states[4] > 0, "cancelled lines"
    assert line_states[6] > 0, "refunded lines"
    assert any(len(o["orderlines"]) == 1 for o in thousand)
    assert any(len(o["orderlines"]) == 3 for o in thousand)
    assert any(line["quantity"] == 2 for o in thousand for line in o["orderlines"])
    markets = {o["country_code"] for o in thousand}
    assert {"fr-fr", "de-de", "es-es", "it-it", "en-gb", "en-us"} <= markets
    ids = [o["order_id"] for o in thousand]
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"\d{8}", str(i)) for i in ids)
    created = [o["date_creation"] for o in thousand]
    assert created == sorted(created)


def test_generated_markets_have_matching_currency_and_addresses(
    thousand: list[dict[str, Any]],
) -> None:
    postcode = {
        "FR": r"\d{5}",
        "DE": r"\d{5}",
        "ES": r"\d{5}",
        "IT": r"\d{5}",
        "GB": r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}",
        "US": r"\d{5}",
        "NL": r"\d{4} [A-Z]{2}",
        "BE": r"\d{4}",
        "AT": r"\d{4}",
        "PT": r"\d{4}-\d{3}",
        "IE": r"[A-Z]\d[\dW] [A-Z0-9]{4}",
    }
    for order in thousand:
        address = order["shipping_address"]
        country = order["country_code"].split("-")[1].upper()
        assert address["country"] == country
        assert order["currency"] == {"GB": "GBP", "US": "USD"}.get(country, "EUR")
        assert re.fullmatch(postcode[country], address["postal_code"]), address
        assert address["phone"].startswith("+")
        assert all(line["currency"] == order["currency"] for line in order["orderlines"])
        if country == "US":
            assert re.fullmatch(r"[A-Z]{2}", address["state_or_province"])
        else:
            assert "state_or_province" not in address
    us_taxes = [Decimal(o["sales_taxes"]) for o in thousand if o["country_code"] == "en-us"]
    assert any(tax > 0 for tax in us_taxes)
    assert all(Decimal(o["sales_taxes"]) == 0 for o in thousand if o["country_code"] != "en-us")


def test_generated_money_and_dates_have_back_markets_formats(
    thousand: list[dict[str, Any]],
) -> None:
    money = re.compile(r"\d+\.\d{2}")
    fractions: Counter[int] = Counter()
    for order in thousand:
        for key in ("price", "shipping_price", "sales_taxes"):
            assert money.fullmatch(order[key])
        total = sum(Decimal(x["price"]) * x["quantity"] for x in order["orderlines"])
        assert Decimal(order["price"]) == total
        assert re.fullmatch(r"[\d\-T:]+\.\d{6}Z", order["date_creation"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00", order["expected_dispatch_date"])
        match = re.fullmatch(r"[\d\-T:]+(\.\d+)?Z", order["date_modification"])
        assert match
        fractions[len(match.group(1) or "")] += 1
        assert parse_filter_date(order["date_modification"]) >= parse_filter_date(
            order["date_creation"]
        ).replace(microsecond=0)
        assert parse_filter_date(order["date_modification"]) <= START
        if order["state"] == 9 and order["date_shipping"] is not None:
            assert order["tracking_number"]
            assert order["shipper"]
    assert set(fractions) == {0, 4, 7}, "fractions of varying length: none, .123, .123456"


def test_generated_identifiers_are_kept_apart_until_shipping() -> None:
    generator = OrderGenerator(2, 300, START)
    for index in range(300):
        order = generator.order(index)
        identifiers = generator.device_identifiers(index)
        for line in order["orderlines"]:
            found = identifiers.get(line["id"])
            if line["state"] in (1, 2, 0, 8, 7, 4):
                assert line["imei"] == line["serial_number"] == ""
            if found is None:
                continue
            kind, value = found
            assert line["quantity"] == 1
            if kind == "imei":
                assert is_valid_imei(value)
            assert line[kind] in ("", value)


def test_lines_that_ended_unshipped_have_no_device_to_pack() -> None:
    generator = OrderGenerator(2, 300, START)
    hidden = 0
    for index in range(300):
        order = generator.order(index)
        packable = generator.device_identifiers(index)
        everything = generator.device_identifiers(index, include_unshipped_final=True)
        for line in order["orderlines"]:
            if line["state"] in (4, 5, 7):
                assert line["id"] not in packable
                hidden += line["id"] in everything
            else:
                assert packable.get(line["id"]) == everything.get(line["id"])
    assert hidden > 0, "the seed must cancel some device lines"


def test_generator_scales_to_a_hundred_thousand_orders() -> None:
    generator = OrderGenerator(0, 100_000, START)
    assert len(generator.states) == 100_000
    summary = generator.summary(99_999)
    assert summary.order_id == 41_099_999
    assert generator.order(99_999)["date_creation"] == summary.created.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"
    )


# --- the Sandbox facade --------------------------------------------------------------------


def test_sandbox_credentials_are_deterministic_and_kept_out_of_repr() -> None:
    one = Sandbox(seed=4, orders=10, clock=VirtualClock(START))
    two = Sandbox(seed=4, orders=10, clock=VirtualClock(START))
    assert one.backmarket_token == two.backmarket_token
    assert Sandbox(seed=5, orders=10).backmarket_token != one.backmarket_token
    import base64

    decoded = base64.b64decode(one.backmarket_token).decode()
    assert re.fullmatch(r"[0-9a-f]{22}:BMT-[0-9a-f]{40}", decoded)
    assert re.fullmatch(r"[0-9a-f]{32}", one.shipstation_api_key)
    assert one.shipstation_store_id == one.shipstation.backmarket_store_id
    for secret in (one.backmarket_token, one.shipstation_api_key, one.shipstation_api_secret):
        assert secret not in repr(one)


def test_sandbox_counts_both_apis_in_process() -> None:
    sandbox = Sandbox(seed=1, orders=20, clock=VirtualClock(START))
    with (
        httpx.Client(
            base_url=sandbox.backmarket_base_url,
            transport=sandbox.backmarket_transport(),
            headers=sandbox.backmarket_headers,
        ) as bm,
        httpx.Client(
            base_url=sandbox.shipstation_base_url,
            transport=sandbox.shipstation_transport(),
            auth=sandbox.shipstation_auth,
        ) as ss,
    ):
        assert bm.get("/ws/orders").status_code == 200
        stores = ss.get("/stores").json()
        assert sandbox.shipstation_store_id in [s["storeId"] for s in stores]
    assert sandbox.counters.snapshot() == {
        ("backmarket", "GET /ws/orders", "200"): 1,
        ("shipstation", "GET /stores", "200"): 1,
    }


def test_sandbox_faults_apply_per_api() -> None:
    sandbox = Sandbox(seed=1, orders=5, clock=VirtualClock(START))
    sandbox.shipstation_faults.inject("server_error")
    with httpx.Client(
        transport=sandbox.backmarket_transport(), headers=sandbox.backmarket_headers
    ) as bm:
        assert bm.get("https://www.backmarket.fr/ws/orders").status_code == 200
    with httpx.Client(
        transport=sandbox.shipstation_transport(), auth=sandbox.shipstation_auth
    ) as ss:
        assert ss.get("https://ssapi.shipstation.com/stores").status_code >= 500
        assert ss.get("https://ssapi.shipstation.com/stores").status_code == 200


def test_served_sandbox_uses_its_own_urls_and_restores_them() -> None:
    sandbox = Sandbox(seed=1, orders=30, clock=VirtualClock(START))
    with sandbox.serve() as served:
        assert isinstance(served, ServedSandbox)
        assert served.backmarket_url.endswith("/backmarket")
        with httpx.Client(headers=sandbox.backmarket_headers) as client:
            page = client.get(served.backmarket_url + "/ws/orders").json()
            assert page["next"].startswith(served.backmarket_url + "/ws/orders?")
            assert client.get(page["next"]).status_code == 200
        with httpx.Client(auth=sandbox.shipstation_auth) as client:
            assert client.get(served.shipstation_url + "/carriers").status_code == 200
    assert sandbox.backmarket.base_url == "https://www.backmarket.fr"
    assert sandbox.shipstation.base_url == "https://ssapi.shipstation.com"
    served.stop()  # a second stop is harmless


def test_served_sandbox_delivers_webhooks_over_http() -> None:
    received: list[dict[str, Any]] = []
    done = threading.Event()

    def hook(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        done.set()
        return httpx.Response(200)

    sandbox = Sandbox(seed=1, orders=5, clock=VirtualClock(START))
    with (
        SandboxServer({"/hook": RequestPipeline(hook)}) as receiver,
        sandbox.serve() as served,
        httpx.Client(base_url=served.shipstation_url, auth=sandbox.shipstation_auth) as ss,
    ):
        subscribed = ss.post(
            "/webhooks/subscribe",
            json={"target_url": receiver.url + "/hook/ship", "event": "SHIP_NOTIFY"},
        )
        assert subscribed.status_code in (200, 201), subscribed.text
        created = ss.post(
            "/orders/createorder",
            json={
                "orderNumber": "41000001",
                "orderKey": "bm-41000001",
                "orderDate": "2026-01-05T08:00:00",
                "orderStatus": "awaiting_shipment",
                "billTo": {"name": "A"},
                "shipTo": {
                    "name": "A",
                    "street1": "1 rue",
                    "city": "Lyon",
                    "postalCode": "69003",
                    "country": "FR",
                },
                "advancedOptions": {"storeId": sandbox.shipstation_store_id},
            },
        )
        assert created.status_code == 200, created.text
        sandbox.shipstation.buy_label(
            created.json()["orderId"],
            carrier_code="ups",
            service_code="ups_ground",
            weight={"value": 6, "units": "ounces"},
        )
        assert done.wait(10), "the served sandbox posts due webhooks on its own"
    assert received[0]["resource_type"] == "SHIP_NOTIFY"
    assert received[0]["resource_url"].startswith(served.shipstation_url)


def test_serve_forever_prints_urls_and_credentials() -> None:
    out = io.StringIO()
    urls: list[str] = []

    def ready(served: ServedSandbox) -> None:
        urls.append(served.backmarket_url)
        with httpx.Client(headers=served.sandbox.backmarket_headers) as client:
            urls.append(str(client.get(served.backmarket_url + "/ws/orders").status_code))
        served.stop()

    serve_forever(0, seed=3, orders=10, out=out, ready=ready)
    text = out.getvalue()
    assert urls[0] in text
    assert urls[1] == "200"
    assert "/shipstation" in text
    assert "token" in text
    assert "API secret" in text


# --- the volume test the issue asks for --------------------------------------------------


def test_lists_a_thousand_orders_and_makes_two_thousand_requests_over_loopback() -> None:
    clock = VirtualClock(START)
    sandbox = Sandbox(seed=9, orders=1100, clock=clock)
    listed: list[int] = []
    statuses: Counter[int] = Counter()
    with (
        sandbox.serve(deliver_webhooks=False) as served,
        httpx.Client(headers=sandbox.backmarket_headers) as client,
    ):
        url: str | None = served.backmarket_url + "/ws/orders?page-size=50"
        while url:
            response = client.get(url)
            statuses[response.status_code] += 1
            page = response.json()
            listed += [o["order_id"] for o in page["results"]]
            url = page["next"]
            clock.advance(0.06)  # a client pacing itself under 200 requests per 10 s
        assert len(listed) >= 1000
        assert len(set(listed)) == len(listed)
        position = 0
        while sum(statuses.values()) < 2000:
            order_id = listed[position % len(listed)]
            response = client.get(f"{served.backmarket_url}/ws/orders/{order_id}")
            statuses[response.status_code] += 1
            assert response.json()["order_id"] == order_id
            position += 1
            clock.advance(0.06)
    assert statuses == {200: 2000}
    assert sandbox.counters.count(api="backmarket", outcome="200") == 2000
