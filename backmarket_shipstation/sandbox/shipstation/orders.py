"""The ShipStation simulator's orders.

List, get, create (an upsert on ``orderKey``), hold, restore, delete and tagging (the tags
themselves are :mod:`.tags`; a new SKU's product record, :mod:`.products`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from backmarket_shipstation.sandbox._ss_dates import (
    format_date,
    format_item_timestamp,
    format_timestamp,
    now_pacific,
)

from ._core import (
    CONFIRMATIONS,
    LOCKED_STATUSES,
    MAX_BULK_ORDERS,
    ORDER_STATUSES,
    SimulatorCore,
)
from ._records import (
    _INVALID,
    _bad_request,
    _invalid,
    _Locked,
    _Order,
    _pack,
    _Request,
)
from ._values import (
    _CENT,
    _address,
    _as_int,
    _bool,
    _dimensions,
    _insurance,
    _money,
    _OrderInvalid,
    _sum_weights,
    _tag_ids,
    _text,
    _weight,
)


class OrdersResource(SimulatorCore):
    """Orders: list, get, create (upsert on orderKey), hold, restore, delete, tags."""

    def _list_orders(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(
            req,
            {"orderdate": "order_date", "modifydate": "modify_date", "createdate": "create_date"},
        )
        orders: Iterable[_Order] = (o for o in self._orders.values() if o.active)
        status = req.query.get("orderstatus")
        if status:
            if status not in ORDER_STATUSES | {"rejected_fulfillment"}:
                raise _bad_request(
                    _INVALID, {"orderStatus": [f"The value '{status}' is not valid."]}
                )
            orders = (o for o in orders if o.status == status)
        store_id = self._query_int(req, "storeId")
        if store_id is not None:
            orders = (o for o in orders if o.store_id == store_id)
        number = req.query.get("ordernumber")
        if number:
            orders = (o for o in orders if o.order_number.startswith(number))
        batch = req.query.get("importbatch")
        if batch:
            orders = (o for o in orders if o.import_batch == batch)
        name = (req.query.get("customername") or "").lower()
        if name:
            orders = (o for o in orders if name in o.search_names)
        keyword = (req.query.get("itemkeyword") or "").lower()
        if keyword:
            orders = (o for o in orders if keyword in o.search_items)
        for field_name, attr in (
            ("createDate", "create_date"),
            ("modifyDate", "modify_date"),
            ("orderDate", "order_date"),
            ("paymentDate", "payment_date"),
        ):
            orders = self._date_filter(orders, req, field_name, attr, exclusive=True)
        selected = list(orders)
        if sort_by is not None:
            selected.sort(key=lambda o: (getattr(o, sort_by), o.order_id), reverse=descending)
        elif descending:
            selected.reverse()
        return self._page(selected, "orders", page, page_size, self._render_order)

    def _list_orders_by_tag(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        tag_id = self._query_int(req, "tagId")
        status = req.query.get("orderstatus")
        if tag_id is None or not status:
            raise _bad_request("orderStatus and tagId are required.")
        selected = [
            o
            for o in self._orders.values()
            if o.active and o.status == status and tag_id in o.tag_ids
        ]
        return self._page(selected, "orders", page, page_size, self._render_order)

    def _get_order(self, req: _Request) -> dict[str, Any]:
        return self._render_order(self._find_order(req.params["id"]))

    def _post_create_order(self, req: _Request) -> dict[str, Any]:
        body = req.json("apiOrder")
        if isinstance(body, list):
            raise _invalid(
                "apiOrder",
                "Cannot deserialize the current JSON array (e.g. [1,2,3]) into type "
                "'SS.OpenApi.Models.Orders.Order' because the type requires a JSON object "
                '(e.g. {"name":"value"}) to deserialize correctly.',
            )
        if not isinstance(body, dict):
            raise _invalid("apiOrder", "The request body must be a JSON object.")
        return self._create_one(body)

    def _create_one(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            order, notify = self._upsert(body)
        except _OrderInvalid as exc:
            raise _invalid(f"apiOrder.{exc.key}", exc.message) from None
        except _Locked as exc:
            raise _bad_request(exc.message) from None
        if notify:
            self._queue_order_notify([order])
        return self._render_order(order)

    def _post_create_orders(self, req: _Request) -> dict[str, Any]:
        body = req.json("apiOrders")
        if isinstance(body, dict):
            raise _invalid(
                "apiOrders.orderNumber",
                'Cannot deserialize the current JSON object (e.g. {"name":"value"}) into type '
                "'System.Collections.Generic.List`1[SS.OpenApi.Models.Orders.Order]' because the "
                "type requires a JSON array (e.g. [1,2,3]) to deserialize correctly.",
            )
        if not isinstance(body, list):
            raise _invalid("apiOrders", "The request body must be a JSON array.")
        if len(body) > MAX_BULK_ORDERS:
            raise _bad_request(
                f"The request is invalid. A maximum of {MAX_BULK_ORDERS} orders can be "
                f"created or updated at a time; {len(body)} were sent."
            )
        results: list[dict[str, Any]] = []
        notify: list[_Order] = []
        for item in body:
            number = item.get("orderNumber") if isinstance(item, dict) else None
            key = item.get("orderKey") if isinstance(item, dict) else None
            try:
                if not isinstance(item, dict):
                    raise _OrderInvalid("apiOrders", "Each order must be a JSON object.")
                order, fire = self._upsert(item)
            except (_OrderInvalid, _Locked) as exc:
                results.append(
                    {
                        "orderId": 0,
                        "orderNumber": number if isinstance(number, str) else None,
                        "orderKey": key if isinstance(key, str) else None,
                        "success": False,
                        "errorMessage": exc.message,
                    }
                )
                continue
            if fire:
                notify.append(order)
            results.append(
                {
                    "orderId": order.order_id,
                    "orderNumber": order.order_number,
                    "orderKey": order.order_key,
                    "success": True,
                    "errorMessage": None,
                }
            )
        if notify:
            self._queue_order_notify(notify)
        return {"hasErrors": any(not r["success"] for r in results), "results": results}

    def _upsert(self, src: dict[str, Any]) -> tuple[_Order, bool]:
        """Create or replace one order; returns it and whether ORDER_NOTIFY should fire."""
        lower = {k.lower(): v for k, v in src.items()}
        key = lower.get("orderkey")
        if key is not None and not isinstance(key, str):
            raise _OrderInvalid("orderKey", "orderKey must be a string.")
        existing: _Order | None = None
        if key:
            found = self._orders_by_key.get(key)
            existing = self._orders.get(found) if found is not None else None
        elif lower.get("orderid") is not None:
            candidate = self._orders.get(_as_int(lower.get("orderid"), "orderId"))
            if candidate is not None and candidate.active:
                existing = candidate
        if existing is not None and existing.status in LOCKED_STATUSES:
            raise _Locked(
                f"The order with orderKey '{existing.order_key}' is {existing.status} and can no "
                "longer be updated."
            )
        now = now_pacific(self.clock)
        new_key = key or (existing.order_key if existing else self._guid())
        built = self._build_order(lower, existing, new_key, now)
        requested_tags = _tag_ids(lower.get("tagids"), {t["tagId"] for t in self._tags})
        # tagIds is writable; when a create call leaves it out, the order keeps its tags.
        if requested_tags is not None:
            built.tag_ids = requested_tags
        elif existing is not None:
            built.tag_ids = existing.tag_ids
        if existing is None:
            self._orders[built.order_id] = built
            self._orders_by_key[built.order_key] = built.order_id
            fire = built.status not in ("awaiting_payment", "cancelled")
        else:
            fire = existing.status == "awaiting_payment" and built.status not in (
                "awaiting_payment",
                "cancelled",
            )
            built.import_batch = existing.import_batch
            self._orders[built.order_id] = built
        self._products_from_order(built)
        if built.status == "on_hold" and built.hold_until is not None:
            self._held.add(built.order_id)
        else:
            self._held.discard(built.order_id)
        return built, fire and self.order_notify_on_create

    def _build_order(
        self, src: dict[str, Any], existing: _Order | None, order_key: str, now: datetime
    ) -> _Order:
        number = src.get("ordernumber")
        if not isinstance(number, str) or not number:
            raise _OrderInvalid("orderNumber", "The orderNumber field is required.")
        if len(number) > 50:
            raise _OrderInvalid("orderNumber", "orderNumber must be 50 characters or fewer.")
        status = src.get("orderstatus")
        if not isinstance(status, str) or not status:
            raise _OrderInvalid("orderStatus", "The orderStatus field is required.")
        if status not in ORDER_STATUSES:
            raise _OrderInvalid(
                "orderStatus", f"Error converting value \"{status}\" to type 'OrderStatus'."
            )
        order_date = self._timestamp(src, "orderDate", required=True)
        assert order_date is not None  # required=True never returns None
        payment_date = self._timestamp(src, "paymentDate")
        ship_by = self._timestamp(src, "shipByDate")
        ship_date = self._bare_date(src, "shipDate")
        hold_until = self._bare_date(src, "holdUntilDate")
        bill_to = _address(src.get("billto"), "billTo", verified=None)
        ship_to = _address(src.get("shipto"), "shipTo", verified="Address not yet validated")
        items = self._items(src.get("items"), existing, now)
        tax = _money(src.get("taxamount"), "taxAmount")
        shipping = _money(src.get("shippingamount"), "shippingAmount")
        total = sum(
            ((item["unitPrice"] or Decimal(0)) * item["quantity"] for item in items),
            Decimal(0),
        )
        total = (total + (shipping or 0) + (tax or 0)).quantize(_CENT)
        confirmation = src.get("confirmation") or "none"
        if confirmation not in CONFIRMATIONS:
            raise _OrderInvalid(
                "confirmation", f"Error converting value \"{confirmation}\" to type 'Confirmation'."
            )
        weight = _weight(src.get("weight"), "weight") or _sum_weights(items)
        advanced = self._advanced_options(src.get("advancedoptions"), existing)
        store_id = advanced["storeId"]
        username = _text(src.get("customerusername"), "customerUsername")
        email = _text(src.get("customeremail"), "customerEmail")
        customer_id = self._customer_id(username or email)
        if existing is None:
            order_id = self._take("order")
            create_date = now
        else:
            order_id, create_date = existing.order_id, existing.create_date
        data: dict[str, Any] = {
            "orderId": order_id,
            "orderNumber": number,
            "orderKey": order_key,
            "orderDate": format_timestamp(order_date),
            "createDate": format_timestamp(create_date),
            "modifyDate": format_timestamp(now),
            "paymentDate": format_timestamp(payment_date),
            "shipByDate": format_timestamp(ship_by),
            "orderStatus": status,
            "customerId": customer_id,
            "customerUsername": username,
            "customerEmail": email,
            "billTo": bill_to,
            "shipTo": ship_to,
            "items": items,
            "orderTotal": total,
            "amountPaid": _money(src.get("amountpaid"), "amountPaid"),
            "taxAmount": tax,
            "shippingAmount": shipping,
            "customerNotes": _text(src.get("customernotes"), "customerNotes"),
            "internalNotes": _text(src.get("internalnotes"), "internalNotes"),
            "gift": bool(_bool(src.get("gift"), "gift")),
            "giftMessage": _text(src.get("giftmessage"), "giftMessage"),
            "paymentMethod": _text(src.get("paymentmethod"), "paymentMethod"),
            "requestedShippingService": _text(
                src.get("requestedshippingservice"), "requestedShippingService"
            ),
            "carrierCode": _text(src.get("carriercode"), "carrierCode"),
            "serviceCode": _text(src.get("servicecode"), "serviceCode"),
            "packageCode": _text(src.get("packagecode"), "packageCode"),
            "confirmation": confirmation,
            "shipDate": format_date(ship_date),
            "holdUntilDate": format_date(hold_until),
            "weight": weight,
            "dimensions": _dimensions(src.get("dimensions")),
            "insuranceOptions": _insurance(src.get("insuranceoptions")),
            "internationalOptions": self._international(src.get("internationaloptions")),
            "advancedOptions": advanced,
            "tagIds": None,
            "userId": None,
            "externallyFulfilled": False,
            "externallyFulfilledBy": None,
            "externallyFulfilledById": None,
            "externallyFulfilledByName": None,
        }
        search_items = [
            text
            for item in items
            for text in (
                item["sku"],
                item["name"],
                *(o["name"] for o in item["options"]),
                *(o["value"] for o in item["options"]),
            )
            if isinstance(text, str)
        ]
        return _Order(
            order_id=order_id,
            order_key=order_key,
            order_number=number,
            store_id=store_id,
            status=status,
            order_date=order_date,
            create_date=create_date,
            modify_date=now,
            payment_date=payment_date,
            blob=_pack(data),
            search_names="\n".join(
                party["name"] for party in (ship_to, bill_to) if party["name"]
            ).lower(),
            search_items="\n".join(search_items).lower(),
            hold_until=hold_until if status == "on_hold" else None,
        )

    def _items(self, raw: Any, existing: _Order | None, now: datetime) -> list[dict[str, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _OrderInvalid("items", "items must be a JSON array.")
        previous: dict[str, dict[str, Any]] = {}
        if existing is not None and self.keep_item_ids_on_update:
            previous = {i["lineItemKey"]: i for i in existing.data["items"] if i.get("lineItemKey")}
        items: list[dict[str, Any]] = []
        for position, entry in enumerate(raw):
            where = f"items[{position}]"
            if not isinstance(entry, dict):
                raise _OrderInvalid(where, "Each item must be a JSON object.")
            src = {k.lower(): v for k, v in entry.items()}
            name = src.get("name")
            if not isinstance(name, str) or not name:
                raise _OrderInvalid(f"{where}.name", "The name field is required.")
            quantity = src.get("quantity", 0)
            if quantity is None:
                quantity = 0
            if isinstance(quantity, bool) or not isinstance(quantity, int):
                raise _OrderInvalid(f"{where}.quantity", "quantity must be an integer.")
            line_key = _text(src.get("lineitemkey"), f"{where}.lineItemKey")
            kept = previous.get(line_key) if line_key else None
            item_id = kept["orderItemId"] if kept else self._take("item")
            created = kept["createDate"] if kept else format_item_timestamp(now)
            options = src.get("options") or []
            if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
                raise _OrderInvalid(f"{where}.options", "options must be an array of objects.")
            items.append(
                {
                    "orderItemId": item_id,
                    "lineItemKey": line_key,
                    "sku": _text(src.get("sku"), f"{where}.sku"),
                    "name": name,
                    "imageUrl": _text(src.get("imageurl"), f"{where}.imageUrl"),
                    "weight": _weight(src.get("weight"), f"{where}.weight"),
                    "quantity": quantity,
                    "unitPrice": _money(src.get("unitprice"), f"{where}.unitPrice"),
                    "taxAmount": _money(src.get("taxamount"), f"{where}.taxAmount"),
                    "shippingAmount": _money(src.get("shippingamount"), f"{where}.shippingAmount"),
                    "warehouseLocation": _text(
                        src.get("warehouselocation"), f"{where}.warehouseLocation"
                    ),
                    "options": [{"name": o.get("name"), "value": o.get("value")} for o in options],
                    "productId": src.get("productid"),
                    "fulfillmentSku": _text(src.get("fulfillmentsku"), f"{where}.fulfillmentSku"),
                    "adjustment": bool(_bool(src.get("adjustment"), f"{where}.adjustment")),
                    "upc": _text(src.get("upc"), f"{where}.upc"),
                    "createDate": created,
                    "modifyDate": format_item_timestamp(now),
                }
            )
        return items

    def _advanced_options(self, raw: Any, existing: _Order | None) -> dict[str, Any]:
        if raw is not None and not isinstance(raw, dict):
            raise _OrderInvalid("advancedOptions", "advancedOptions must be a JSON object.")
        src = {k.lower(): v for k, v in (raw or {}).items()}
        if existing is not None:
            # storeId is honoured only when the order is created (shipstation.md §3.3).
            store_id = existing.store_id
        else:
            requested = src.get("storeid")
            store_id = (
                self.manual_store_id
                if requested is None
                else _as_int(requested, "advancedOptions.storeId")
            )
            if store_id not in self._stores:
                raise _OrderInvalid("advancedOptions.storeId", f"Invalid storeId {store_id}.")
        merged_ids = src.get("mergedids") or []
        return {
            "warehouseId": src.get("warehouseid") or self.warehouse_id,
            "nonMachinable": bool(src.get("nonmachinable")),
            "saturdayDelivery": bool(src.get("saturdaydelivery")),
            "containsAlcohol": bool(src.get("containsalcohol")),
            "mergedOrSplit": bool(src.get("mergedorsplit")),
            "mergedIds": merged_ids if isinstance(merged_ids, list) else [],
            "parentId": src.get("parentid"),
            "storeId": store_id,
            "customField1": _text(src.get("customfield1"), "advancedOptions.customField1"),
            "customField2": _text(src.get("customfield2"), "advancedOptions.customField2"),
            "customField3": _text(src.get("customfield3"), "advancedOptions.customField3"),
            "source": _text(src.get("source"), "advancedOptions.source"),
            "billToParty": src.get("billtoparty"),
            "billToAccount": src.get("billtoaccount"),
            "billToPostalCode": src.get("billtopostalcode"),
            "billToCountryCode": src.get("billtocountrycode"),
            "billToMyOtherAccount": src.get("billtomyotheraccount"),
        }

    def _international(self, raw: Any) -> dict[str, Any]:
        if raw is not None and not isinstance(raw, dict):
            raise _OrderInvalid("internationalOptions", "must be a JSON object.")
        src = {k.lower(): v for k, v in (raw or {}).items()}
        customs = src.get("customsitems")
        rendered: list[dict[str, Any]] | None = None
        if isinstance(customs, list):
            rendered = []
            for entry in customs:
                item = {k.lower(): v for k, v in (entry or {}).items()}
                rendered.append(
                    {
                        "customsItemId": item.get("customsitemid") or self._take("customs"),
                        "description": item.get("description"),
                        "quantity": item.get("quantity"),
                        "value": _money(item.get("value"), "customsItems.value"),
                        "harmonizedTariffCode": item.get("harmonizedtariffcode"),
                        "countryOfOrigin": item.get("countryoforigin"),
                    }
                )
        return {
            "contents": src.get("contents"),
            "customsItems": rendered,
            "nonDelivery": src.get("nondelivery"),
        }

    def _customer_id(self, identity: str | None) -> int | None:
        if not identity:
            return None
        folded = identity.lower()
        if folded not in self._customers:
            self._customers[folded] = self._take("customer")
        return self._customers[folded]

    def _hold_until(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        order = self._find_order(body.get("orderid"))
        hold_until = self._request_date(body, "holdUntilDate")
        if hold_until is None:
            raise _invalid("request.holdUntilDate", "The holdUntilDate field is required.")
        if order.status in LOCKED_STATUSES:
            raise _bad_request(f"Order {order.order_id} is {order.status} and cannot be held.")
        self._change_status(order, "on_hold")
        order.hold_until = hold_until
        order.update(holdUntilDate=format_date(hold_until))
        self._held.add(order.order_id)
        self._release_holds()
        return {"success": True, "message": "Order held successfully."}

    def _restore_from_hold(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        order = self._find_order(body.get("orderid"))
        if order.status != "on_hold":
            raise _bad_request(f"Order {order.order_id} is not on hold.")
        self._change_status(order, "awaiting_shipment")
        return {"success": True, "message": "The requested order has been restored"}

    def _delete_order(self, req: _Request) -> dict[str, Any]:
        order = self._find_order(req.params["id"])
        order.active = False
        self._held.discard(order.order_id)
        # A deleted order frees its key: a later upsert with that key creates a new order.
        if self._orders_by_key.get(order.order_key) == order.order_id:
            del self._orders_by_key[order.order_key]
        return {"success": True, "message": "The requested order has been deleted."}

    def _tag_request(self, req: _Request) -> tuple[_Order, int]:
        body = self._body_object(req, "request")
        order = self._find_order(body.get("orderid"))
        tag_id = body.get("tagid")
        if not any(t["tagId"] == tag_id for t in self._tags):
            raise _bad_request(f"Tag not found: {tag_id}")
        assert isinstance(tag_id, int)
        return order, tag_id

    def _add_tag(self, req: _Request) -> dict[str, Any]:
        order, tag_id = self._tag_request(req)
        if tag_id not in order.tag_ids:
            order.tag_ids.append(tag_id)
        return {"success": True, "message": "Tag added successfully."}

    def _remove_tag(self, req: _Request) -> dict[str, Any]:
        order, tag_id = self._tag_request(req)
        if tag_id in order.tag_ids:
            order.tag_ids.remove(tag_id)
        return {"success": True, "message": "Tag removed successfully."}
