"""The ShipStation store an account writes to, checked once per run before anything is written.

A store id that does not exist lets a run accept orders on Back Market (a dispatch deadline
starts) and then fail every create, so no packer ever sees them; an unset one sends the orders
to the account's first manual store (``storeId`` "defaults to the account's first manual store"
and "can only be set at creation", shipstation.md §2.5) and makes the notify poll read the
shipments of every store. Both are refused up front, as configuration errors naming the id and
the stores this key pair can see.

One ``GET /stores?showInactive=true`` per run (shipstation.md §3.8), whatever the number of
orders: the list answers "exists", "active" and "reachable with this key pair" at once, and,
unlike ``GET /stores/{id}`` for an unknown id (undocumented), its answer for a missing store is
not a guess. Accounts on one key pair make that call once per cycle for all of them.
"""

from __future__ import annotations

from ..errors import ConfigurationError
from ..shipstation.client import ShipStationClient
from ..shipstation.models import Store

__all__ = ["check_store"]

_LISTED = 10
"""At most this many stores are named in a message (an account may have dozens)."""


def check_store(
    ss: ShipStationClient,
    store_id: int | None,
    *,
    account: str,
    stores: list[Store] | None = None,
) -> Store:
    """The account's store, active and visible to this key pair; else a
    :class:`~backmarket_shipstation.errors.ConfigurationError` that names it.

    ``stores``: the key pair's stores, already listed this cycle (accounts sharing a key pair
    list them once, :mod:`.shared`); without it they are listed here.

    API errors (an outage, refused credentials) propagate as they are: they are not a fault of
    the setting, and the caller classes them (exit code 3 or 2).
    """
    if stores is None:
        stores = ss.stores.list(show_inactive=True)
    if store_id is None:
        raise ConfigurationError(
            f"account {account}: shipstation_store_id is not set (SHIPSTATION_STORE_ID): orders"
            " would go to ShipStation's default store and every store's shipments would be"
            f" polled; set it to your Back Market store. {_known(stores)}"
        )
    store = next((s for s in stores if s.store_id == store_id), None)
    if store is None:
        raise ConfigurationError(
            f"account {account}: ShipStation store {store_id} (shipstation_store_id) does not"
            f" exist for this API key pair; nothing was accepted or written. {_known(stores)}"
        )
    if store.active is False:
        raise ConfigurationError(
            f"account {account}: ShipStation store {store_id} ({store.store_name!r}) is"
            " inactive; reactivate it in ShipStation or set shipstation_store_id to an active"
            " store; nothing was accepted or written."
        )
    return store


def _known(stores: list[Store]) -> str:
    if not stores:
        return "This key pair sees no store at all."
    shown = [
        f"{s.store_id} ({s.store_name or 'no name'}"
        f"{', ' + s.marketplace_name if s.marketplace_name else ''}"
        f"{', inactive' if s.active is False else ''})"
        for s in stores[:_LISTED]
    ]
    more = f" and {len(stores) - _LISTED} more" if len(stores) > _LISTED else ""
    return "Stores of this key pair: " + ", ".join(shown) + more + "."
