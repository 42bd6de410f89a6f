"""Both clients against the project's sandbox: over real loopback sockets, and in-process.

The sandbox shares the test's virtual clock, so rate-limit windows pass without real sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest

from backmarket_shipstation.backmarket import (
    AsyncBackMarketClient,
    BackMarketClient,
    OrderLineState,
    OrderState,
)
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.errors import AuthenticationError, NotFoundError
from backmarket_shipstation.sandbox import Sandbox
from backmarket_shipstation.shipstation import (
    AsyncShipStationClient,
    Confirmation,
    CreateLabelRequest,
    Order,
    OrderStatus,
    ShipmentPage,
    ShipStationClient,
    UntrustedWebhookURLError,
    WebhookEvent,
    Weight,
)


def shipstation_order(number: str, store_id: int) -> Order:
    return Order.from_dict(
        {
            "orderNumber": number,
            "orderKey": f"backmarket-{number}",
            "orderDate": "2026-01-05T01:00:00.0000000",
            "orderStatus": "awaiting_shipment",
            "billTo": {"name": "Camille Martin"},
            "shipTo": {
                "name": "Camille Martin",
                "street1": "12 rue des Lilas",
                "city": "Lyon",
                "postalCode": "69003",
                "country": "FR",
            },
            "items": [{"name": "iPhone 13", "sku": "IP13-128", "quantity": 1, "unitPrice": 329.0}],
            "advancedOptions": {"storeId": store_id},
        }
    )


def test_both_clients_over_loopback() -> None:
    clock = VirtualClock()
    sandbox = Sandbox(seed=3, orders=80, clock=clock)
    with sandbox.serve(deliver_webhooks=False) as served:
        bm = BackMarketClient(
            token=sandbox.backmarket_token,
            user_agent=sandbox.backmarket_user_agent,
            base_url=served.backmarket_url,
            clock=clock,
        )
        ss = ShipStationClient(
            api_key=sandbox.shipstation_api_key,
            api_secret=sandbox.shipstation_api_secret,
            base_url=served.shipstation_url,
            clock=clock,
        )
        with bm, ss:
            # Back Market: list (several pages of 50), accept every SKU, ship, read back.
            everything = list(bm.orders.list())
            assert len(everything) > 50
            assert all(o.state not in (OrderState.NEW, OrderState.NOT_PAID) for o in everything)
            to_accept = list(bm.orders.list(state=OrderState.TO_ACCEPT))
            assert to_accept
            assert all(o.state is OrderState.TO_ACCEPT for o in to_accept)
            order = to_accept[0]
            for sku in order.lines_by_sku:
                bm.orders.accept(order.order_id, sku)
            assert bm.orders.get(order.order_id).state is OrderState.TO_SHIP
            bm.orders.ship(order.order_id, tracking_number="6A 123 456", shipper="Colissimo")
            shipped = bm.orders.get(order.order_id)
            assert all(line.state is OrderLineState.SHIPPED for line in shipped.lines)
            assert shipped.tracking_number == "6A123456"
            with pytest.raises(NotFoundError):
                bm.orders.get(1)

            # ShipStation: stores, upsert (idempotent on orderKey), list, label, webhook.
            store = next(s for s in ss.stores.list() if s.marketplace_name == "Back Market")
            created = ss.orders.upsert(shipstation_order("BM-1", store.store_id))
            again = ss.orders.upsert(shipstation_order("BM-1", store.store_id))
            assert created.order_id == again.order_id
            bulk = ss.orders.upsert_many(
                shipstation_order(f"BM-{i}", store.store_id) for i in range(2, 5)
            )
            assert not bulk.has_errors
            assert len(bulk.results) == 3
            listed = list(ss.orders.list(order_status=OrderStatus.AWAITING_SHIPMENT))
            assert {o.order_number for o in listed} >= {"BM-1", "BM-2", "BM-3", "BM-4"}
            assert ss.carriers.list()
            subscription = ss.webhooks.subscribe(
                "http://127.0.0.1:9/hook", WebhookEvent.SHIP_NOTIFY, store_id=store.store_id
            )
            assert [w.web_hook_id for w in ss.webhooks.list().webhooks] == [subscription.id]
            label = ss.orders.create_label(
                CreateLabelRequest(
                    order_id=created.order_id or 0,
                    carrier_code="ups",
                    service_code="ups_ground",
                    confirmation=Confirmation.NONE,
                    ship_date=date(2026, 1, 5),
                    weight=Weight.grams(240),
                )
            )
            assert label.tracking_number
            payloads: list[dict[str, Any]] = []
            sandbox.deliver_webhooks(lambda url, payload: payloads.append(payload))
            assert payloads
            fetched = ss.webhooks.fetch(payloads[0])
            assert isinstance(fetched, ShipmentPage)
            assert [s.tracking_number for s in fetched.shipments] == [label.tracking_number]
            with pytest.raises(UntrustedWebhookURLError):
                ss.webhooks.fetch(
                    {
                        "resource_url": "https://ssapi.shipstation.com/shipments",
                        "resource_type": "SHIP_NOTIFY",
                    }
                )
            other_id = bulk.results[0].order_id or 0
            shipped_ss = ss.orders.mark_as_shipped(
                other_id,
                carrier_code="colissimo",
                tracking_number="6A999",
                notify_customer=False,
                notify_sales_channel=True,
            )
            assert shipped_ss.order_id == other_id
            assert [s.tracking_number for s in ss.shipments.list()] == [label.tracking_number]
            fulfillments = list(ss.fulfillments.list(order_id=other_id))
            assert [f.tracking_number for f in fulfillments] == ["6A999"]
            assert fulfillments[0].marketplace_notified is True
            ss.webhooks.unsubscribe(subscription.id)
            assert ss.webhooks.list().webhooks == ()


def test_wrong_credentials_are_authentication_errors_over_loopback() -> None:
    clock = VirtualClock()
    sandbox = Sandbox(seed=1, orders=5, clock=clock)
    with sandbox.serve(deliver_webhooks=False) as served:
        with (
            BackMarketClient(
                token="d3Jvbmc=",
                user_agent=sandbox.backmarket_user_agent,
                base_url=served.backmarket_url,
                clock=clock,
            ) as bm,
            pytest.raises(AuthenticationError),
        ):
            bm.orders.get(1)
        with (
            ShipStationClient(
                api_key="wrong", api_secret="wrong", base_url=served.shipstation_url, clock=clock
            ) as ss,
            pytest.raises(AuthenticationError),
        ):
            ss.carriers.list()


def test_async_clients_in_process() -> None:
    clock = VirtualClock()
    sandbox = Sandbox(seed=5, orders=60, clock=clock)

    async def run() -> None:
        async with (
            AsyncBackMarketClient(
                token=sandbox.backmarket_token,
                user_agent=sandbox.backmarket_user_agent,
                transport=sandbox.backmarket_transport(),
                clock=clock,
            ) as bm,
            AsyncShipStationClient(
                api_key=sandbox.shipstation_api_key,
                api_secret=sandbox.shipstation_api_secret,
                transport=sandbox.shipstation_transport(),
                clock=clock,
            ) as ss,
        ):
            orders = [o async for o in bm.orders.list(state=OrderState.TO_ACCEPT)]
            assert orders
            first = orders[0]
            for sku in first.lines_by_sku:
                await bm.orders.accept(first.order_id, sku)
            assert (await bm.orders.get(first.order_id)).state is OrderState.TO_SHIP
            stores = await ss.stores.list()
            store_id = stores[-1].store_id
            results = await ss.orders.upsert_many(
                shipstation_order(f"BM-A{i}", store_id) for i in range(120)
            )
            assert len(results.results) == 120
            assert not results.has_errors
            listed = [o async for o in ss.orders.list(page_size=50)]
            assert len(listed) == 120

    asyncio.run(run())


def test_a_mapping_write_plan_is_applied_in_order() -> None:
    from backmarket_shipstation.mapping import (
        LineIdentifiers,
        NotificationSource,
        NotificationStatus,
        ShipmentNotification,
        ShippedLine,
        to_backmarket_updates,
    )

    clock = VirtualClock()
    sandbox = Sandbox(seed=7, orders=60, clock=clock)
    with BackMarketClient(
        token=sandbox.backmarket_token,
        user_agent=sandbox.backmarket_user_agent,
        transport=sandbox.backmarket_transport(),
        clock=clock,
    ) as bm:
        order = next(
            o
            for o in bm.orders.list(state=OrderState.TO_ACCEPT)
            if len(o.lines) > 1 and all(line.quantity == 1 for line in o.lines)
        )
        identifiers = tuple(
            LineIdentifiers(orderline_id=line.id, serial_number=f"SN-{line.id}")
            for line in order.lines
        )
        notification = ShipmentNotification(
            order_id=order.order_id,
            status=NotificationStatus.SHIPPED,
            tracking_number="1Z999AA10123456784",
            source=NotificationSource.SHIPMENT,
            shipper="UPS",
            identifiers=identifiers,
            shipped_lines=tuple(
                ShippedLine(orderline_id=line.id, quantity=line.quantity or 1)
                for line in order.lines
            ),
        )
        plan = to_backmarket_updates(notification, order)
        results = bm.apply(plan)
        assert len(results) == len(plan)
        after = bm.orders.get(order.order_id)
    assert all(line.state is OrderLineState.SHIPPED for line in after.lines)
    assert sorted(line.serial_number or "" for line in after.lines) == sorted(
        f"SN-{line.id}" for line in order.lines
    )
