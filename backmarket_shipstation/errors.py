"""One exception hierarchy for the whole SDK.

Every error the SDK raises on purpose derives from :class:`BackMarketShipStationError`, so
``except BackMarketShipStationError`` is enough to keep a batch job alive. The subclasses say
*what* went wrong in terms a caller can act on:

- :class:`PayloadError`: data from an API (or from the caller) does not fit a model.
- :class:`MappingError` and its subclasses: a Back Market order or a ShipStation shipment
  cannot be converted (no ship-to address, a bad IMEI...). They name the order and the field.
- :class:`APIError` and its subclasses: an API answered with an error status.
- :class:`APIConnectionError` / :class:`APITimeoutError`: no usable answer at all.
- :class:`ConfigurationError`: the SDK was set up wrongly (missing credentials, bad User-Agent).
- :class:`StateStoreError` / :class:`StateStoreUnavailableError`: the sync's state store (a
  PostgreSQL database) cannot be used, or its connection was lost mid-run.

Messages never contain credentials: the HTTP layer builds them from the request method, the
URL path and the API's own error text only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AccountBusyError",
    "AuthenticationError",
    "BackMarketShipStationError",
    "BudgetExhaustedError",
    "ConfigurationError",
    "DeviceIdentifierError",
    "DuplicateIdentifierError",
    "FirewallBlockedError",
    "IdentifierCountError",
    "InvalidIMEIError",
    "InvalidRequestError",
    "InvalidSerialNumberError",
    "LeaseLostError",
    "MappingError",
    "MissingIdentifierError",
    "MissingShipToAddressError",
    "NotFoundError",
    "PayloadError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RefundError",
    "RefundInDoubtError",
    "ServerError",
    "UncoveredLinesError",
    "StateStoreError",
    "StateStoreUnavailableError",
    "UnknownStatusError",
    "UntrustedWebhookURLError",
]


class BackMarketShipStationError(Exception):
    """Base class of every error raised by this SDK."""


class ConfigurationError(BackMarketShipStationError):
    """The SDK is configured wrongly: a missing credential, a malformed User-Agent..."""


class PayloadError(BackMarketShipStationError):
    """A payload does not fit a model.

    ``model`` is the model being built (``"backmarket.Order"``), ``path`` the location of the
    offending value inside the payload (``"orderlines[1].price"``, empty for the payload
    itself) and ``reason`` what is wrong with it.
    """

    def __init__(self, model: str, path: str, reason: str) -> None:
        self.model = model
        self.path = path
        self.reason = reason
        where = f" at {path}" if path else ""
        super().__init__(f"invalid {model} payload{where}: {reason}")


# --------------------------------------------------------------------------------------
# Mapping errors: always name the order, and the line and value where there is one.
# --------------------------------------------------------------------------------------


class MappingError(BackMarketShipStationError):
    """An order or shipment cannot be converted between Back Market and ShipStation."""

    def __init__(self, message: str, *, order_id: str | int | None = None) -> None:
        self.order_id = None if order_id is None else str(order_id)
        self.detail = message
        """The message without the order prefix (for reports that name the order already)."""
        prefix = f"order {self.order_id}: " if self.order_id is not None else ""
        super().__init__(prefix + message)


class MissingShipToAddressError(MappingError):
    """The order has no usable ship-to address (ShipStation requires one)."""

    def __init__(self, *, order_id: str | int | None, missing_fields: Sequence[str]) -> None:
        self.missing_fields = tuple(missing_fields)
        if self.missing_fields == ("shipping_address",):
            message = "no shipping address"
        else:
            message = "shipping address lacks " + ", ".join(self.missing_fields)
        super().__init__(message, order_id=order_id)


class UnknownStatusError(MappingError):
    """A status has no mapping on the other side."""

    def __init__(self, message: str, *, order_id: str | int | None = None, status: object) -> None:
        self.status = status
        super().__init__(message, order_id=order_id)


class UncoveredLinesError(MappingError):
    """Back Market lines still to ship that no shipped ShipStation item covers.

    Back Market's ship write (``new_state`` 3) ships every accepted line of the order at once
    (backmarket.md §3.3), so nothing is sent until each line is in a shipped ShipStation order
    (or split part) with its identifiers. ``lines`` are the uncovered orderline ids.
    """

    def __init__(
        self,
        message: str,
        *,
        order_id: str | int | None = None,
        lines: Sequence[int],
    ) -> None:
        self.lines = tuple(lines)
        names = ", ".join(str(line) for line in self.lines)
        super().__init__(
            f"{message}: line{'s' if len(self.lines) != 1 else ''} {names} not shipped in "
            "ShipStation; nothing was sent to Back Market, whose ship write ships every "
            "line at once. Label the rest (or restore the removed item in ShipStation), or "
            "cancel or refund the line on Back Market",
            order_id=order_id,
        )


class DeviceIdentifierError(MappingError):
    """An IMEI or serial number is missing, malformed or cannot be assigned to a line.

    ``line`` names the order line (its id or SKU) when one is concerned; ``value`` is the
    offending text when there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        order_id: str | int | None = None,
        line: str | int | None = None,
        value: str | None = None,
    ) -> None:
        self.line = None if line is None else str(line)
        self.value = value
        parts = [message]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if value is not None:
            parts.append(f"value {value!r}")
        super().__init__(" | ".join(parts), order_id=order_id)


class InvalidIMEIError(DeviceIdentifierError):
    """A 15-digit number whose Luhn check digit is wrong (almost surely a typo)."""


class InvalidSerialNumberError(DeviceIdentifierError):
    """A serial number longer than Back Market's 50 characters, or empty."""


class MissingIdentifierError(DeviceIdentifierError):
    """A line that needs an IMEI or serial number has none."""


class IdentifierCountError(DeviceIdentifierError):
    """More or fewer identifiers than there are lines that take one."""


class DuplicateIdentifierError(DeviceIdentifierError):
    """The same identifier is given twice."""


# --------------------------------------------------------------------------------------
# HTTP errors.
# --------------------------------------------------------------------------------------


class APIError(BackMarketShipStationError):
    """An API answered with an error status.

    ``status_code`` is the HTTP status, ``message`` the API's own error text (parsed from any
    of the documented envelopes), ``request_id`` the id the API gave the request when it gave
    one (Back Market's ``requestId`` or Cloudflare's ``cf-ray``), ``response`` the raw
    :class:`httpx.Response` (status and headers are there; bodies may hold personal data, so
    the message never includes them beyond the API's error text), ``details`` the parsed error
    body (e.g. ShipStation's ``ModelState``), ``retry_after`` the wait the API asked for.
    """

    def __init__(
        self,
        message: str,
        *,
        api: str,
        method: str,
        path: str,
        status_code: int,
        request_id: str | None = None,
        response: httpx.Response | None = None,
        details: object = None,
        retry_after: float | None = None,
    ) -> None:
        self.api = api
        self.method = method
        self.path = path
        self.status_code = status_code
        self.message = message
        self.request_id = request_id
        self.response = response
        self.details = details
        self.retry_after = retry_after
        rid = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{api} {method} {path} -> {status_code}: {message}{rid}")


class InvalidRequestError(APIError):
    """400 or 422: the API rejected the request's content."""


class AuthenticationError(APIError):
    """401: the credentials are missing, wrong or expired."""


class PermissionDeniedError(APIError):
    """403 stated by the API itself, in its JSON error envelope: the credentials lack a right
    (e.g. Back Market's "Authenticated user is not a merchant", backmarket.md §2.2)."""


class FirewallBlockedError(PermissionDeniedError):
    """403 that the API did not state: a firewall or proxy page in front of it.

    Back Market's Cloudflare firewall answers an HTML page or a ``bot-need-challenge`` JSON
    (backmarket.md §6.4); any 403 from ShipStation without its JSON error envelope (an HTML
    page, an empty or plain-text body: shipstation.md §1.5 lists only JSON error shapes) is
    classed the same way. Not a credentials problem, and often passing: the command stops with
    exit code 3, not 2. Check the User-Agent and send the ``cf-ray`` id (``request_id``) to the
    API's support when it lasts.
    """


class NotFoundError(APIError):
    """404. On Back Market's order list it means "webservices unavailable"."""


class RateLimitedError(APIError):
    """429 after the retries allowed by the policy were spent (``retry_after`` in seconds)."""


class ServerError(APIError):
    """5xx after the retries allowed by the policy were spent."""


class BudgetExhaustedError(BackMarketShipStationError):
    """A call would exceed an endpoint's documented budget (e.g. 500 refunds a day) for
    longer than the client is allowed to wait (``max_budget_wait``); nothing was sent.

    ``budget`` describes the budget (its name and windows), ``wait`` is the number of seconds
    until the call would fit.
    """

    def __init__(self, *, api: str, method: str, path: str, budget: str, wait: float) -> None:
        self.api = api
        self.method = method
        self.path = path
        self.budget = budget
        self.wait = wait
        super().__init__(
            f"{api} {method} {path}: not sent, {budget} is spent for the next {wait:.0f} s"
        )


class RefundError(BackMarketShipStationError):
    """A refund that cannot be asked: unknown line, wrong state, amount above the price...

    ``order_id`` and ``orderline_id`` name the order and the line (when known).
    """

    def __init__(
        self, message: str, *, order_id: int | None = None, orderline_id: int | None = None
    ) -> None:
        self.order_id = order_id
        self.orderline_id = orderline_id
        self.detail = message
        where = f"order {order_id}" if order_id is not None else ""
        if orderline_id is not None:
            where += f"{' ' if where else ''}line {orderline_id}"
        super().__init__(f"refund of {where}: {message}" if where else f"refund: {message}")


class RefundInDoubtError(RefundError):
    """An earlier run sent a refund and died before the answer, and Back Market's data does
    not show whether it happened (a partial refund): it is not resent until a person says."""


class UntrustedWebhookURLError(BackMarketShipStationError):
    """A webhook's ``resource_url`` does not point at the configured ShipStation API.

    Nothing was fetched (no server-side request forgery). ``url`` is kept for investigation;
    the message names only the reason.
    """

    def __init__(self, reason: str, *, url: str) -> None:
        self.url = url
        super().__init__(f"refusing webhook resource_url: {reason}")


class APIConnectionError(BackMarketShipStationError):
    """The request did not get an HTTP answer (DNS, refused or reset connection...)."""

    def __init__(self, message: str, *, api: str, method: str, path: str) -> None:
        self.api = api
        self.method = method
        self.path = path
        super().__init__(f"{api} {method} {path}: {message}")


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class LeaseLostError(BackMarketShipStationError):
    """This run no longer holds its account's lease: another run took it over.

    Raised by a state store when a run whose lease expired (a process paused, or stalled, for
    longer than the lease expiry) tries to claim a write or record anything for the account.
    The run must stop that account at once: the run that holds the lease now does the work.
    The sync loops re-raise it wherever they record one order's error and carry on with the
    next: a run without its lease must not carry on.
    """

    def __init__(self, account: str, holder: str, *, current: str | None = None) -> None:
        self.account = account
        self.holder = holder
        self.current = current
        """Who holds the lease now (``host, pid N, since ...``), when anyone does."""
        now = f"; it is held by {current}" if current else ""
        super().__init__(f"account {account}: this run ({holder}) lost its lease{now}")


class StateStoreError(BackMarketShipStationError):
    """The sync's state store cannot be used as it is (schema too new or not created yet...).

    ``state`` names the store with any password replaced by ``***``: the message never holds
    a credential.
    """

    def __init__(self, message: str, *, state: str) -> None:
        self.state = state
        super().__init__(f"state {state}: {message}")


class StateStoreUnavailableError(StateStoreError):
    """The state store cannot be reached, or its connection was lost mid-run.

    What was not committed is rolled back by the database, so nothing is half-written; a
    Back Market write in flight stays ``pending`` and the next run settles it (it reads the
    order again before sending anything).
    """


class AccountBusyError(BackMarketShipStationError):
    """Another run holds this account's lease and kept it past the time allowed to wait.

    Nothing was read or written for the account; trying again later is safe.
    """

    def __init__(self, account: str, *, held_by: str | None) -> None:
        self.account = account
        self.held_by = held_by
        """``host, pid N, since ...`` of the run holding the account, when known."""
        who = f" ({held_by})" if held_by else ""
        super().__init__(f"account {account}: another run holds this account{who}")
