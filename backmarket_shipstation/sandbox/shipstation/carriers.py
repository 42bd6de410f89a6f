"""The ShipStation simulator's carriers, their services and packages."""

from __future__ import annotations

from typing import Any

from backmarket_shipstation.sandbox._ss_catalog import (
    CARRIERS,
    PACKAGES,
    SERVICES,
)

from ._core import (
    SimulatorCore,
)
from ._records import (
    _bad_request,
    _invalid,
    _Request,
)


class CarriersResource(SimulatorCore):
    """Carriers, their services and packages."""

    def _carrier_code(self, req: _Request) -> str:
        code = req.query.get("carriercode")
        if not code:
            raise _invalid("carrierCode", "The carrierCode field is required.")
        if code not in SERVICES:
            raise _bad_request(f"Invalid carrierCode: {code}")
        return code

    def _list_carriers(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(c) for c in CARRIERS]

    def _get_carrier(self, req: _Request) -> dict[str, Any]:
        code = self._carrier_code(req)
        return dict(next(c for c in CARRIERS if c["code"] == code))

    def _list_services(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(s) for s in SERVICES[self._carrier_code(req)]]

    def _list_packages(self, req: _Request) -> list[dict[str, Any]]:
        return [dict(p) for p in PACKAGES[self._carrier_code(req)]]
