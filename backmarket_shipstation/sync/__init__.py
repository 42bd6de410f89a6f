"""The two-way sync engine: Back Market orders into ShipStation, shipments back, exactly once.

- :class:`SyncEngine` syncs one account; :func:`run_sync` every account of a configuration.
- :func:`load_config` reads arguments, a TOML file and environment variables.
- :class:`SQLiteStore` keeps cursors, order digests, write records and failures.
- :func:`round_trip` runs the whole product against the built-in sandbox.

See docs/sync.md.
"""

from .config import AccountConfig, SyncConfig, load_config
from .engine import Progress, SyncEngine, SyncOptions
from .report import AccountReport, Failure, RunReport
from .runner import Transports, engines, run_sync
from .sandbox_run import SandboxRoundTrip, pack_and_ship, round_trip, sandbox_config
from .store import FailureRecord, OrderRecord, SQLiteStore, SyncStore, WriteRecord

__all__ = [
    "AccountConfig",
    "AccountReport",
    "Failure",
    "FailureRecord",
    "OrderRecord",
    "Progress",
    "RunReport",
    "SQLiteStore",
    "SandboxRoundTrip",
    "SyncConfig",
    "SyncEngine",
    "SyncOptions",
    "SyncStore",
    "Transports",
    "WriteRecord",
    "engines",
    "load_config",
    "pack_and_ship",
    "round_trip",
    "run_sync",
    "sandbox_config",
]
