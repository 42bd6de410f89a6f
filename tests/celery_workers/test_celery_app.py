"""The Celery app's wiring, without a worker: settings from the TOML file, the tasks, beat.

A seller's agency writes one TOML file for all its accounts, with a ``[celery]`` table; the
app built from it must carry the broker, the schedule and the acknowledgement settings the
docs promise, and its ``sync_account`` task (run here in process with ``apply``) must sync
exactly the account it is given against a sandbox served on loopback, return that account's
``sync --json`` object, and report ``held_by`` (not fail) when another run holds the account.
``fan_out`` is checked against a real Redis: one message per account, each with an expiry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery", reason="the [celery] extra is not installed")

from backmarket_shipstation import celery as bmss_celery
from backmarket_shipstation.errors import ConfigurationError
from backmarket_shipstation.sandbox import Sandbox, ServedSandbox
from backmarket_shipstation.sync.celery_settings import celery_settings
from backmarket_shipstation.sync.config import load_config
from backmarket_shipstation.sync.state import open_store

ACCOUNT = """
[[accounts]]
name = "{name}"
backmarket_token = "{token}"
backmarket_user_agent = "{user_agent}"
backmarket_base_url = "{bm_url}"
shipstation_api_key = "{key}"
shipstation_api_secret = "{secret}"
shipstation_base_url = "{ss_url}"
shipstation_store_id = {store_id}
order_key_prefix = "{name}-"
"""


@pytest.fixture
def served() -> Iterator[list[ServedSandbox]]:
    """Two sellers, each with its own Back Market account and ShipStation key pair."""
    running = [Sandbox(seed=seed, orders=6).serve(deliver_webhooks=False) for seed in (8101, 8102)]
    yield running
    for one in running:
        one.stop()


def write_config(
    path: Path, served: list[ServedSandbox], *, state: Path, celery_table: str = ""
) -> Path:
    text = f'state_path = "{state}"\nlease_expiry_seconds = 30\n'
    for name, one in zip(("eu", "us"), served, strict=True):
        sandbox = one.sandbox
        text += ACCOUNT.format(
            name=name,
            token=sandbox.backmarket_token,
            user_agent=sandbox.backmarket_user_agent,
            bm_url=one.backmarket_url,
            key=sandbox.shipstation_api_key,
            secret=sandbox.shipstation_api_secret,
            ss_url=one.shipstation_url,
            store_id=sandbox.shipstation_store_id,
        )
    path.write_text(text + celery_table, encoding="utf-8")
    return path


def offline_config(tmp_path: Path, celery_table: str) -> Path:
    """A valid file whose accounts are never contacted (the app's settings only)."""
    token = base64.b64encode(b"0123456789abcdef012345:BMT-" + b"a" * 40).decode()
    path = tmp_path / "agency.toml"
    path.write_text(
        f'state_path = "{tmp_path / "state.sqlite3"}"\n'
        + "".join(
            ACCOUNT.format(
                name=name,
                token=token,
                user_agent="BM-Agency-ShipStation;ops@agency.example",
                bm_url="http://127.0.0.1:9/backmarket",
                key="k" * 32,
                secret="s" * 32,
                ss_url="http://127.0.0.1:9/shipstation",
                store_id=100 + index,
            )
            for index, name in enumerate(("seller-a", "seller-b", "seller-c"))
        )
        + celery_table,
        encoding="utf-8",
    )
    return path


def test_the_app_takes_broker_schedule_and_acknowledgement_from_the_file(tmp_path: Path) -> None:
    path = offline_config(
        tmp_path,
        '\n[celery]\nbroker_url = "redis://10.0.0.5:6379/3"\ninterval_minutes = 2\n',
    )
    app = bmss_celery.create_app(path, env={})
    conf = app.conf
    assert conf.broker_url == "redis://10.0.0.5:6379/3"
    # The results (the reports) go to the broker unless a backend is named.
    assert conf.result_backend == "redis://10.0.0.5:6379/3"
    entry = conf.beat_schedule[bmss_celery.SCHEDULE_ENTRY]
    assert entry["task"] == bmss_celery.FAN_OUT_TASK
    assert entry["schedule"] == 120
    # Exactly-once is the lease's and the journal's business: the message is acked as the
    # task starts, a lost worker's task is not handed to another worker mid-lease.
    assert conf.task_acks_late is False
    assert conf.task_reject_on_worker_lost is False
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 120
    assert conf.accept_content == ["json"]
    assert {bmss_celery.SYNC_ACCOUNT_TASK, bmss_celery.FAN_OUT_TASK} <= set(app.tasks)


def test_the_environment_names_the_broker_and_the_visibility_timeout_can_be_set(
    tmp_path: Path,
) -> None:
    path = offline_config(
        tmp_path,
        '\n[celery]\nbroker_url = "redis://in-the-file:6379/0"\n'
        'result_backend = "redis://results:6379/1"\nvisibility_timeout_seconds = 900\n',
    )
    env = {"BACKMARKET_SHIPSTATION_BROKER_URL": "redis://:pw@from-env:6379/2"}
    settings = celery_settings(path, env=env)
    assert settings.broker_url == "redis://:pw@from-env:6379/2"
    assert settings.result_backend == "redis://results:6379/1"
    assert settings.interval == timedelta(minutes=5)
    assert "pw" not in repr(settings)
    app = bmss_celery.create_app(path, env=env)
    assert app.conf.broker_transport_options["visibility_timeout"] == 900
    assert app.conf.beat_schedule[bmss_celery.SCHEDULE_ENTRY]["schedule"] == 300


def test_a_wrong_celery_table_names_every_problem_and_config_check_sees_it(
    tmp_path: Path,
) -> None:
    path = offline_config(
        tmp_path,
        '\n[celery]\nbroker = "redis://x"\ninterval_minutes = 0\nresult_backend = 5\n',
    )
    with pytest.raises(ConfigurationError) as raised:
        bmss_celery.create_app(path, env={})
    message = str(raised.value)
    assert "celery: unknown setting 'broker'" in message
    assert "celery.interval_minutes must be a number above 0 (got 0)" in message
    assert "celery.result_backend must be a URL" in message
    with pytest.raises(ConfigurationError, match="unknown setting 'broker'"):
        load_config(path, env={})


def test_without_a_configuration_the_app_builds_and_its_tasks_name_the_variable() -> None:
    app = bmss_celery.create_app(env={})
    result = app.tasks[bmss_celery.SYNC_ACCOUNT_TASK].apply(args=["eu"])
    assert result.failed()
    assert isinstance(result.result, ConfigurationError)
    assert "BACKMARKET_SHIPSTATION_CONFIG" in str(result.result)


def test_the_task_syncs_only_its_account_and_returns_its_json_report(
    tmp_path: Path, served: list[ServedSandbox]
) -> None:
    state = tmp_path / "state.sqlite3"
    path = write_config(tmp_path / "agency.toml", served, state=state)
    app = bmss_celery.create_app(path, env={})
    task = app.tasks[bmss_celery.SYNC_ACCOUNT_TASK]

    first = task.apply(args=["us"]).get()
    eu, us = (one.sandbox for one in served)
    importable = len([o for o in us.backmarket.orders() if o["state"] in (1, 3)])
    assert importable > 0
    assert first["account"] == "us"
    assert first["imported"] == importable
    assert first["held_by"] is None
    assert first["failed"] == 0
    # The object `sync --json` prints for the account, keys and all, through JSON.
    assert json.loads(json.dumps(first)) == first
    assert set(first) == set(_json_keys())
    assert len(us.shipstation.orders()) == importable
    # The other account was not touched: not one request reached its sandbox.
    assert eu.shipstation.orders() == []
    assert eu.counters.total == 0

    second = task.apply(args=["us"]).get()
    # Run again: its own cursors and records, so nothing is created twice.
    assert (second["account"], second["imported"], second["failed"]) == ("us", 0, 0)
    assert len(us.shipstation.orders()) == importable
    with open_store(str(state)) as store:
        assert "eu" not in store.accounts()


def test_an_account_another_run_holds_is_reported_held_not_failed(
    tmp_path: Path, served: list[ServedSandbox]
) -> None:
    state = tmp_path / "state.sqlite3"
    path = write_config(tmp_path / "agency.toml", served, state=state)
    app = bmss_celery.create_app(path, env={})
    with open_store(str(state)) as store:
        other = store.acquire_lease(
            "eu",
            "cron-on-web1",
            host="web1",
            pid=4242,
            ttl=timedelta(minutes=5),
            now=datetime.now(timezone.utc),
        )
    assert other is not None

    result = app.tasks[bmss_celery.SYNC_ACCOUNT_TASK].apply(args=["eu"])
    assert result.successful()
    report = result.get()
    assert report["held_by"]["host"] == "web1"
    assert report["held_by"]["pid"] == 4242
    assert (report["imported"], report["failed"]) == (0, 0)
    assert served[0].sandbox.shipstation.orders() == []


def test_an_account_not_in_the_file_is_a_configuration_error(
    tmp_path: Path, served: list[ServedSandbox]
) -> None:
    path = write_config(tmp_path / "agency.toml", served, state=tmp_path / "s.sqlite3")
    app = bmss_celery.create_app(path, env={})
    result = app.tasks[bmss_celery.SYNC_ACCOUNT_TASK].apply(args=["asia"])
    assert isinstance(result.result, ConfigurationError)
    assert "account 'asia' is not in the configuration (its accounts: eu, us)" in str(result.result)


@pytest.mark.redis
def test_fan_out_sends_one_expiring_task_per_account(tmp_path: Path, redis_url: str) -> None:
    import redis

    path = offline_config(
        tmp_path, f'\n[celery]\nbroker_url = "{redis_url}"\ninterval_minutes = 3\n'
    )
    app = bmss_celery.create_app(path, env={})
    before = datetime.now(timezone.utc)
    ids = app.tasks[bmss_celery.FAN_OUT_TASK].apply().get()
    assert len(ids) == 3
    client = redis.Redis.from_url(redis_url)
    messages = [json.loads(raw) for raw in client.lrange(bmss_celery.QUEUE, 0, -1)]
    assert len(messages) == 3
    headers = [message["headers"] for message in messages]
    assert sorted(h["id"] for h in headers) == sorted(ids)
    assert {h["task"] for h in headers} == {bmss_celery.SYNC_ACCOUNT_TASK}
    bodies = [json.loads(base64.b64decode(message["body"])) for message in messages]
    assert sorted(args for args, _kwargs, _embed in bodies) == [
        ["seller-a"],
        ["seller-b"],
        ["seller-c"],
    ]
    for h in headers:
        expires = datetime.fromisoformat(h["expires"])
        assert before + timedelta(minutes=3) <= expires
        assert expires <= datetime.now(timezone.utc) + timedelta(minutes=3)


def _json_keys() -> list[str]:
    from backmarket_shipstation.sync.report import AccountReport

    blank: dict[str, Any] = AccountReport(
        account="x", started_at=datetime.now(timezone.utc)
    ).to_dict()
    return list(blank)


def _queued(redis_url: str) -> list[tuple[str, list[Any]]]:
    """The (task name, args) of every message waiting in the app's queue."""
    import redis

    client = redis.Redis.from_url(redis_url)
    found = []
    for raw in client.lrange(bmss_celery.QUEUE, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args))
    return found


@pytest.mark.redis
def test_fan_out_by_key_pair_sends_one_task_per_key_pair(tmp_path: Path, redis_url: str) -> None:
    # Three sellers on the agency's one key pair, a fourth with its own ShipStation account.
    path = offline_config(
        tmp_path, f'\n[celery]\nbroker_url = "{redis_url}"\nfan_out = "key_pair"\n'
    )
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "\n[celery]",
            ACCOUNT.format(
                name="seller-d",
                token=base64.b64encode(b"0123456789abcdef012345:BMT-" + b"d" * 40).decode(),
                user_agent="BM-Agency-ShipStation;ops@agency.example",
                bm_url="http://127.0.0.1:9/backmarket",
                key="d" * 32,
                secret="e" * 32,
                ss_url="http://127.0.0.1:9/shipstation",
                store_id=200,
            )
            + "\n[celery]",
        ),
        encoding="utf-8",
    )
    app = bmss_celery.create_app(path, env={})
    ids = app.tasks[bmss_celery.FAN_OUT_TASK].apply().get()
    assert len(ids) == 2
    assert sorted(_queued(redis_url)) == [
        (bmss_celery.SYNC_ACCOUNTS_TASK, [["seller-a", "seller-b", "seller-c"]]),
        (bmss_celery.SYNC_ACCOUNTS_TASK, [["seller-d"]]),
    ]


def test_a_fan_out_mode_that_does_not_exist_is_named(tmp_path: Path) -> None:
    path = offline_config(tmp_path, '\n[celery]\nfan_out = "store"\n')
    with pytest.raises(ConfigurationError) as raised:
        celery_settings(path, env={})
    assert "celery.fan_out must be 'account' or 'key_pair' (got 'store')" in str(raised.value)


def test_one_task_for_a_key_pair_syncs_its_accounts_on_shared_polls(tmp_path: Path) -> None:
    from backmarket_shipstation.sandbox import AgencySandbox

    agency = AgencySandbox(accounts=3, orders_per_account=6, seed=8200)
    served = agency.serve()
    try:
        path = served.write_config(tmp_path / "agency.toml", state=str(tmp_path / "s.sqlite3"))
        app = bmss_celery.create_app(path, env={})
        names = [seller.name for seller in agency.sellers]
        reports = app.tasks[bmss_celery.SYNC_ACCOUNTS_TASK].apply(args=[names]).get()
    finally:
        served.stop()
    assert [report["account"] for report in reports] == names
    assert all(report["failed"] == 0 and report["held_by"] is None for report in reports)
    assert sum(report["imported"] for report in reports) > 0
    assert agency.check().ok, agency.check().to_text()
    # The three accounts of the key pair checked their stores with one GET /stores, where a
    # task per account makes one each.
    assert agency.counters.by_endpoint(api="shipstation")["GET /stores"] == 1


def test_a_task_for_accounts_names_every_one_the_file_lacks(
    tmp_path: Path, served: list[ServedSandbox]
) -> None:
    path = write_config(tmp_path / "agency.toml", served, state=tmp_path / "s.sqlite3")
    app = bmss_celery.create_app(path, env={})
    result = app.tasks[bmss_celery.SYNC_ACCOUNTS_TASK].apply(args=[["eu", "asia", "mars"]])
    assert isinstance(result.result, ConfigurationError)
    assert "accounts 'asia', 'mars' are not in the configuration (its accounts: eu, us)" in str(
        result.result
    )
    # Nothing ran: the known account was not synced either.
    assert served[0].sandbox.counters.total == 0
