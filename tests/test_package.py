"""Package-level promises: typed, lazy clients, pure mapping, one error hierarchy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import backmarket_shipstation
from backmarket_shipstation import errors


def test_py_typed_is_shipped() -> None:
    assert (Path(backmarket_shipstation.__file__).parent / "py.typed").is_file()


def test_importing_models_and_mapping_does_not_load_the_http_stack() -> None:
    code = (
        "import sys, backmarket_shipstation.mapping, backmarket_shipstation.backmarket, "
        "backmarket_shipstation.shipstation; "
        "print(sorted(m for m in ('httpx', 'backmarket_shipstation._http', "
        "'backmarket_shipstation.backmarket.client', 'backmarket_shipstation.shipstation.client')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_clients_are_reachable_from_their_packages() -> None:
    from backmarket_shipstation.backmarket import AsyncBackMarketClient, BackMarketClient
    from backmarket_shipstation.shipstation import AsyncShipStationClient, ShipStationClient

    assert {c.__name__ for c in (BackMarketClient, AsyncBackMarketClient)} == {
        "BackMarketClient",
        "AsyncBackMarketClient",
    }
    assert ShipStationClient.__module__ == AsyncShipStationClient.__module__


def test_every_public_error_derives_from_the_base() -> None:
    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, errors.BackMarketShipStationError), name


def test_main_entry_points_are_importable_from_the_top_level() -> None:
    from backmarket_shipstation import (
        BackMarketClient,
        Region,
        RetryPolicy,
        ShipStationClient,
    )

    assert BackMarketClient.__name__ == "BackMarketClient"
    assert ShipStationClient.__name__ == "ShipStationClient"
    assert RetryPolicy().max_attempts >= 1
    assert Region("eu") is Region.EU


def test_importing_the_package_alone_loads_no_http_stack() -> None:
    code = "import sys, backmarket_shipstation; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
