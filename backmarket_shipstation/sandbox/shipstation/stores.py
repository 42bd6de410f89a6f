"""The ShipStation simulator's stores, marketplaces and store refreshes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backmarket_shipstation.sandbox._ss_dates import (
    format_timestamp,
    now_pacific,
    parse_timestamp,
)

from ._core import (
    SimulatorCore,
)
from ._records import (
    _bad_request,
    _invalid,
    _Reply,
    _Request,
)


class StoresResource(SimulatorCore):
    """Stores, marketplaces and store refreshes."""

    def _list_stores(self, req: _Request) -> list[dict[str, Any]]:
        show_inactive = bool(self._query_bool(req, "showInactive"))
        marketplace_id = self._query_int(req, "marketplaceId")
        return [
            dict(s)
            for s in self._stores.values()
            if (show_inactive or s["active"])
            and (marketplace_id is None or s["marketplaceId"] == marketplace_id)
        ]

    def _get_store(self, req: _Request) -> dict[str, Any]:
        store_id = int(req.params["id"])
        store = self._stores.get(store_id)
        if store is None:
            raise _Reply(404, {"Message": f"Store not found: {store_id}"})
        data = dict(store)
        mappings = self._status_mappings.get(store_id)
        data["statusMappings"] = None if mappings is None else [dict(m) for m in mappings]
        return data

    def _list_marketplaces(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(m) for m in self._marketplaces]

    def _refresh_store(self, req: _Request) -> dict[str, Any]:
        store_id = self._query_int(req, "storeId")
        raw_date = req.query.get("refreshdate")
        refresh_date: datetime | None = None
        if raw_date:
            try:
                refresh_date = parse_timestamp(raw_date, self.date_offsets)
            except ValueError:
                raise _invalid("refreshDate", f"The value '{raw_date}' is not valid.") from None
        if store_id is not None and store_id not in self._stores:
            raise _bad_request(f"Store not found: {store_id}")
        now = format_timestamp(now_pacific(self.clock))
        targets = (
            [store_id]
            if store_id is not None
            else [
                s for s, store in self._stores.items() if store["active"] and store["marketplaceId"]
            ]
        )
        for target in targets:
            store = self._stores[target]
            store["lastRefreshAttempt"] = now
            if refresh_date is not None:
                store["refreshDate"] = format_timestamp(refresh_date)
        if store_id is None:
            return {"success": True, "message": "A store refresh has been initiated for all stores"}
        return {
            "success": True,
            "message": f"A store refresh has been initiated for Store ID {store_id}",
        }

    def _refresh_status(self, req: _Request) -> dict[str, Any]:
        store_id = self._query_int(req, "storeId")
        store = self._stores.get(store_id) if store_id is not None else None
        if store is None:
            raise _bad_request(f"Store not found: {store_id}")
        return {
            "storeId": store_id,
            "refreshStatusId": 2,
            "refreshStatus": "Idle",
            "lastRefreshAttempt": store["lastRefreshAttempt"],
            "refreshDate": store["refreshDate"],
        }
