"""Celery workers: one task syncs one account, beat fans every account out every N minutes.

Needs the ``[celery]`` extra (``pip install 'backmarket-shipstation[celery]'``) and a Redis
server as the broker. The configuration is the sync's TOML file, named by
``BACKMARKET_SHIPSTATION_CONFIG``; its ``[celery]`` table sets the broker, the result backend
and the interval (docs/sync.md#the-celery-table)::

    export BACKMARKET_SHIPSTATION_CONFIG=/etc/backmarket-shipstation/agency.toml
    celery -A backmarket_shipstation.celery worker -B --loglevel INFO

Tasks (their names are what ``app.send_task`` takes):

- ``backmarket_shipstation.sync_account(account)``: syncs that account of the configuration
  (:func:`sync_account`) and returns its report as JSON, the object ``sync --json`` gives for
  the account. An account another run holds is not an error: its report has ``held_by``.
- ``backmarket_shipstation.sync_accounts(accounts)``: syncs those accounts together in one run
  (:func:`sync_accounts`), as ``sync`` does: accounts on one ShipStation key pair share the
  cycle's ShipStation polls and createorders batches; returns their reports, in order.
- ``backmarket_shipstation.fan_out()``: sends the cycle's tasks (:func:`fan_out`): one
  ``sync_account`` per account, or, with ``fan_out = "key_pair"`` in the ``[celery]`` table,
  one ``sync_accounts`` per ShipStation key pair; beat sends it every ``interval_minutes``.

Why worker loss and retries never double a write: the Celery message is acknowledged when its
task starts (early acknowledgement, not ``acks_late``), so Celery never delivers a started task
twice; what makes a re-run of an account safe anyway (a second fan-out, a message Redis gives
out again, a manual retry) is the sync itself: the run takes the account's lease in the state
store, so two runs of one account never overlap, and every Back Market or ShipStation write is
recorded in the write journal before it is sent, so a run that resumes after a killed one
checks what the killed run may have done instead of doing it again. A task lost with its
worker is done again by the next fan-out, once the dead run's lease has expired.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

try:
    from celery import Celery
except ImportError:  # pragma: no cover - exercised without the extra only
    raise ImportError(
        "backmarket_shipstation.celery needs the celery extra:"
        " pip install 'backmarket-shipstation[celery]'"
    ) from None

from .errors import ConfigurationError
from .sync.celery_settings import CONFIG_VARIABLE, CelerySettings, celery_settings
from .sync.config import SyncConfig, load_config
from .sync.runner import key_pair_groups, run_sync

__all__ = [
    "FAN_OUT_TASK",
    "SCHEDULE_ENTRY",
    "SYNC_ACCOUNTS_TASK",
    "SYNC_ACCOUNT_TASK",
    "app",
    "create_app",
    "fan_out",
    "sync_account",
    "sync_accounts",
]

logger = logging.getLogger(__name__)

SYNC_ACCOUNT_TASK = "backmarket_shipstation.sync_account"
SYNC_ACCOUNTS_TASK = "backmarket_shipstation.sync_accounts"
FAN_OUT_TASK = "backmarket_shipstation.fan_out"
SCHEDULE_ENTRY = "backmarket_shipstation: every account"
"""The beat schedule's one entry: :data:`FAN_OUT_TASK` every ``interval_minutes``."""
QUEUE = "backmarket_shipstation"
"""The queue of both tasks: its own, so that other apps on the same Redis are not mixed in."""


def sync_account(
    account: str,
    config_path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Sync ``account`` of the configuration once; its report as a JSON object.

    ``config_path`` defaults to ``$BACKMARKET_SHIPSTATION_CONFIG``. The configuration is read
    anew for each run (accounts and secrets as they are now). The run is
    :func:`~backmarket_shipstation.sync.runner.run_sync` on the configuration restricted to
    that account: it takes the account's lease and, when another run holds it, returns at once
    with ``held_by`` set (nothing read or written).
    """
    return sync_accounts([account], config_path, env=env)[0]


def sync_accounts(
    accounts: Sequence[str],
    config_path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Sync ``accounts`` of the configuration in one run; their reports as JSON objects, in
    the order given.

    One :func:`~backmarket_shipstation.sync.runner.run_sync` on the configuration restricted to
    those accounts (its ``parallel`` setting applies): each account under its own lease, and
    accounts on one ShipStation key pair share the cycle's polls and createorders batches.
    Every name is checked before anything runs.
    """
    config = _load(config_path, env)
    by_name = {a.name: a for a in config.accounts}
    unknown = [name for name in accounts if name not in by_name]
    if unknown or not accounts:
        names = ", ".join(by_name) or "none"
        if not unknown:
            raise ConfigurationError(f"no account to sync (the configuration's: {names})")
        asked = ", ".join(repr(name) for name in unknown)
        verb = "account {} is" if len(unknown) == 1 else "accounts {} are"
        raise ConfigurationError(
            f"{verb.format(asked)} not in the configuration (its accounts: {names})"
        )
    chosen = tuple(by_name[name] for name in dict.fromkeys(accounts))
    report = run_sync(attrs.evolve(config, accounts=chosen))
    return [account.to_dict() for account in report.accounts]


def fan_out(
    app: Any,
    config_path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    expires: float | None = None,
) -> list[str]:
    """Send the cycle's tasks; their task ids.

    One ``sync_account`` per account of the configuration, or, when the ``[celery]`` table
    says ``fan_out = "key_pair"``, one ``sync_accounts`` per ShipStation key pair with that
    key pair's accounts (which then share their ShipStation polls: one task on one key pair
    costs about one account's polls, where one task per account costs each account's).
    What beat runs every interval. ``expires`` (seconds, default: the app's interval) drops a
    task no worker started in time: the next fan-out has sent a fresh one for its accounts,
    so slow workers never let the queue grow cycle after cycle.
    """
    config = _load(config_path, env)
    if expires is None:
        expires = float(app.conf.beat_schedule[SCHEDULE_ENTRY]["schedule"])
    ids: list[str] = []
    if celery_settings(config_path, env=env).fan_out == "key_pair":
        for group in key_pair_groups(config.accounts):
            names = [account.name for account in group]
            result = app.send_task(SYNC_ACCOUNTS_TASK, args=[names], expires=expires)
            ids.append(str(result.id))
    else:
        for account in config.accounts:
            result = app.send_task(SYNC_ACCOUNT_TASK, args=[account.name], expires=expires)
            ids.append(str(result.id))
    logger.info(
        "sent %d accounts out in %d tasks: %s",
        len(config.accounts),
        len(ids),
        ", ".join(a.name for a in config.accounts),
    )
    return ids


def create_app(
    config_path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> Any:
    """A Celery app for the configuration at ``config_path`` (default
    ``$BACKMARKET_SHIPSTATION_CONFIG``), with both tasks and the beat schedule.

    The configuration is checked here, so that a worker with a wrong file refuses to start
    instead of failing every task. Without a path the app still builds (so this module imports
    anywhere), with the default broker, and its tasks raise a ``ConfigurationError`` naming
    the variable to set.
    """
    settings = celery_settings(config_path, env=env)
    if _path(config_path, env) is not None:
        _load(config_path, env)
    app = Celery("backmarket_shipstation", set_as_current=False)
    app.conf.update(_conf(settings))

    def sync_account_task(account: str) -> dict[str, Any]:
        return sync_account(account, config_path, env=env)

    def sync_accounts_task(accounts: list[str]) -> list[dict[str, Any]]:
        return sync_accounts(accounts, config_path, env=env)

    def fan_out_task() -> list[str]:
        return fan_out(app, config_path, env=env)

    # No autoretry: a failed or stopped run is redone by the next fan-out, from its cursors
    # and the journal; Celery-level retries would only add runs that the lease turns away.
    app.task(name=SYNC_ACCOUNT_TASK, shared=False, max_retries=0, track_started=True)(
        sync_account_task
    )
    app.task(name=SYNC_ACCOUNTS_TASK, shared=False, max_retries=0, track_started=True)(
        sync_accounts_task
    )
    app.task(name=FAN_OUT_TASK, shared=False, max_retries=0)(fan_out_task)
    return app


def _conf(settings: CelerySettings) -> dict[str, Any]:
    interval = settings.interval.total_seconds()
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": QUEUE,
        # JSON only: the results are the reports' JSON, and a broker never feeds pickle in.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "enable_utc": True,
        "timezone": "UTC",
        # Early acknowledgement: the message is acked as the task starts. A worker killed
        # mid-run loses its task instead of having Redis hand it to another worker while the
        # dead run's lease still holds the account (that copy would only report held_by); the
        # next fan-out runs the account again once the lease expires, and the write journal
        # makes that run finish what the killed one began instead of repeating it. acks_late
        # would not make anything safer: exactly-once lives in the lease and the journal.
        "task_acks_late": False,
        # Only meaningful with acks_late; stated so that nobody turns it on alone and expects
        # it to requeue a killed run.
        "task_reject_on_worker_lost": False,
        # One waiting account per worker process: a lost worker strands at most that many
        # unstarted messages, and a busy worker leaves the rest of the queue to idle ones.
        "worker_prefetch_multiplier": 1,
        # Redis gives an unacknowledged message (one a dead worker had reserved but not
        # started) to another worker after this long. One interval by default: by then the
        # message has expired (fan_out sends with expires = interval) and the next fan-out
        # has sent a fresh one, so it is dropped rather than run twice.
        "broker_transport_options": {
            "visibility_timeout": settings.effective_visibility_timeout.total_seconds()
        },
        "result_expires": 86400,
        # A result names its task, account (args) and worker: a day of reports can be read
        # back from the backend without knowing the ids beat gave its tasks.
        "result_extended": True,
        "beat_schedule": {
            SCHEDULE_ENTRY: {"task": FAN_OUT_TASK, "schedule": interval},
        },
    }


def _path(config_path: str | Path | None, env: Mapping[str, str] | None) -> str | Path | None:
    if config_path is not None:
        return config_path
    environ = os.environ if env is None else env
    return environ.get(CONFIG_VARIABLE) or None


def _load(config_path: str | Path | None, env: Mapping[str, str] | None) -> SyncConfig:
    path = _path(config_path, env)
    if path is None:
        raise ConfigurationError(
            f"no configuration file: set {CONFIG_VARIABLE} to the sync's TOML file"
            " (docs/guides/many-sellers.md#celery-workers)"
        )
    return load_config(path, env=env)


app = create_app()
"""The app ``celery -A backmarket_shipstation.celery`` finds: configured from
``$BACKMARKET_SHIPSTATION_CONFIG`` when this module is imported."""
