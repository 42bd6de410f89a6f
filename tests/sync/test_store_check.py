"""The ShipStation store is checked once per run, before anything is accepted on Back Market.

Issue 13: a store id that did not exist made a run accept 22 orders on Back Market (their
dispatch deadlines started) and then fail all 35 creates, so no packer saw them; an unset one
imported into ShipStation's default store and polled the shipments of every store.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from .conftest import World


def _with_store(world: World, store_id: int | None) -> None:
    world.account = attrs.evolve(world.account, shipstation_store_id=store_id)
    world.config = attrs.evolve(world.config, accounts=(world.account,))


def _configuration_error(world: World) -> str:
    """The run's one account stopped as a whole on a setting to fix (exit code 2)."""
    report = world.sync()
    (account,) = report.accounts
    assert account.error is not None, account.to_text()
    assert account.error.error == "ConfigurationError"
    assert account.error.message.startswith("configuration error: ")
    assert report.exit_code == 2
    return account.error.message


def _untouched(world: World) -> None:
    assert world.wire.writes() == [], "nothing accepted on Back Market, nothing created"
    assert [s for s in world.wire.requests if s.api == "backmarket"] == []
    states = {o["order_id"]: o["state"] for o in world.sandbox.backmarket.orders()}
    assert states == world.initial_states
    assert world.sandbox.shipstation.orders(include_deleted=True) == []


def test_an_unknown_store_id_is_a_configuration_error_before_any_accept(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=20, seed=41)
    assert world.ids_in_state(1), "the world has orders waiting to be accepted"
    _with_store(world, 987654)
    message = _configuration_error(world)
    assert "987654" in message
    assert "does not exist" in message
    # The message names the stores this key pair does see, so the fix is one copy away.
    assert str(world.sandbox.shipstation_store_id) in message
    _untouched(world)


def test_an_inactive_store_is_a_configuration_error(make_world: Callable[..., World]) -> None:
    world = make_world(orders=8, seed=42)
    closed = world.sandbox.shipstation.add_store(store_name="Old Back Market", active=False)
    _with_store(world, closed)
    message = _configuration_error(world)
    assert f"store {closed}" in message
    assert "inactive" in message
    _untouched(world)


def test_an_unset_store_id_never_imports_into_the_default_store(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=8, seed=43)
    _with_store(world, None)
    message = _configuration_error(world)
    assert "shipstation_store_id is not set" in message
    assert "SHIPSTATION_STORE_ID" in message
    assert str(world.sandbox.shipstation_store_id) in message
    _untouched(world)


def test_the_store_is_read_once_per_run_whatever_the_number_of_orders(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=40, seed=44)
    first = world.sync()
    assert first.exit_code == 0
    assert first.accounts[0].imported > 10
    world.pack()
    world.clock.advance(600)
    second = world.sync()
    assert second.accounts[0].notified > 10
    store_reads = [s for s in world.wire.requests if s.api == "shipstation" and "/stores" in s.path]
    assert [(s.method, s.path) for s in store_reads] == [("GET", "/stores")] * 2


def test_a_shipstation_outage_during_the_check_stops_the_run_before_any_write(
    make_world: Callable[..., World],
) -> None:
    world = make_world(orders=12, seed=45)
    world.sandbox.shipstation_faults.inject("server_error", 4, path_prefix="/stores")
    run = world.sync()
    (report,) = run.accounts
    assert report.stopped == ["import", "notify"]
    assert run.exit_code == 3, "an outage, not a bad store id"
    assert "could not check ShipStation store" in report.failures[0].reason
    _untouched(world)

    healed = world.sync()
    assert healed.exit_code == 0
    assert healed.accounts[0].imported > 0
