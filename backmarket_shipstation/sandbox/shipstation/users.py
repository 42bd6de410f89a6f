"""The ShipStation simulator's order users (shipstation.md A.4): assign and unassign.

``POST /orders/assignuser`` is all or nothing: if one ``orderId`` is unknown, no order is
assigned. The account has one user, :attr:`user_id` (a GUID), the one who buys the labels.
"""

from __future__ import annotations

from typing import Any

from ._core import SimulatorCore
from ._records import _bad_request, _invalid, _Reply, _Request


class UsersResource(SimulatorCore):
    """Order users: assign and unassign, all or nothing."""

    _assigned: dict[int, str]

    def _order_ids(self, body: dict[str, Any]) -> list[int]:
        ids = body.get("orderids")
        if not isinstance(ids, list) or not ids:
            raise _invalid("request.orderIds", "The orderIds field is required.")
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise _invalid("request.orderIds", "orderIds must be an array of integers.")
        unknown = [i for i in ids if i not in self._orders or not self._orders[i].active]
        if unknown:
            # Checked before anything changes: none of the orders is assigned.
            raise _Reply(404, {"Message": f"Order not found: {unknown[0]}"})
        return ids

    def _assign_user(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        user_id = body.get("userid")
        if not isinstance(user_id, str) or user_id.lower() != self.user_id.lower():
            raise _bad_request(f"User not found: {user_id}")
        for order_id in self._order_ids(body):
            self._assigned[order_id] = self.user_id
        return {"success": True, "message": "User assigned successfully."}

    def _unassign_user(self, req: _Request) -> dict[str, Any]:
        body = self._body_object(req, "request")
        for order_id in self._order_ids(body):
            self._assigned.pop(order_id, None)
        return {"success": True, "message": "User unassigned successfully."}
