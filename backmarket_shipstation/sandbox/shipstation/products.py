"""The ShipStation simulator's product records (shipstation.md A.2).

``GET /products`` (filters, sorting, pages of up to 500), ``GET /products/{id}`` and
``PUT /products/{id}``, which replaces the whole record as V1 documents: a writable field the
body leaves out is wiped (A.6 #13). V1 has no create endpoint: products appear as orders bring
new SKUs (``products_from_orders``, INFERRED from A.2), or through :meth:`add_product`, the
seller typing one in the web app.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from backmarket_shipstation.sandbox._ss_dates import format_timestamp, now_pacific, parse_timestamp

from ._core import SimulatorCore
from ._records import _bad_request, _invalid, _Order, _Reply, _Request

# Every field of the product model (A.2); all but the read-only three are replaced by a PUT.
_WRITABLE = (
    "aliases", "sku", "name", "price", "defaultCost", "length", "width", "height", "weightOz",
    "internalNotes", "fulfillmentSku", "active", "productCategory", "productType",
    "warehouseLocation", "defaultCarrierCode", "defaultServiceCode", "defaultPackageCode",
    "defaultIntlCarrierCode", "defaultIntlServiceCode", "defaultIntlPackageCode",
    "defaultConfirmation", "defaultIntlConfirmation", "customsDescription", "customsValue",
    "customsTariffNo", "customsCountryCode", "noCustoms", "tags", "upc", "thumbnailUrl",
)  # fmt: skip
_READ_ONLY = ("productId", "createDate", "modifyDate")
_SORTS = {"sku": "sku", "modifydate": "modifyDate", "createdate": "createDate"}
_OUNCES_PER_UNIT = {
    "ounces": Decimal(1),
    "pounds": Decimal(16),
    "grams": Decimal(1) / Decimal("28.349523125"),
}


class ProductsResource(SimulatorCore):
    """Product records: list, get, whole-record update; created from orders or by hand."""

    _products: dict[int, dict[str, Any]]
    _product_ids_by_sku: dict[str, int]
    products_from_orders: bool

    # -- helpers for tests and the sandbox (not rate-limited) ---------------------------

    def add_product(
        self,
        sku: str,
        *,
        name: str | None = None,
        weight_oz: Decimal | float | str | None = None,
        warehouse_location: str | None = None,
        active: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        """Add (or replace the fields of) the product record of ``sku``, as a seller does in
        the web app; bumps ``modifyDate``. ``fields`` are other wire fields (``price``...)."""
        with self._lock:
            product = self._product_for(sku, name or sku, now_pacific(self.clock))
            if weight_oz is not None:
                product["weightOz"] = Decimal(str(weight_oz))
            if warehouse_location is not None:
                product["warehouseLocation"] = warehouse_location
            product["active"] = active
            product.update(fields)
            product["modifyDate"] = format_timestamp(now_pacific(self.clock))
            return dict(product)

    def products(self) -> list[dict[str, Any]]:
        """Every product record, inactive ones included, ascending ``productId``."""
        with self._lock:
            return [dict(p) for p in self._products.values()]

    # -- endpoints ----------------------------------------------------------------------

    def _list_products(self, req: _Request) -> dict[str, Any]:
        page, page_size = self._paging(req)
        sort_by, descending = self._sorting(req, _SORTS)
        show_inactive = bool(self._query_bool(req, "showInactive"))
        # "match the specified SKU / name" [A.2]: read here as an exact SKU in any case and
        # a name containing the text (INFERRED; docs/sandbox-shipstation.md).
        sku = (req.query.get("sku") or "").casefold()
        name = (req.query.get("name") or "").casefold()
        category = self._query_int(req, "productCategoryId")
        product_type = self._query_int(req, "productTypeId")
        tag_id = self._query_int(req, "tagId")
        start = self._query_datetime(req, "startDate")
        end = self._query_datetime(req, "endDate")
        rows = []
        for product in self._products.values():
            if not (show_inactive or product["active"]):
                continue
            if sku and str(product["sku"]).casefold() != sku:
                continue
            if name and name not in str(product["name"] or "").casefold():
                continue
            if (
                category is not None
                and (product["productCategory"] or {}).get("categoryId") != category
            ):
                continue
            if (
                product_type is not None
                and (product["productType"] or {}).get("productTypeId") != product_type
            ):
                continue
            if tag_id is not None and not any(
                t.get("tagId") == tag_id for t in product["tags"] or ()
            ):
                continue
            created = self._stamp(product["createDate"])
            if (start is not None and created < start) or (end is not None and created > end):
                continue
            rows.append(product)
        if sort_by is not None:
            rows.sort(
                key=lambda p: str(p[sort_by]).casefold() if sort_by == "sku" else p[sort_by],
                reverse=descending,
            )
        return self._page(rows, "products", page, page_size, dict)

    def _get_product(self, req: _Request) -> dict[str, Any]:
        return dict(self._existing_product(int(req.params["id"])))

    def _put_product(self, req: _Request) -> dict[str, Any]:
        product = self._existing_product(int(req.params["id"]))
        body = req.json("product")
        if not isinstance(body, dict):
            raise _invalid("product", "The request body must be a JSON object.")
        if body.get("productId") not in (None, product["productId"]):
            raise _bad_request("The productId in the body does not match the URL.")
        for key in ("sku", "name"):
            if not isinstance(body.get(key), str) or not body[key].strip():
                raise _invalid(f"product.{key}", f"The {key} field is required.")
        clash = self._product_ids_by_sku.get(body["sku"].casefold())
        if clash is not None and clash != product["productId"]:
            raise _bad_request(f"A product with SKU {body['sku']} already exists.")
        # No partial updates: every writable field takes the body's value, absent means null.
        self._product_ids_by_sku.pop(str(product["sku"]).casefold(), None)
        for key in _WRITABLE:
            product[key] = body.get(key)
        if product["active"] is None:
            product["active"] = True
        product["modifyDate"] = format_timestamp(now_pacific(self.clock))
        self._product_ids_by_sku[body["sku"].casefold()] = product["productId"]
        return {"success": True, "message": "The requested product has been updated"}

    # -- internals ----------------------------------------------------------------------

    def _existing_product(self, product_id: int) -> dict[str, Any]:
        product = self._products.get(product_id)
        if product is None:
            raise _Reply(404, {"Message": f"Product not found: {product_id}"})
        return product

    def _stamp(self, text: str) -> datetime:
        return parse_timestamp(text, self.date_offsets)

    def _product_for(self, sku: str, name: str, now: datetime) -> dict[str, Any]:
        found = self._product_ids_by_sku.get(sku.casefold())
        if found is not None:
            return self._products[found]
        product_id = self._take("product")
        stamp = format_timestamp(now)
        product: dict[str, Any] = dict.fromkeys((*_READ_ONLY, *_WRITABLE))
        product.update(
            productId=product_id, sku=sku, name=name, createDate=stamp, modifyDate=stamp,
            active=True,
        )  # fmt: skip
        self._products[product_id] = product
        self._product_ids_by_sku[sku.casefold()] = product_id
        return product

    def _products_from_order(self, order: _Order) -> None:
        """The product records a new order's SKUs create: name, unit weight in ounces and
        location from the first item that brings the SKU; later orders change nothing."""
        if not self.products_from_orders:
            return
        now = now_pacific(self.clock)
        for item in order.data.get("items") or ():
            sku = item.get("sku")
            if not sku or item.get("adjustment") or sku.casefold() in self._product_ids_by_sku:
                continue
            product = self._product_for(sku, item.get("name") or sku, now)
            weight = item.get("weight") or {}
            factor = _OUNCES_PER_UNIT.get(str(weight.get("units")))
            if factor is not None and weight.get("value"):
                ounces = Decimal(str(weight["value"])) * factor
                product["weightOz"] = ounces.quantize(Decimal("0.01"))
            product["warehouseLocation"] = item.get("warehouseLocation")
