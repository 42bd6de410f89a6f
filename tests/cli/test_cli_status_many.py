"""``status`` for an agency: each account's last run, lease, failures to fix, pending writes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from backmarket_shipstation import cli
from backmarket_shipstation.clock import VirtualClock
from backmarket_shipstation.sandbox import AgencySandbox
from backmarket_shipstation.sync import RunReport, SQLiteStore, SyncOptions, run_sync
from backmarket_shipstation.sync.store import WriteRecord

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def _agency_day(tmp_path: Path, accounts: int = 5) -> tuple[AgencySandbox, Path, RunReport]:
    """Import, pack (every 4th order of every store without its IMEI), notify."""
    clock = VirtualClock(START)
    agency = AgencySandbox(accounts=accounts, orders_per_account=24, seed=8, clock=clock)
    state = tmp_path / "agency.sqlite3"
    config = agency.config(str(state))
    with SQLiteStore(state) as store:
        run_sync(config, store=store, transports=agency.transports, clock=clock)
        clock.advance(3 * 3600)
        agency.pack(forget_every=4)
        clock.advance(3600)
        second = run_sync(config, store=store, transports=agency.transports, clock=clock)
    return agency, state, second


def test_the_last_run_of_each_account_is_in_the_state_as_its_report_said(tmp_path: Path) -> None:
    _, state, report = _agency_day(tmp_path, accounts=3)
    with SQLiteStore(state) as store:
        for account in report.accounts:
            run = store.last_run(account.account)
            assert run is not None
            assert (run.started_at, run.finished_at) == (account.started_at, account.finished_at)
            assert run.notified == account.notified > 0
            assert run.failed == account.failed > 0
            assert run.outcome == "failed"
            assert run.imported == 0  # the second run's counts, not the first's
            failures = store.failures(account.account)
            assert failures
            assert all(f.error == "MissingIdentifierError" for f in failures)


def test_a_run_skipped_by_the_lease_or_dry_leaves_the_last_run_as_it_was(tmp_path: Path) -> None:
    clock = VirtualClock(START)
    agency = AgencySandbox(accounts=2, orders_per_account=10, seed=9, clock=clock)
    state = tmp_path / "s.sqlite3"
    config = agency.config(str(state))
    with SQLiteStore(state) as store:
        first = run_sync(config, store=store, transports=agency.transports, clock=clock)
        before = store.last_run("seller-01")
        assert before is not None
        assert before.imported == first.accounts[0].imported > 0
        # Leases are timed in real time (the lease clock), whatever the sync's clock.
        now = datetime.now(timezone.utc)
        store.acquire_lease(
            "seller-01", "other", host="web9", pid=9, ttl=timedelta(hours=1), now=now
        )
        clock.advance(600)
        second = run_sync(config, store=store, transports=agency.transports, clock=clock)
        assert second.accounts[0].skipped_held
        assert store.last_run("seller-01") == before  # not the skipped run's zeros
        ran_again = store.last_run("seller-02")
        assert ran_again is not None
        assert ran_again.started_at == second.accounts[1].started_at
        clock.advance(600)
        run_sync(
            config,
            store=store,
            transports=agency.transports,
            clock=clock,
            options=SyncOptions(dry_run=True),
        )
        assert store.last_run("seller-01") == before


def test_status_of_many_accounts_is_a_summary_and_a_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, state, report = _agency_day(tmp_path)
    with SQLiteStore(state) as store:
        # A run on another host holds seller-02; seller-04 has an import failure that is
        # not an identifier and a write left pending by a run that died.
        store.acquire_lease(
            "seller-02",
            "web1:42:x",
            host="web1",
            pid=42,
            ttl=timedelta(hours=1),
            now=datetime.now(timezone.utc),
        )
        store.record_failure(
            "seller-04", "import", "41000001", "no ship-to address", START,
            error="MissingShipToAddressError",
        )  # fmt: skip
        store.put_write(
            WriteRecord(
                account="seller-04", bm_order_id=41000002, key="ship", status="pending",
                source="shipment:300000001", updated_at=START, claimant="web3:7:dead",
            )
        )  # fmt: skip
    failed = {a.account: a.failed for a in report.accounts}

    assert cli.main(["status", "--state", str(state)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    lines = out.splitlines()
    total = sum(failed.values()) + 1
    assert lines[1:3] == [
        "5 accounts, last runs: 0 ok, 5 with failures, 0 stopped by an outage,"
        " 0 stopped by an error to fix, 0 never run",
        f"leases: 1 held, 0 expired; {total} failures to fix ({total - 1} missing or invalid"
        " IMEI/serial); 1 pending writes",
    ]
    rows = {line.split()[0]: line for line in lines if line.startswith("seller-")}
    assert list(rows) == [f"seller-0{n}" for n in range(1, 6)]
    for name, row in rows.items():
        assert " failed " in row
        assert f" {failed[name] + (name == 'seller-04')} " in row
    assert "held by web1, pid 42, until" in rows["seller-02"]
    assert rows["seller-01"].endswith("  free")
    listed = [line for line in lines if line.startswith("  seller-")]
    # Missing IMEIs first (the packer's fix), the other failure after them, then the write.
    assert all("[MissingIdentifierError]" in line for line in listed[: total - 1][:18])
    assert any("no ship-to address [MissingShipToAddressError]" in line for line in listed)
    assert "... " in out or len(listed) == total + 1
    assert "order 41000002: ship (shipment:300000001)" in out

    assert cli.main(["status", "--state", str(state), "--json"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["accounts"] == 5
    assert document["summary"]["missing_identifiers"] == total - 1
    by_name = {a["account"]: a for a in document["accounts"]}
    for account in report.accounts:
        last = by_name[account.account]["last_run"]
        assert last["notified"] == account.notified
        assert last["failed"] == account.failed
        assert last["outcome"] == "failed"
    errors = [f["error"] for f in by_name["seller-04"]["failures"]]
    assert errors[-1] == "MissingShipToAddressError"
    assert set(errors[:-1]) == {"MissingIdentifierError"}
    assert by_name["seller-04"]["pending_writes"][0]["claimant"] == "web3:7:dead"
    assert by_name["seller-02"]["lease"]["host"] == "web1"


def test_status_of_one_account_among_many_is_its_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, state, report = _agency_day(tmp_path, accounts=3)
    assert cli.main(["status", "--state", str(state), "--account", "seller-03"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "[seller-03]" in out
    assert "[seller-01]" not in out
    third = report.accounts[2]
    assert f"notified {third.notified}, skipped {third.skipped}, failed {third.failed}" in out
    assert "  import cursor: 2026-03-02" in out
    assert f"  failures to retry: {third.failed} ({third.failed} missing or invalid" in out

    assert cli.main(["status", "--state", str(state), "--account", "seller-09"]) == (
        cli.EXIT_CONFIG
    )
    err = capsys.readouterr().err
    assert "no account seller-09 in the state or the configuration" in err


def test_an_account_of_the_configuration_never_synced_is_shown_as_never_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agency, state, _ = _agency_day(tmp_path, accounts=2)
    path = tmp_path / "agency.toml"
    with agency.serve() as served:
        served.write_config(path, state=str(state))
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text + '\n[[accounts]]\nname = "seller-new"\nbackmarket_token = "x"\n', encoding="utf-8"
    )
    assert cli.main(["status", "--config", str(path)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert (
        "3 accounts, last runs: 0 ok, 2 with failures, 0 stopped by an outage,"
        " 0 stopped by an error to fix, 1 never run" in out
    )
    (row,) = [line for line in out.splitlines() if line.startswith("seller-new")]
    assert " never " in row


def test_a_run_stopped_by_refused_credentials_is_the_last_run_status_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = VirtualClock(START)
    agency = AgencySandbox(accounts=3, orders_per_account=10, seed=12, clock=clock)
    state = tmp_path / "s.sqlite3"
    config = agency.config(str(state))
    with SQLiteStore(state) as store:
        run_sync(config, store=store, transports=agency.transports, clock=clock)
        went_well = store.last_run("seller-02")
        assert went_well is not None
        assert went_well.outcome == "ok"
        # The seller revoked the token in the Back Office: Back Market answers 401.
        revoked = tuple(
            attrs.evolve(a, backmarket_token=a.backmarket_token[::-1])
            if a.name == "seller-02"
            else a
            for a in config.accounts
        )
        clock.advance(600)
        report = run_sync(
            attrs.evolve(config, accounts=revoked),
            store=store,
            transports=agency.transports,
            clock=clock,
        )
        stopped = report.accounts[1]
        assert stopped.error is not None
        assert stopped.error.error == "AuthenticationError"
        last = store.last_run("seller-02")
        assert last is not None
        assert last.outcome == "error"
        assert last.started_at == stopped.started_at > went_well.started_at
        assert last.error == stopped.error.message
        assert last.error.startswith("credentials refused: ")
        assert agency.sellers[1].backmarket_token not in last.error
        others = [store.last_run(name) for name in ("seller-01", "seller-03")]
        assert [r.outcome for r in others if r is not None] == ["ok", "ok"]

    assert cli.main(["status", "--state", str(state)]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "2 ok, 0 with failures, 0 stopped by an outage, 1 stopped by an error to fix" in out
    row = next(line for line in out.splitlines() if line.startswith("seller-02"))
    assert " error " in row
    listed = out.split("accounts stopped by an error to fix (nothing else of theirs ran):\n")[1]
    assert listed.splitlines()[0].split()[:3] == ["seller-02", "credentials", "refused:"]

    assert cli.main(["status", "--state", str(state), "--json"]) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    assert document["summary"]["error"] == 1
    by_name = {a["account"]: a for a in document["accounts"]}
    assert by_name["seller-02"]["last_run"]["outcome"] == "error"
    assert by_name["seller-02"]["last_run"]["error"] == last.error
    assert by_name["seller-01"]["last_run"]["error"] is None
