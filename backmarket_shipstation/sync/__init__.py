"""The two-way sync engine: Back Market orders into ShipStation, shipments back, exactly once.

- :class:`SyncEngine` syncs one account; :func:`run_sync` every account of a configuration.
- :func:`load_config` reads arguments, a TOML file and environment variables.
- :class:`ShipStationCatalog` and :func:`load_catalog` / :class:`FileCatalog`: the catalog from
  ShipStation's product records or from a file.
- :func:`sync_stock` pushes available quantities to the Back Market listings (a
  :class:`StockStore` remembers what it wrote).
- :class:`SQLiteStore` keeps cursors, order digests, write records, failures and the
  accounts' :class:`Lease` s (one run per account at a time);
  :class:`PostgresStore` keeps them in PostgreSQL for several hosts (extra ``postgres``), and
  :func:`open_store` opens the one a state setting names.
- :func:`round_trip` runs the whole product against the built-in sandbox.

See docs/sync.md.
"""

import logging
from typing import TYPE_CHECKING, Any

from .catalog import CatalogFileError, CatalogSource, FileCatalog, ShipStationCatalog, load_catalog
from .config import AccountConfig, SyncConfig, load_config
from .engine import Progress, SyncEngine, SyncOptions
from .postgres_store import PostgresStore
from .report import AccountError, AccountReport, Failure, ReportWarning, RunReport
from .runner import (
    DEFAULT_PARALLEL,
    Transports,
    engines,
    key_pair_shares,
    run_engines,
    run_sync,
)
from .shared import KeyPairShare
from .state import copy_state, open_store
from .stock import StockReport, StockSource, file_stock_source, sync_stock
from .store import (
    FailureRecord,
    Lease,
    OrderRecord,
    PushedStock,
    SQLiteStore,
    StockStore,
    SyncStore,
    WriteRecord,
)

# A library's records are for the application to show: without this handler, a script that
# never configured logging gets every warning (one per failed order) on stderr through
# logging's last-resort handler. The CLI and applications add their own handlers.
logging.getLogger("backmarket_shipstation").addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from .sandbox_run import SandboxRoundTrip, pack_and_ship, round_trip, sandbox_config

# The sandbox (both simulators, seeded data, the server) costs about half of this package's
# import time; a production sync never needs it, so its names load on first use.
_SANDBOX_NAMES = frozenset({"SandboxRoundTrip", "pack_and_ship", "round_trip", "sandbox_config"})

__all__ = [
    "DEFAULT_PARALLEL",
    "AccountConfig",
    "AccountError",
    "AccountReport",
    "CatalogFileError",
    "CatalogSource",
    "Failure",
    "ReportWarning",
    "FileCatalog",
    "FailureRecord",
    "KeyPairShare",
    "Lease",
    "OrderRecord",
    "PostgresStore",
    "Progress",
    "PushedStock",
    "RunReport",
    "SQLiteStore",
    "SandboxRoundTrip",
    "ShipStationCatalog",
    "StockReport",
    "StockSource",
    "StockStore",
    "SyncConfig",
    "SyncEngine",
    "SyncOptions",
    "SyncStore",
    "Transports",
    "WriteRecord",
    "copy_state",
    "engines",
    "file_stock_source",
    "key_pair_shares",
    "load_catalog",
    "load_config",
    "open_store",
    "pack_and_ship",
    "round_trip",
    "run_engines",
    "run_sync",
    "sandbox_config",
    "sync_stock",
]


def __getattr__(name: str) -> Any:
    if name in _SANDBOX_NAMES:
        from . import sandbox_run

        return getattr(sandbox_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
