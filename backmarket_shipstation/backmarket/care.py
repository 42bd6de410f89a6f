"""Back Market Care ("SAV"): care folders, their messages, and refunds (backmarket.md §7.3, A.5).

Models, endpoint builders and the ``bm.care`` facades of both clients. Each endpoint spends its
documented budget ([OAS] per-endpoint "Rate limiting"), enforced by the client before anything
is sent (:data:`CARE_BUDGETS`):

========================  ===============  ===========
endpoint                  per minute       per day
========================  ===============  ===========
``GET /ws/sav``           520              4,000
``GET /ws/sav/{id}``      600              40,000
``POST /ws/sav/{id}/msg`` 560              40,000
``POST /ws/sav/refund``   (none given)     500
========================  ===============  ===========

A refund is not idempotent and Back Market has no idempotency key: :meth:`Care.refund` sends
one once, and after an unclear failure (a timeout, a 5xx) re-reads the order and resends only
when the line shows no refund. For a refund that must survive a killed run as well, use
:func:`backmarket_shipstation.sync.refunds.refund_orderline`, which records it in the write
journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from .._convert import CodeEnum, TextEnum, extras_field, wire
from .._http import AsyncPaginator, Paginator, Recheck, Request, query
from .models import Address, BackMarketModel, Order, OrderLineState, OrderState

if TYPE_CHECKING:
    from .._http import AsyncCore, SyncCore

__all__ = [
    "CARE_BUDGETS",
    "AsyncCare",
    "Care",
    "CareAttachment",
    "CareClaim",
    "CareClient",
    "CareFolder",
    "CareFolderPage",
    "CareFolderState",
    "CareFolderSummary",
    "CareIssue",
    "CareMerchant",
    "CareMessage",
    "CareOrder",
    "CareOrderline",
    "CareProduct",
    "CareSnapshot",
    "MessageFile",
    "PostedMessage",
    "PostedMessageAttachment",
    "RefundReceipt",
    "RefundType",
    "ReturnLabel",
    "care_filter_date",
    "get_care_folder_request",
    "list_care_folders_request",
    "post_care_message_request",
    "refund_amount_text",
    "refund_request",
    "refund_took_effect",
    "refund_type_for",
]

_MINUTE = 60.0
_DAY = 86400.0

CARE_BUDGETS: Mapping[str, tuple[tuple[int, float], ...]] = {
    "care.list": ((520, _MINUTE), (4000, _DAY)),
    "care.get": ((600, _MINUTE), (40000, _DAY)),
    "care.message": ((560, _MINUTE), (40000, _DAY)),
    "care.refund": ((500, _DAY),),
}
"""Each care endpoint's documented limits, as ``(calls, seconds)`` windows ([OAS])."""

MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 3 * 1024 * 1024

MessageFile: TypeAlias = tuple[str, bytes]
"""A file to attach to a care message: ``(file name, content)`` (≤ 3 MB, ≤ 10 files)."""


# --------------------------------------------------------------------------------------
# Codes
# --------------------------------------------------------------------------------------


class CareFolderState(CodeEnum):
    """State of a care folder (and of a claim in it)."""

    OPEN = 0
    CLOSED = 9


class RefundType(CodeEnum):
    """``refund_type`` of ``POST /ws/sav/refund``: which one follows from the line's state."""

    FULL_BEFORE_ACCEPTANCE = 4
    """Full refund of a paid line not yet accepted (orderline state 1)."""
    FULL_BEFORE_SHIPPING = 5
    """Full refund of an accepted line (state 2)."""
    AFTER_SHIPPING = 6
    """Full or partial (``amount``) refund of a shipped line (state 3)."""


class ResolutionChoice(TextEnum):
    """What the customer asked for in a claim."""

    REMOTE_ASSISTANCE = "REMOTE_ASSISTANCE"
    REPAIR = "REPAIR"
    REPLACE = "REPLACE"
    REPAIR_REPLACE = "REPAIR_REPLACE"
    REFUND = "REFUND"


_REFUND_TYPES: Mapping[OrderLineState, RefundType] = {
    OrderLineState.PAID: RefundType.FULL_BEFORE_ACCEPTANCE,
    OrderLineState.ACCEPTED: RefundType.FULL_BEFORE_SHIPPING,
    OrderLineState.SHIPPED: RefundType.AFTER_SHIPPING,
}

_REFUNDED_STATES: Mapping[RefundType, OrderLineState] = {
    # The state a full refund leaves the line in (backmarket.md A.3: 4 "cancelled; the buyer
    # is refunded", 5 "refunded before shipping", 6 "refunded after shipping").
    RefundType.FULL_BEFORE_ACCEPTANCE: OrderLineState.CANCELLED,
    RefundType.FULL_BEFORE_SHIPPING: OrderLineState.REFUNDED_BEFORE_SHIPPING,
    RefundType.AFTER_SHIPPING: OrderLineState.REFUNDED_AFTER_SHIPPING,
}


def refund_type_for(state: OrderLineState | int | None) -> RefundType:
    """The ``refund_type`` Back Market requires for a line in ``state`` (1 → 4, 2 → 5, 3 → 6).

    :class:`ValueError` for any other state: a line that is new, pending payment or on hold
    has nothing to refund, and a cancelled or refunded one is refunded already.
    """
    if state is None:
        raise ValueError("the orderline's state is unknown: read the order first")
    line_state = OrderLineState(state)
    found = _REFUND_TYPES.get(line_state)
    if found is None:
        raise ValueError(
            f"an orderline in state {int(line_state)} ({line_state.name}) cannot be refunded: "
            "only paid (1), accepted (2) or shipped (3) lines can"
        )
    return found


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


def _private() -> Any:
    return attrs.field(default=None, repr=False)


@attrs.frozen(kw_only=True)
class CareFolderSummary(BackMarketModel):
    """A care folder as ``GET /ws/sav`` lists it: ids only (``careFolder`` in [OAS])."""

    id: int
    client: int | None = None
    merchant: int | None = None
    orderline: int | None = None
    """The orderline id the folder is about."""
    date_creation: datetime | None = None
    date_modification: datetime | None = None
    date_last_message: datetime | None = None
    date_closed: datetime | None = None
    state: CareFolderState | None = None
    lines: tuple[int, ...] | None = None
    """Ids of the claims in the folder."""
    country_code: str | None = None
    backcare: bool | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareFolderPage(BackMarketModel):
    """One page of ``GET /ws/sav``: 10 folders at most. ``count`` is the number of folders *on
    this page* ([OAS]), not a total."""

    results: tuple[CareFolderSummary, ...]
    count: int | None = None
    next: str | None = None
    previous: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareAttachment(BackMarketModel):
    """A file attached to a message (``lightAttachment``): its URL and date."""

    id: int | None = None
    attachment: str | None = None
    """URL of the file."""
    date_creation: datetime | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareMessage(BackMarketModel):
    """One message of a care folder's conversation."""

    id: int
    message: str | None = None
    date_creation: datetime | None = None
    attachments: tuple[CareAttachment, ...] | None = None
    initiator: str | None = None
    """Who wrote it, e.g. ``Merchant``."""
    kind: str | None = None
    """Sender and receivers, e.g. ``MERCHANT_TO_ALL``."""
    is_informative: bool | None = None
    """An informative message does not count for the response-time rate."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class ReturnLabel(BackMarketModel):
    """A return label of a claim (``state`` USED, ALIVE or EXPIRED)."""

    date_creation: datetime | None = None
    state: str | None = None
    label: str | None = None
    """URL of the label document."""
    initiator: str | None = None
    kind: str | None = None
    """``CUSTOMER_TO_MERCHANT``, ``MERCHANT_TO_CUSTOMER`` or ``UNSET``."""
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareIssue(BackMarketModel):
    """An issue the customer declared, e.g. ``BATTERY_NOT_CHARGING`` tagged ``TECHNICAL``."""

    customer_issue: str | None = wire("customerIssue")
    tag: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareClaim(BackMarketModel):
    """A claim of a care folder (the folder's ``lines``)."""

    id: int
    issues: tuple[CareIssue, ...] | None = None
    state: CareFolderState | None = None
    resolution_choice: ResolutionChoice | None = None
    declared_warranty_state: str | None = None
    """``IN_WARRANTY``, ``WATER_OR_DROPPED`` or ``THIRD_PARTY_REPAIR``."""
    return_labels: tuple[ReturnLabel, ...] | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareClient(BackMarketModel):
    """The customer of a care folder (names and e-mail kept out of ``repr()``)."""

    first_name: str | None = _private()
    last_name: str | None = _private()
    email: str | None = _private()
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareMerchant(BackMarketModel):
    """The seller account of a care folder."""

    id: int | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareOrder(BackMarketModel):
    """The order inside a care folder. Not :class:`~.models.Order`: here ``shipper`` is an
    integer id and the dates carry ``+00:00`` (backmarket.md §7.3)."""

    order_id: int
    shipping_address: Address | None = None
    billing_address: Address | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipper: int | None = None
    shipper_display: str | None = None
    date_creation: datetime | None = None
    date_modification: datetime | None = None
    date_shipping: datetime | None = None
    date_payment: datetime | None = None
    state: OrderState | None = None
    price: Decimal | None = None
    shipping_price: Decimal | None = None
    currency: str | None = None
    country_code: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareProduct(BackMarketModel):
    """The product of the line: its id and category."""

    product_id: int | None = None
    category_3: Mapping[str, Any] | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareSnapshot(BackMarketModel):
    """What was sold: the SKU, listing id and product as at the sale."""

    sku: str | None = None
    listing: int | None = None
    product: CareProduct | None = None
    image: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareOrderline(BackMarketModel):
    """The orderline a care folder is about, with its order and current state."""

    id: int
    order: CareOrder | None = None
    snapshot: CareSnapshot | None = None
    quantity: int | None = None
    price: Decimal | None = None
    state: OrderLineState | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class CareFolder(BackMarketModel):
    """A care folder with everything ``GET /ws/sav/{id}`` returns: claims, messages, line."""

    id: int
    state: CareFolderState | None = None
    backcare: bool | None = None
    client: CareClient | None = None
    country_code: str | None = None
    date_creation: datetime | None = None
    date_modification: datetime | None = None
    date_last_message: datetime | None = None
    date_closed: datetime | None = None
    lines: tuple[CareClaim, ...] | None = None
    merchant: CareMerchant | None = None
    messages: tuple[CareMessage, ...] | None = None
    orderline: CareOrderline | None = None
    extras: Mapping[str, Any] = extras_field()

    @property
    def claims(self) -> tuple[CareClaim, ...]:
        """The claims (Back Market calls them ``lines``), empty when none came."""
        return self.lines or ()

    @property
    def order_id(self) -> int | None:
        """The Back Market order the folder is about, when the payload names it."""
        if self.orderline is None or self.orderline.order is None:
            return None
        return self.orderline.order.order_id


@attrs.frozen(kw_only=True)
class PostedMessageAttachment(BackMarketModel):
    """A file stored with a posted message (``attachment`` is its path)."""

    msg: int | None = None
    group: int | None = None
    sender: int | None = None
    attachment: str | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class PostedMessage(BackMarketModel):
    """The 201 answer of ``POST /ws/sav/{id}/msg``."""

    id: int
    group: int | None = None
    """The care folder id."""
    message: str | None = None
    date_creation: datetime | None = None
    sender: int | None = None
    attachment: PostedMessageAttachment | None = None
    attachments: tuple[PostedMessageAttachment, ...] | None = None
    extras: Mapping[str, Any] = extras_field()


@attrs.frozen(kw_only=True)
class RefundReceipt:
    """A refund Back Market accepted: what was asked and its ``text/plain`` summary
    (e.g. ``"99€ refunded on the sku 123456"``). ``summary`` is ``None`` when the refund was
    found done on a re-read after an unclear failure (no answer came)."""

    orderline_id: int
    refund_type: RefundType
    amount: Decimal | None
    summary: str | None


# --------------------------------------------------------------------------------------
# Endpoints as data
# --------------------------------------------------------------------------------------


def care_filter_date(value: datetime | str) -> str:
    """A care-list date filter as Back Market wants it: ``YYYY-MM-DD-hh-mm`` (read as UTC)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("care date filters need a timezone-aware datetime")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d-%H-%M")


def list_care_folders_request(
    *,
    state: CareFolderState | int | None = None,
    orderline: int | None = None,
    last_id: int | None = None,
    last_modification_date: datetime | str | None = None,
    last_message_date: datetime | str | None = None,
    page: int = 1,
) -> Request[CareFolderPage]:
    """``GET /ws/sav``: one page of 10 care folders, filtered (no ``page-size``)."""
    if state is not None and int(state) not in (0, 9):
        raise ValueError("a care folder state is 0 (open) or 9 (closed)")
    params = query(
        last_id=last_id,
        state=None if state is None else int(state),
        orderline=orderline,
        last_modification_date=(
            None if last_modification_date is None else care_filter_date(last_modification_date)
        ),
        last_message_date=None
        if last_message_date is None
        else care_filter_date(last_message_date),
        page=page,
    )
    return Request(
        method="GET",
        path="/ws/sav",
        params=params,
        parse=CareFolderPage.from_dict,
        idempotent=True,
        budgets=(("care.list", 1),),
    )


def next_care_page(
    request: Request[CareFolderPage], page: CareFolderPage, seen: int
) -> Request[CareFolderPage] | None:
    """Page ``n + 1`` while ``next`` is set and the page was not empty."""
    if not page.next or not page.results:
        return None
    current = int(request.param("page") or "1")
    return request.with_param("page", str(current + 1))


def get_care_folder_request(care_folder_id: int) -> Request[CareFolder]:
    """``GET /ws/sav/{careFolderId}``: the folder with its claims, messages and orderline."""
    return Request(
        method="GET",
        path=f"/ws/sav/{int(care_folder_id)}",
        parse=CareFolder.from_dict,
        idempotent=True,
        budgets=(("care.get", 1),),
    )


def post_care_message_request(
    care_folder_id: int, message: str, attachments: Sequence[MessageFile] = ()
) -> Request[PostedMessage]:
    """``POST /ws/sav/{id}/msg`` (multipart): posting to a closed folder reopens it.

    Not resent blindly after an unclear failure: the customer would read it twice.
    """
    if not message or not message.strip():
        raise ValueError("a care message needs text")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValueError(f"at most {MAX_ATTACHMENTS} attachments per message")
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    for name, content in attachments:
        if len(content) > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"attachment {name!r} is larger than 3 MB")
        files.append(("attachment", (name, content, "application/octet-stream")))
    return Request(
        method="POST",
        path=f"/ws/sav/{int(care_folder_id)}/msg",
        # The core sends `json` as the form fields beside the files; without files the form
        # must still be multipart, so the text goes as a part without a file name.
        json={"message": message} if files else None,
        files=files or [("message", (None, message.encode(), "text/plain"))],
        parse=PostedMessage.from_dict,
        idempotent=False,
        budgets=(("care.message", 1),),
    )


def refund_amount_text(amount: Decimal) -> str:
    """An amount as Back Market prints money: two decimals (refusing fractions of a cent)."""
    cents = amount.quantize(Decimal("0.01"))
    if cents != amount:
        raise ValueError(f"refund amount {amount} has fractions of a cent")
    return str(cents)


def _check_amount(amount: Decimal | None, refund_type: RefundType) -> Decimal | None:
    if amount is None:
        return None
    if not isinstance(amount, Decimal):
        raise TypeError("give the refund amount as a Decimal (money is never a float)")
    if refund_type is not RefundType.AFTER_SHIPPING:
        raise ValueError(
            "an amount is only accepted for a refund after shipping (refund_type 6); "
            "a line not shipped yet is refunded in full"
        )
    if not amount.is_finite() or amount <= 0:
        raise ValueError("a partial refund amount must be positive")
    refund_amount_text(amount)
    return amount


def refund_took_effect(
    order: Order, orderline_id: int, refund_type: RefundType, amount: Decimal | None
) -> bool:
    """Does ``order``, read after an unclear failure, show the refund of the line?

    A full refund moves the line to 4, 5 or 6 (backmarket.md A.3). A partial refund leaves a
    shipped line in state 3 (INFERRED: nothing documented shows it), so it can never be
    confirmed this way and is never resent blindly.
    """
    if amount is not None:
        return False
    target = _REFUNDED_STATES[refund_type]
    return any(line.id == orderline_id and line.state is target for line in order.lines)


def refund_request(
    orderline_id: int,
    refund_type: RefundType | int,
    *,
    amount: Decimal | None = None,
    order_id: int | None = None,
) -> Request[RefundReceipt]:
    """``POST /ws/sav/refund`` ``{orderline_pk, refund_type, amount?}``; 201 ``text/plain``.

    ``amount`` only for a partial refund of a shipped line (type 6), sent as a JSON number
    with two decimals. With ``order_id``, an unclear failure of a full refund is settled by
    re-reading the order (the line is in its refunded state, or the refund is sent again);
    without it, or for a partial refund, the failure is raised and nothing is resent.
    """
    kind = RefundType(refund_type)
    if not kind.is_known:
        raise ValueError("refund_type is 4, 5 or 6")
    checked = _check_amount(amount, kind)
    body: dict[str, Any] = {"orderline_pk": int(orderline_id), "refund_type": int(kind)}
    if checked is not None:
        # [OAS] types it as a number; two decimals are exact in a JSON number.
        body["amount"] = float(refund_amount_text(checked))

    def parse(text: Any) -> RefundReceipt:
        summary = text.strip() if isinstance(text, str) and text.strip() else None
        return RefundReceipt(
            orderline_id=int(orderline_id), refund_type=kind, amount=checked, summary=summary
        )

    recheck: Recheck[RefundReceipt] | None = None
    if order_id is not None and checked is None:
        from .client import get_order_request

        def confirm(order: Order) -> RefundReceipt | None:
            if refund_took_effect(order, int(orderline_id), kind, None):
                return RefundReceipt(
                    orderline_id=int(orderline_id), refund_type=kind, amount=None, summary=None
                )
            return None

        recheck = Recheck(request=get_order_request(order_id), confirm=confirm)
    return Request(
        method="POST",
        path="/ws/sav/refund",
        json=body,
        parse=parse,
        text=True,
        idempotent=False,
        recheck=recheck,
        budgets=(("care.refund", 1),),
    )


# --------------------------------------------------------------------------------------
# Facades
# --------------------------------------------------------------------------------------


class Care:
    """``bm.care``: care folders, their messages, refunds."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        state: CareFolderState | int | None = None,
        orderline: int | None = None,
        last_id: int | None = None,
        last_modification_date: datetime | str | None = None,
        last_message_date: datetime | str | None = None,
    ) -> Paginator[CareFolderPage, CareFolderSummary]:
        """Every matching care folder, fetched lazily 10 per page (Back Market's fixed size).

        Each page spends one call of the list budget (520 a minute, 4,000 a day).
        """
        first = list_care_folders_request(
            state=state,
            orderline=orderline,
            last_id=last_id,
            last_modification_date=last_modification_date,
            last_message_date=last_message_date,
        )
        return Paginator(self._core.send, first, lambda p: p.results, next_care_page)

    def get(self, care_folder_id: int) -> CareFolder:
        """One care folder with its claims, messages and orderline."""
        return self._core.send(get_care_folder_request(care_folder_id))

    def messages(self, care_folder_id: int) -> tuple[CareMessage, ...]:
        """The conversation of a care folder, oldest first as Back Market returns it."""
        return self.get(care_folder_id).messages or ()

    def post_message(
        self, care_folder_id: int, message: str, *attachments: MessageFile
    ) -> PostedMessage:
        """Write to the customer (and Back Market); reopens a closed folder."""
        return self._core.send(post_care_message_request(care_folder_id, message, attachments))

    def refund(
        self,
        orderline_id: int,
        refund_type: RefundType | int,
        *,
        amount: Decimal | None = None,
        order_id: int | None = None,
    ) -> RefundReceipt:
        """Refund a line (see :func:`refund_request`); :func:`refund_type_for` gives the type."""
        return self._core.send(
            refund_request(orderline_id, refund_type, amount=amount, order_id=order_id)
        )


class AsyncCare:
    """``bm.care`` of :class:`~.client.AsyncBackMarketClient`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        state: CareFolderState | int | None = None,
        orderline: int | None = None,
        last_id: int | None = None,
        last_modification_date: datetime | str | None = None,
        last_message_date: datetime | str | None = None,
    ) -> AsyncPaginator[CareFolderPage, CareFolderSummary]:
        """Every matching care folder (``async for``), 10 per page."""
        first = list_care_folders_request(
            state=state,
            orderline=orderline,
            last_id=last_id,
            last_modification_date=last_modification_date,
            last_message_date=last_message_date,
        )
        return AsyncPaginator(self._core.send, first, lambda p: p.results, next_care_page)

    async def get(self, care_folder_id: int) -> CareFolder:
        """One care folder with its claims, messages and orderline."""
        return await self._core.send(get_care_folder_request(care_folder_id))

    async def messages(self, care_folder_id: int) -> tuple[CareMessage, ...]:
        """The conversation of a care folder."""
        return (await self.get(care_folder_id)).messages or ()

    async def post_message(
        self, care_folder_id: int, message: str, *attachments: MessageFile
    ) -> PostedMessage:
        """Write to the customer; reopens a closed folder."""
        return await self._core.send(
            post_care_message_request(care_folder_id, message, attachments)
        )

    async def refund(
        self,
        orderline_id: int,
        refund_type: RefundType | int,
        *,
        amount: Decimal | None = None,
        order_id: int | None = None,
    ) -> RefundReceipt:
        """Refund a line (see :func:`refund_request`)."""
        return await self._core.send(
            refund_request(orderline_id, refund_type, amount=amount, order_id=order_id)
        )
