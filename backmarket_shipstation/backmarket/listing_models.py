"""Back Market listings and tasks: what ``/ws/listings`` and ``/ws/tasks`` send and take.

Field names are Back Market's own (backmarket.md §7.1 and appendix A.2, from the [OAS]
``ListingPublic`` schema and the listing-update and task descriptions). Money is
:class:`~decimal.Decimal`; unknown keys are kept in ``extras``.

In the listing API ``state`` is the deprecated cosmetic grade code (9 Premium, 0 Excellent,
1 Very good, 2 Good, 3 Fair, 4 Stallone), not an order state; ``grade`` is its text form.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs

from .._convert import CodeEnum, TextEnum, extras_field
from .models import BackMarketModel

__all__ = [
    "BatchTask",
    "Grade",
    "Listing",
    "ListingPage",
    "ListingShipping",
    "ListingUpdate",
    "SkuResult",
    "Task",
    "TaskOutcome",
    "TaskStatus",
]


class Grade(TextEnum):
    """The cosmetic grade of a listing (``grade``)."""

    PREMIUM = "PREMIUM"
    EXCELLENT = "EXCELLENT"
    VERY_GOOD = "VERY_GOOD"
    GOOD = "GOOD"
    FAIR = "FAIR"
    STALLONE = "STALLONE"


@attrs.frozen(kw_only=True)
class ListingShipping(BackMarketModel):
    """One shipping option of a listing (``shippings[]``)."""

    shipping_price: Decimal | None = None
    shipping_delay: Decimal | None = None
    """Hours."""
    shipper: str | None = None
    shipper_display: str | None = None
    country_code: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class Listing(BackMarketModel):
    """A listing as ``GET /ws/listings``, ``/ws/listings/{id}`` and ``/ws/listings/detail``
    return it (``ListingPublic``).

    ``quantity`` is the stock for every market; ``price``, ``comment`` and
    ``warranty_delay`` are those of the market the request's ``Accept-Language`` named.
    """

    id: str
    """The listing's UUID (preferred over the deprecated ``listing_id``)."""
    listing_id: int | None = None
    """Deprecated integer id."""
    product_id: str | None = None
    """The product's UUID."""
    backmarket_id: int | None = None
    """Deprecated integer product id."""
    sku: str | None = None
    """The seller's SKU (Back Market compares SKUs case-insensitively)."""
    title: str | None = None
    quantity: int | None = None
    price: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    """A price above it keeps the listing offline."""
    currency: str | None = None
    state: int | None = None
    """Deprecated grade code (9 Premium, 0 Excellent, 1 Very good, 2 Good, 3 Fair, 4 Stallone)."""
    grade: Grade | None = None
    publication_state: int | None = None
    """0 to 4; Back Market does not document the values (2 looks like "online")."""
    warranty_delay: int | None = None
    """Months, at least 12."""
    comment: str | None = None
    shippings: tuple[ListingShipping, ...] | None = None
    new_battery: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ListingPage(BackMarketModel):
    """One page of ``GET /ws/listings``: ``{count, next, previous, results}``."""

    results: tuple[Listing, ...]
    count: int | None = None
    next: str | None = None
    previous: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ListingUpdate(BackMarketModel):
    """Body of ``POST /ws/listings/{listingId}``: only the fields to change are sent.

    ``quantity`` applies to every market (0 takes the listing offline); ``price``,
    ``comment`` and ``warranty_delay`` apply to the market of the request's
    ``Accept-Language``; ``currency`` must be that market's. Shipping options 1 to 3 are
    ``shipper_N``, ``shipper_display_N``, ``shipping_delay_N`` (hours) and
    ``shipping_price_N``.
    """

    quantity: int | None = None
    price: Decimal | None = None
    currency: str | None = None
    comment: str | None = None
    warranty_delay: int | None = None
    min_price: Decimal | None = None
    """Needs BackPricer."""
    shipper_1: str | None = None
    shipper_display_1: str | None = None
    shipping_delay_1: int | None = None
    shipping_price_1: Decimal | None = None
    shipper_2: str | None = None
    shipper_display_2: str | None = None
    shipping_delay_2: int | None = None
    shipping_price_2: Decimal | None = None
    shipper_3: str | None = None
    shipper_display_3: str | None = None
    shipping_delay_3: int | None = None
    shipping_price_3: Decimal | None = None
    extras: Mapping[str, Any] = extras_field()


class TaskStatus(CodeEnum):
    """``action_status`` of a CSV batch task (``GET /ws/tasks/{taskId}``)."""

    TODO = 0
    IN_PROGRESS = 2
    STATUS_3 = 3
    """In the enum, not explained by Back Market: treated as still running."""
    STATUS_7 = 7
    """In the enum, not explained by Back Market: treated as still running."""
    FAILED = 8
    """``last_action_error`` says why."""
    SUCCESS = 9

    @property
    def is_final(self) -> bool:
        """True for 8 (failed) and 9 (success): polling can stop."""
        return self in (TaskStatus.FAILED, TaskStatus.SUCCESS)


@attrs.frozen(kw_only=True)
class Task(BackMarketModel):
    """A CSV batch task: ``{task_id, action_status, last_action_error, result}``.

    ``result`` is Back Market's per-SKU (or per-EAN) report, whose shape the documentation
    does not give: it is kept as sent, and :attr:`sku_results` reads the shapes a report can
    reasonably take (see docs/client-backmarket.md).
    """

    task_id: int
    action_status: TaskStatus | None = None
    last_action_error: str | None = None
    result: Any = None
    extras: Mapping[str, Any] = extras_field()

    @property
    def sku_results(self) -> tuple[SkuResult, ...]:
        """The per-SKU lines of ``result``, in the order Back Market gave them."""
        return parse_sku_results(self.result)


@attrs.frozen(kw_only=True)
class BatchTask:
    """The answer to ``POST /ws/listings``: the id of the task to poll, and what was sent."""

    task_id: int
    lines: int
    """SKU lines in the catalog (what the hourly budget was charged)."""


@attrs.frozen(kw_only=True)
class SkuResult:
    """One SKU of a task's report. ``ok`` is None when the report does not say."""

    sku: str
    ok: bool | None
    message: str | None = None


TaskOutcomeKind = Literal["success", "failure", "timeout"]


@attrs.frozen(kw_only=True)
class TaskOutcome:
    """What waiting for a batch task came to.

    ``outcome`` is ``"success"`` (status 9), ``"failure"`` (status 8, ``error`` is
    ``last_action_error``) or ``"timeout"`` (still running when the wait ran out: the task
    may yet finish; poll it again later). ``task`` is the last state read, ``skus`` its
    per-SKU report, ``polls`` the ``GET /ws/tasks`` calls made and ``waited`` the seconds
    spent.
    """

    outcome: TaskOutcomeKind
    task_id: int
    task: Task | None
    skus: tuple[SkuResult, ...]
    polls: int
    waited: float

    @property
    def error(self) -> str | None:
        """``last_action_error`` of a failed task."""
        return None if self.task is None else self.task.last_action_error

    @property
    def failed_skus(self) -> tuple[SkuResult, ...]:
        """The SKUs the report marks as not applied."""
        return tuple(s for s in self.skus if s.ok is False)


_OK_WORDS = frozenset({"success", "succeeded", "ok", "done", "updated", "created", "true"})
_KO_WORDS = frozenset({"failure", "failed", "error", "ko", "rejected", "false"})


def _verdict(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return True if value == 9 else False if value == 8 else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _OK_WORDS:
            return True
        if word in _KO_WORDS:
            return False
    return None


def _entry(sku: str, value: Any) -> SkuResult:
    if isinstance(value, Mapping):
        message = value.get("message") or value.get("error") or value.get("detail")
        ok = None
        for key in ("status", "success", "result", "state"):
            if key in value:
                ok = _verdict(value[key])
                break
        if ok is None and value.get("error"):
            ok = False
        return SkuResult(sku=sku, ok=ok, message=None if message is None else str(message))
    ok = _verdict(value)
    text = None if value is None or ok is not None else str(value)
    return SkuResult(sku=sku, ok=ok, message=text)


def parse_sku_results(result: Any) -> tuple[SkuResult, ...]:
    """Per-SKU lines from a task's ``result``, whichever of the likely shapes it has.

    A list of objects carrying ``sku`` (or ``ean``) with ``status``/``success``/``error``/
    ``message``; or an object keyed by SKU whose values are such objects or a status word.
    Anything else gives no lines (the raw ``result`` stays on the task).
    """
    found: list[SkuResult] = []
    if isinstance(result, Mapping):
        for key, value in result.items():
            found.append(_entry(str(key), value))
    elif isinstance(result, (list, tuple)):
        for item in result:
            if isinstance(item, Mapping):
                sku = item.get("sku") or item.get("ean")
                if sku is not None:
                    found.append(_entry(str(sku), item))
    return tuple(found)
