"""The sync on a schedule: what cron or a systemd timer runs every ten minutes.

    .venv/bin/python examples/scheduled_sync.py          # sandbox, or a DRY RUN on yours
    .venv/bin/python examples/scheduled_sync.py --write  # your accounts: the real sync (writes)

Each run resumes from the cursors in the SQLite state file, so a run that was missed, killed
or failed is caught up by the next one, and nothing is sent twice. The exit code is the
report's: 0 when every order went through, 1 when some failed (they are listed, and retried
by the next run), 3 when an API or network outage stopped a loop (nothing lost; the next run
covers the same window). The ``backmarket-shipstation sync`` command does the same; this is the code
to embed in your own job runner (docs/guides/scheduling.md has the cron line and the systemd
unit).

On the sandbox it plays three scheduled runs in virtual time, with a packer between them who
forgets some IMEIs and then types them, and shows ``backmarket-shipstation status`` of the state
file. On your accounts (BACKMARKET_TOKEN etc. set) it is a dry run unless ``--write`` is given:
with ``--write`` it imports and accepts orders and sends shipments, as the command does. Both
use the state file of the configuration (``backmarket-shipstation.sqlite3`` in the working
directory unless BACKMARKET_SHIPSTATION_STATE says otherwise), creating it if needed.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

from connect import describe, open_clients, real_accounts_configured

from backmarket_shipstation import cli
from backmarket_shipstation.sync import (
    SQLiteStore,
    SyncOptions,
    load_config,
    pack_and_ship,
    run_sync,
)
from backmarket_shipstation.sync.sandbox_run import type_missing_identifiers


def scheduled_run(*, write: bool) -> int:
    """One scheduled run on your accounts: what a cron job calls."""
    config = load_config()  # environment variables; or load_config("sync.toml")
    report = run_sync(config, options=SyncOptions(dry_run=not write))
    print(report.to_text())
    return report.exit_code


def sandbox_schedule() -> int:
    with open_clients(orders=20, seed=4) as connection, tempfile.TemporaryDirectory() as tmp:
        print(f"scheduled runs {describe(connection)}\n")
        assert connection.sandbox is not None
        state = str(Path(tmp) / "backmarket-shipstation.sqlite3")
        code = 0
        with SQLiteStore(state) as store:
            for run, packer in enumerate(
                ("buys labels, forgetting some IMEIs", "types the missing IMEIs", None), 1
            ):
                report = run_sync(
                    connection.config, store=store, clock=connection.clock,
                    transports=connection.transports,
                )  # fmt: skip
                code = report.exit_code
                print(f"{connection.clock.now():%H:%M} run {run} (exit {code})")
                print("  " + report.to_text().replace("\n", "\n  "))
                if packer == "buys labels, forgetting some IMEIs":
                    pack_and_ship(connection.sandbox, forget_every=4)
                elif packer == "types the missing IMEIs":
                    type_missing_identifiers(connection.sandbox)
                if packer:
                    print(f"  ... the packer {packer}")
                connection.clock.sleep(10 * 60)  # cron: */10 * * * *
        print("\n$ backmarket-shipstation status --state backmarket-shipstation.sqlite3")
        cli.main(["status", "--state", state])
        return code


def main() -> int:
    # A scheduled job's log: warnings (an order that failed, a retry) on stderr.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if real_accounts_configured():
        write = "--write" in sys.argv[1:]
        print("on YOUR accounts: " + ("writing" if write else "DRY RUN (add --write to sync)"))
        return scheduled_run(write=write)
    return sandbox_schedule()


if __name__ == "__main__":
    raise SystemExit(main())
