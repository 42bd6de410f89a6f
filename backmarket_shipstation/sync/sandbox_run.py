"""The full round trip against the built-in sandbox, with no credentials.

What ``backmarket-shipstation sync --sandbox`` runs:

1. a sync imports the sandbox's Back Market orders into the simulated ShipStation and
   accepts them on Back Market;
2. a "packer" types each phone's IMEI (or serial number) into the order's Internal Notes, as
   a seller does in ShipStation, and buys a label for it (a few orders are left without
   their IMEI to show how a missing one is reported);
3. a second sync sends the shipments back to Back Market: tracking number, carrier, and the
   identifiers, checked before they are sent; the orders left without an IMEI are reported
   and nothing is sent for them;
4. the packer types the missing IMEIs, and a third sync sends those orders too.

Time is a :class:`~backmarket_shipstation.clock.VirtualClock`, so the rate limits of both APIs
are honoured without waiting for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ..backmarket.regions import Region
from ..clock import VirtualClock
from ..mapping.orders import BACKSHIP_NOTE
from ..sandbox import Sandbox
from .config import AccountConfig, SyncConfig
from .engine import Progress, SyncOptions
from .report import RunReport
from .runner import run_sync
from .state import open_store

if TYPE_CHECKING:
    from ..sandbox.backmarket import BackMarketSimulator
    from ..sandbox.shipstation import ShipStationSimulator

__all__ = [
    "Packed",
    "PackingWorld",
    "SandboxRoundTrip",
    "pack",
    "pack_and_ship",
    "round_trip",
    "sandbox_config",
    "type_missing_identifiers",
]

_CARRIERS = (("ups", "ups_ground"), ("fedex", "fedex_ground"), ("usps", "usps_priority_mail"))


@attrs.frozen(kw_only=True)
class SandboxRoundTrip:
    """The two runs of the round trip and what the packer did in between."""

    imported: RunReport
    notified: RunReport
    recovered: RunReport | None
    """The run after the packer typed the forgotten IMEIs (``None`` when none was forgotten)."""
    labels_bought: int
    left_without_identifiers: int
    marked_shipped: int = 0
    """BackShip orders the packer marked as shipped with Back Market's label (none bought)."""

    @property
    def exit_code(self) -> int:
        """The exit code of the last run: 0 once every order went through."""
        return (self.recovered or self.notified).exit_code


class PackingWorld(Protocol):
    """What the packer needs of a world: a :class:`Sandbox`, or one seller of an
    :class:`~backmarket_shipstation.sandbox.AgencySandbox` (its Back Market account, its
    ShipStation account and the store its orders are in)."""

    @property
    def backmarket(self) -> BackMarketSimulator: ...

    @property
    def shipstation(self) -> ShipStationSimulator: ...

    @property
    def shipstation_store_id(self) -> int: ...


def sandbox_config(sandbox: Sandbox, *, state_path: str = ":memory:") -> SyncConfig:
    """A configuration pointing one account at ``sandbox`` (credentials are the sandbox's)."""
    return SyncConfig(
        accounts=(
            AccountConfig(
                name="sandbox",
                backmarket_token=sandbox.backmarket_token,
                backmarket_region=Region.EU,
                backmarket_user_agent=sandbox.backmarket_user_agent,
                backmarket_base_url=sandbox.backmarket_base_url,
                shipstation_api_key=sandbox.shipstation_api_key,
                shipstation_api_secret=sandbox.shipstation_api_secret,
                shipstation_base_url=sandbox.shipstation_base_url,
                shipstation_store_id=sandbox.shipstation_store_id,
            ),
        ),
        state_path=state_path,
    )


@attrs.frozen(kw_only=True)
class Packed:
    """What the sandbox packer did: labels bought, BackShip orders marked as shipped (Back
    Market's label, none bought), and orders packed without their identifiers."""

    labels_bought: int
    marked_shipped: int
    left_without_identifiers: int

    @property
    def shipped(self) -> int:
        """Every order that left: with a ShipStation label or with Back Market's."""
        return self.labels_bought + self.marked_shipped


def pack_and_ship(sandbox: PackingWorld, *, forget_every: int = 0) -> tuple[int, int]:
    """Play the packer in the simulated ShipStation: type identifiers, ship every open order.

    Every open order of the Back Market store gets its devices' IMEIs or serial numbers in
    its Internal Notes (one ``SKU: IMEI`` line per device) and a label; a BackShip order,
    whose notes carry Back Market's label, is marked as shipped instead (no label bought).
    With ``forget_every=n``, every n-th order ships without its identifiers, as happens when
    a packer forgets. Returns ``(orders shipped, orders left without identifiers)``; see
    :func:`pack` for labels and BackShip orders apart.
    """
    packed = pack(sandbox, forget_every=forget_every)
    return packed.shipped, packed.left_without_identifiers


def pack(
    sandbox: PackingWorld,
    *,
    forget_every: int = 0,
    listed: Iterable[dict[str, Any]] | None = None,
) -> Packed:
    """:func:`pack_and_ship`, telling labels bought and BackShip orders marked shipped apart.

    ``listed``: the ShipStation orders to look through (default: every order of the
    simulator, listed now), for a caller that lists a simulator of many stores once for all.
    """
    simulator = sandbox.shipstation
    bought = marked = forgotten = 0
    open_orders = [
        order
        for order in (simulator.orders() if listed is None else listed)
        if order.get("orderStatus") == "awaiting_shipment"
        and (order.get("advancedOptions") or {}).get("storeId") == sandbox.shipstation_store_id
    ]
    for index, order in enumerate(open_orders, start=1):
        forget = forget_every > 0 and index % forget_every == 0
        if not forget:
            notes = _identifier_notes(sandbox, order)
            if notes:
                existing = order.get("internalNotes") or ""
                simulator.add_order({**order, "internalNotes": f"{existing}\n{notes}".strip()})
        else:
            forgotten += 1
        backship = _backship_tracking(order.get("internalNotes"))
        if backship is not None:
            # Back Market's label is in the notes: the packer sticks it on and marks the
            # order shipped in ShipStation, buying no label.
            simulator.mark_shipped(int(order["orderId"]), tracking_number=backship)
            marked += 1
            continue
        carrier, service = _CARRIERS[index % len(_CARRIERS)]
        # The packer weighs the parcel when the order carries no weight (no catalog given).
        weight = order.get("weight") or {"value": 320, "units": "grams"}
        simulator.buy_label(
            int(order["orderId"]), carrier_code=carrier, service_code=service, weight=weight
        )
        bought += 1
    return Packed(labels_bought=bought, marked_shipped=marked, left_without_identifiers=forgotten)


def _backship_tracking(notes: str | None) -> str | None:
    """The tracking number of the BackShip label the import wrote in the notes, if any."""
    for line in (notes or "").splitlines():
        if line.startswith(BACKSHIP_NOTE):
            words = line[len(BACKSHIP_NOTE) :].split()
            return words[-1] if len(words) >= 2 else None
    return None


def type_missing_identifiers(sandbox: PackingWorld) -> int:
    """The packer catches up: shipped orders of the Back Market store whose Internal Notes
    lack their devices' identifiers get them. Returns how many orders were fixed."""
    fixed = 0
    for order in sandbox.shipstation.orders():
        if (order.get("advancedOptions") or {}).get("storeId") != sandbox.shipstation_store_id:
            continue
        notes = order.get("internalNotes") or ""
        typed = _identifier_notes(sandbox, order)
        if typed and typed not in notes:
            sandbox.shipstation.set_internal_notes(
                int(order["orderId"]), f"{notes}\n{typed}".strip()
            )
            fixed += 1
    return fixed


def _identifier_notes(sandbox: PackingWorld, order: dict[str, Any]) -> str:
    lines = []
    for item in order.get("items") or ():
        key = str(item.get("lineItemKey") or "")
        if not key.isdigit():
            continue
        line_id = int(key)
        identifier = sandbox.backmarket.device_imeis.get(line_id)
        label = "IMEI"
        if identifier is None:
            identifier = sandbox.backmarket.device_serials.get(line_id)
            label = "S/N"
        if identifier is not None:
            lines.append(f"{item.get('sku')}: {label} {identifier}")
    return "\n".join(lines)


def round_trip(
    *,
    orders: int = 50,
    seed: int = 0,
    forget_every: int = 10,
    state_path: str | Path = ":memory:",
    start: datetime | None = None,
    dry_run: bool = False,
    recover: bool = True,
    progress: Progress | None = None,
    on_step: Callable[[str], None] | None = None,
) -> SandboxRoundTrip:
    """Import, pack and ship, notify: the whole product on the sandbox, in-process.

    ``forget_every=n`` leaves every n-th order without its IMEI when it is packed, to show how
    that is reported; with ``recover`` (the default) the packer then types the missing ones
    and a third run sends those orders too.
    """
    clock = VirtualClock(start or datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    sandbox = Sandbox(seed=seed, orders=orders, clock=clock)
    config = sandbox_config(sandbox, state_path=str(state_path))
    options = SyncOptions(dry_run=dry_run)
    say = on_step or (lambda _: None)

    def transports(_: AccountConfig) -> Any:
        return sandbox.backmarket_transport(), sandbox.shipstation_transport()

    with open_store(config.state_path) as store:
        say(f"sandbox: {orders} Back Market orders, seed {seed}")
        say("sync 1: import orders into ShipStation, accept them on Back Market")
        imported = run_sync(
            config, store=store, options=options, clock=clock, transports=transports,
            progress=progress,
        )  # fmt: skip
        clock.advance(timedelta(hours=3).total_seconds())
        say(
            "packing: IMEIs typed into Internal Notes, labels bought in ShipStation "
            "(BackShip orders: marked shipped with Back Market's label)"
        )
        packed = (
            Packed(labels_bought=0, marked_shipped=0, left_without_identifiers=0)
            if dry_run
            else pack(sandbox, forget_every=forget_every)
        )
        forgotten = packed.left_without_identifiers
        clock.advance(timedelta(hours=1).total_seconds())
        say("sync 2: send shipments, tracking numbers and IMEIs back to Back Market")
        notified = run_sync(
            config, store=store, options=options, clock=clock, transports=transports,
            progress=progress,
        )  # fmt: skip
        recovered = None
        if forgotten and recover and not dry_run:
            clock.advance(timedelta(hours=1).total_seconds())
            type_missing_identifiers(sandbox)
            say("the packer types the missing IMEIs; sync 3 sends the reported orders")
            recovered = run_sync(
                config, store=store, options=options, clock=clock, transports=transports,
                progress=progress,
            )  # fmt: skip
    return SandboxRoundTrip(
        imported=imported,
        notified=notified,
        recovered=recovered,
        labels_bought=packed.labels_bought,
        marked_shipped=packed.marked_shipped,
        left_without_identifiers=forgotten,
    )
