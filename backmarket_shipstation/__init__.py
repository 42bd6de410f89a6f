"""backmarket-shipstation: a typed SDK connecting Back Market seller accounts with ShipStation.

The main entry points, importable from here (loaded on first use, so that ``import
backmarket_shipstation`` stays fast)::

    from backmarket_shipstation import BackMarketClient, ShipStationClient, RetryPolicy

Subpackages: ``backmarket`` and ``shipstation`` (clients and models of each API), ``mapping``
(the pure conversion between them), ``sync`` (the two-way sync engine), ``sandbox`` (local
simulators of both APIs), ``errors``, ``clock``.
"""

import importlib

# Not typing.TYPE_CHECKING: importing typing (~10 ms) would be most of this module's cost.
# Type checkers treat any constant of this name as true.
TYPE_CHECKING = False

__version__ = "0.1.0.dev0"

if TYPE_CHECKING:
    from ._http import RetryPolicy
    from .backmarket.client import AsyncBackMarketClient, BackMarketClient
    from .backmarket.regions import Region
    from .shipstation.client import AsyncShipStationClient, ShipStationClient

_LAZY = {
    "AsyncBackMarketClient": ".backmarket.client",
    "AsyncShipStationClient": ".shipstation.client",
    "BackMarketClient": ".backmarket.client",
    "Region": ".backmarket.regions",
    "RetryPolicy": "._http",
    "ShipStationClient": ".shipstation.client",
}

__all__ = [
    "AsyncBackMarketClient",
    "AsyncShipStationClient",
    "BackMarketClient",
    "Region",
    "RetryPolicy",
    "ShipStationClient",
    "__version__",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
