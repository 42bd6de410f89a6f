"""The ShipStation simulator's Ship From Locations, formerly warehouses (shipstation.md A.3).

List, get, create (``originAddress`` required, ``returnAddress`` defaulting to it), a
whole-record ``PUT`` and a soft ``DELETE``. A deactivated location leaves the list; ``GET``
by id still answers it (INFERRED: the docs say only "sets Inactive").
"""

from __future__ import annotations

from typing import Any

from backmarket_shipstation.sandbox._ss_dates import format_timestamp, now_pacific

from ._core import SimulatorCore
from ._records import _invalid, _Reply, _Request

_ADDRESS_FIELDS = (
    "name", "company", "street1", "street2", "street3", "city", "state", "postalCode",
    "country", "phone", "residential",
)  # fmt: skip


def _address(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"warehouse.{key}", f"The {key} field is required.")
    for required in ("street1", "city", "country"):
        if not isinstance(value.get(required), str) or not value[required].strip():
            raise _invalid(f"warehouse.{key}.{required}", f"The {required} field is required.")
    return {name: value.get(name) for name in _ADDRESS_FIELDS}


class WarehousesResource(SimulatorCore):
    """Ship From Locations: list, get, create, whole-record update, soft delete."""

    _warehouses: dict[int, dict[str, Any]]
    _inactive_warehouses: set[int]

    def _seed_warehouse(self) -> None:
        """The location every account has: the default, ``warehouse_id``."""
        self._warehouses[self.warehouse_id] = {
            "warehouseId": self.warehouse_id,
            "warehouseName": "Main warehouse",
            "originAddress": {
                "name": "Sandbox Refurb",
                "company": "Sandbox Refurb SAS",
                "street1": "10 rue du Depot",
                "street2": "",
                "street3": "",
                "city": "Lyon",
                "state": "",
                "postalCode": "69007",
                "country": "FR",
                "phone": "+33400000000",
                "residential": False,
            },
            "returnAddress": None,
            "createDate": format_timestamp(now_pacific(self.clock)),
            "isDefault": True,
        }
        self._warehouses[self.warehouse_id]["returnAddress"] = dict(
            self._warehouses[self.warehouse_id]["originAddress"]
        )

    def _list_warehouses(self, req: _Request) -> list[dict[str, Any]]:
        return [
            self._render_warehouse(w)
            for w in self._warehouses.values()
            if w["warehouseId"] not in self._inactive_warehouses
        ]

    def _get_warehouse(self, req: _Request) -> dict[str, Any]:
        return self._render_warehouse(self._existing_warehouse(int(req.params["id"])))

    def _create_warehouse(self, req: _Request) -> dict[str, Any]:
        body = self._warehouse_body(req)
        warehouse_id = self._take("warehouse")
        record = {
            "warehouseId": warehouse_id,
            **body,
            "createDate": format_timestamp(now_pacific(self.clock)),
        }
        self._warehouses[warehouse_id] = record
        self._make_default_if_asked(record)
        return self._render_warehouse(record)

    def _put_warehouse(self, req: _Request) -> dict[str, Any]:
        record = self._existing_warehouse(int(req.params["id"]))
        # No partial updates (A.3): the body replaces the record; a missing returnAddress
        # becomes the origin, as documented.
        record.update(self._warehouse_body(req))
        self._make_default_if_asked(record)
        return self._render_warehouse(record)

    def _delete_warehouse(self, req: _Request) -> dict[str, Any]:
        record = self._existing_warehouse(int(req.params["id"]))
        self._inactive_warehouses.add(record["warehouseId"])
        return {"success": True, "message": "The requested warehouse has been deactivated."}

    def _warehouse_body(self, req: _Request) -> dict[str, Any]:
        body = req.json("warehouse")
        if not isinstance(body, dict):
            raise _invalid("warehouse", "The request body must be a JSON object.")
        origin = _address(body.get("originAddress"), "originAddress")
        returns = body.get("returnAddress")
        name = body.get("warehouseName")
        if name is not None and not isinstance(name, str):
            raise _invalid("warehouse.warehouseName", "warehouseName must be a string.")
        return {
            "warehouseName": name,
            "originAddress": origin,
            "returnAddress": dict(origin)
            if returns is None
            else _address(returns, "returnAddress"),
            "isDefault": bool(body.get("isDefault")),
        }

    def _make_default_if_asked(self, record: dict[str, Any]) -> None:
        if record["isDefault"]:
            for other in self._warehouses.values():
                if other is not record:
                    other["isDefault"] = False

    def _existing_warehouse(self, warehouse_id: int) -> dict[str, Any]:
        record = self._warehouses.get(warehouse_id)
        if record is None:
            raise _Reply(404, {"Message": f"Warehouse not found: {warehouse_id}"})
        return record

    @staticmethod
    def _render_warehouse(record: dict[str, Any]) -> dict[str, Any]:
        return {
            key: dict(value) if isinstance(value, dict) else value for key, value in record.items()
        }
