"""The shared HTTP core of both API clients, sync and async.

Each endpoint is described once, as data: a :class:`Request` (method, path, query, JSON body,
the function that parses the answer, and whether a blind resend is safe). The sync and async
bases (:class:`SyncCore`, :class:`AsyncCore`) each own one ``send`` loop that runs such a
request through the same policy:

- authentication, added per request (secrets live in :class:`Secret`, never in a repr);
- throttling before the server says no (:class:`SlidingWindowLimiter` for Back Market,
  :class:`HeaderDrivenLimiter` for ShipStation's ``X-Rate-Limit-*`` headers), one limiter per
  credential and clock in the process, keyed by a hash of the credential;
- a retry decision that is a pure function (:func:`decide_retry`);
- error mapping to the SDK's exception hierarchy (:func:`backmarket_error`,
  :func:`shipstation_error`);
- debug logging of method, path, query parameter *names*, status and duration.

Only the loops differ between sync and async (``clock.sleep`` vs ``await clock.asleep``,
``client.send`` vs ``await client.send``); every decision is made by shared pure code.

httpx (about half of the clients' import time) is imported when a core is built, not when this
module is: importing the clients stays cheap, and a function that meets an httpx object can
only run once httpx is loaded, so its local ``import httpx`` is a dictionary lookup. The same
goes for ``logging``, ``json``, ``hashlib``, ``base64`` and ``random`` (~10 ms together): httpx
imports them all, so a client pays for them once it exists, and not before.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

import attrs
from typing_extensions import Self

from .clock import Clock, SystemClock
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BackMarketShipStationError,
    FirewallBlockedError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    StateStoreError,
)

if TYPE_CHECKING:
    import random

    import httpx

__all__ = [
    "DEFAULT_TIMEOUT",
    "AsyncCore",
    "AsyncPaginator",
    "Budget",
    "HeaderDrivenLimiter",
    "Limiter",
    "Paginator",
    "RateLimitStore",
    "Recheck",
    "Request",
    "RetryDecision",
    "RetryPolicy",
    "Secret",
    "SharedState",
    "SlidingWindowLimiter",
    "SyncCore",
    "backmarket_error",
    "decide_retry",
    "limiter_for",
    "shared_limiter",
    "shipstation_error",
]

_LOGGER_NAME = "backmarket_shipstation"
_DEBUG = 10  # logging.DEBUG, without importing logging to say so

T = TypeVar("T")
P = TypeVar("P")
I = TypeVar("I")  # noqa: E741

if TYPE_CHECKING:
    DEFAULT_TIMEOUT: httpx.Timeout
    """Connect within 5 s, then allow 30 s for each read, write and pool wait."""


@functools.cache  # one shared object, as when it was a module constant
def _default_timeout() -> httpx.Timeout:
    """Connect within 5 s, then allow 30 s for each read, write and pool wait."""
    import httpx

    return httpx.Timeout(30.0, connect=5.0)


def __getattr__(name: str) -> Any:
    # DEFAULT_TIMEOUT is an httpx object, so it is made on first use (see the module text).
    if name == "DEFAULT_TIMEOUT":
        return _default_timeout()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEFAULT_CLOCK: Clock = SystemClock()
"""One process-wide real clock, so that clients built without ``clock=`` share limiters."""

_MAX_MESSAGE = 500
"""API error texts are cut to this length: enough to act on, short enough for a log line."""

ApiName = Literal["Back Market", "ShipStation", "ShipStation V2"]


# --------------------------------------------------------------------------------------
# Secrets
# --------------------------------------------------------------------------------------


class Secret:
    """A credential that never shows itself in ``repr()``, ``str()`` or a traceback's locals."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The clear value, for the one place that puts it on the wire."""
        return self._value

    def digest(self) -> str:
        """A one-way fingerprint, for keying shared state without keeping the secret."""
        import hashlib

        return hashlib.sha256(self._value.encode()).hexdigest()

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.digest())

    def __reduce__(self) -> Any:  # pickling would write the secret to disk
        raise TypeError("a Secret cannot be pickled")


def _credential_fragments(authorization: Secret) -> list[bytes]:
    """The credential as an error body may echo it: the header value, its base64 part and,
    when that decodes to ``user:password``, each half (a token's, or ShipStation's key and
    secret). Longest first, so a whole is replaced before any of its parts."""
    import base64

    value = authorization.reveal()
    fragments = {value}
    _, _, encoded = value.partition(" ")
    if encoded:
        fragments.add(encoded)
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            decoded = ""
        if decoded:
            fragments.add(decoded)
            fragments.update(decoded.split(":", 1))
    found: set[bytes] = set()
    for fragment in fragments:
        # Shorter pieces could be ordinary words; no real key or token is that short.
        if len(fragment) >= 8:
            raw = fragment.encode()
            found.update({raw, raw.replace(b"/", b"\\/")})
    return sorted(found, key=len, reverse=True)


def _without_credentials(response: httpx.Response, authorization: Secret) -> httpx.Response:
    """``response`` with any echo of the credential in its body replaced by ``[REDACTED]``.

    Error messages and ``details`` quote the API's error text, and a server that echoes the
    Authorization header or the key it refused would otherwise put the secret in exception
    texts and logs. Error path only: a successful answer is never rewritten.
    """
    content = response.content
    echoed = [f for f in _credential_fragments(authorization) if f in content]
    if not echoed:
        return response
    for fragment in echoed:
        content = content.replace(fragment, b"[REDACTED]")
    headers = [
        (key, value)
        for key, value in response.headers.multi_items()
        if key.lower() not in ("content-length", "content-encoding", "transfer-encoding")
    ]
    import httpx

    try:
        request: httpx.Request | None = response.request
    except RuntimeError:
        request = None
    return httpx.Response(response.status_code, headers=headers, content=content, request=request)


def basic_auth_value(username: str, password: str) -> Secret:
    """``Basic base64(user:password)``, as ShipStation expects."""
    import base64

    raw = f"{username}:{password}".encode()
    return Secret("Basic " + base64.b64encode(raw).decode("ascii"))


# --------------------------------------------------------------------------------------
# Requests as data
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Recheck(Generic[T]):
    """How to learn whether a non-idempotent write took effect after an unclear failure.

    ``request`` re-reads the resource (an idempotent GET); ``confirm`` looks at what it read
    and returns the write's result when the write did take effect, or ``None`` when it did not
    (then the write is sent again).
    """

    request: Request[Any]
    confirm: Callable[[Any], T | None]


@attrs.frozen(kw_only=True)
class Request(Generic[T]):
    """One API call, described as data by a pure endpoint builder.

    ``parse`` turns the decoded JSON body (``None`` when the body is empty) into the result.
    ``idempotent`` says whether the request may be resent blindly after a failure whose effect
    is unknown (a timeout, a 5xx). ``recheck`` is for writes that are not idempotent but whose
    effect can be observed.
    """

    method: str
    path: str
    parse: Callable[[Any], T]
    params: tuple[tuple[str, str], ...] = ()
    json: Any = None
    files: Any = None
    idempotent: bool = False
    recheck: Recheck[T] | None = None
    budgets: tuple[tuple[str, int], ...] = ()
    """``(name, cost)`` of each endpoint budget the call spends (Back Market's per-endpoint
    limits, e.g. ``("care.refund", 1)``), on top of the client's general limiter."""
    text: bool = False
    """``parse`` receives the body as text (endpoints that answer ``text/plain``)."""
    budget_waits: tuple[tuple[str, float | None], ...] = ()
    """``(name, max wait)`` for budgets of this call whose wait is not the client's
    ``max_budget_wait``: ``None`` waits as long as it takes, ``0`` refuses the call unless the
    budget has room now (a listing write with ``over_budget="wait"`` or ``"refuse"``)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Headers that replace the client's own for this request only (e.g. ``Accept-Language``
    to write one market's price)."""

    def with_param(self, name: str, value: str) -> Request[T]:
        """The same request with the query parameter ``name`` set to ``value``."""
        kept = tuple((k, v) for k, v in self.params if k != name)
        return attrs.evolve(self, params=(*kept, (name, value)))

    def param(self, name: str) -> str | None:
        """The value of query parameter ``name``, if set."""
        for key, value in self.params:
            if key == name:
                return value
        return None


def query(**values: object) -> tuple[tuple[str, str], ...]:
    """Query parameters from keyword arguments, leaving out the ``None`` ones.

    ``False`` and ``0`` are kept; booleans are written ``true``/``false``; datetimes are the
    caller's job (each API has its own format), so they must arrive as text.
    """
    params: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            params.append((name, "true" if value else "false"))
        elif isinstance(value, (str, int)):
            params.append((name, str(value)))
        else:
            raise TypeError(f"query parameter {name} cannot be {type(value).__name__}")
    return tuple(params)


def no_content(_: Any) -> None:
    """Parser for endpoints whose answer carries nothing the caller needs."""
    return


# --------------------------------------------------------------------------------------
# Retry policy: a pure decision
# --------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How hard to try again.

    ``max_attempts`` counts the first try. Waits grow as ``base_wait * 2**(attempt-1)``,
    capped at ``max_backoff``, with "equal jitter" (between half and all of it) so that many
    clients do not retry in step. A wait the server asks for (``Retry-After``,
    ``X-Rate-Limit-Reset``) is honoured; if it is longer than ``max_server_wait`` the policy
    gives up and lets the caller decide. ``rate_limited_wait`` is the wait after a 429 that
    names none (Back Market's Cloudflare blocks for 10 s and sends no header).
    """

    max_attempts: int = 4
    base_wait: float = 0.5
    max_backoff: float = 20.0
    max_server_wait: float = 120.0
    rate_limited_wait: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts counts the first try, so it is at least 1")


NO_RETRY = RetryPolicy(max_attempts=1)


@attrs.frozen
class RetryDecision:
    """Wait ``wait`` seconds, then try again.

    ``blind_resend_ok`` is False when the failed request may have taken effect and is not
    idempotent: the caller must first learn whether it did (see :class:`Recheck`).
    """

    wait: float
    blind_resend_ok: bool


_RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def server_wait(headers: Mapping[str, str] | httpx.Headers, now: datetime | None) -> float | None:
    """The wait a response asks for: ``Retry-After`` (seconds or HTTP date), else
    ShipStation's ``X-Rate-Limit-Reset`` when no request is left in the window."""
    import httpx

    if not isinstance(headers, httpx.Headers):
        headers = httpx.Headers(headers)
    retry_after = headers.get("retry-after")
    if retry_after:
        text = retry_after.strip()
        try:
            return max(0.0, float(text))
        except ValueError:
            pass
        from email.utils import parsedate_to_datetime  # ~8 ms to import; rarely needed

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and now is not None and when.tzinfo is not None:
            return max(0.0, (when - now).total_seconds())
    remaining = _header_int(headers, "x-rate-limit-remaining")
    reset = _header_float(headers, "x-rate-limit-reset")
    if reset is not None and remaining is not None and remaining <= 0:
        return max(0.0, reset)
    return None


def decide_retry(
    policy: RetryPolicy,
    *,
    method: str,
    idempotent: bool,
    attempt: int,
    status: int | None = None,
    error: BaseException | None = None,
    headers: Mapping[str, str] | httpx.Headers | None = None,
    rand: float = 0.5,
    now: datetime | None = None,
) -> RetryDecision | None:
    """Whether to try again after ``attempt`` tries, and after how long. Pure.

    Retried: 408, 429 and 5xx answers, timeouts and connection errors. A blind resend is
    allowed for idempotent requests (GETs, ShipStation upserts carrying an ``orderKey``), and
    for any request the server provably did not process: a 429 (refused at the door) or a
    connection that was never opened. ``rand`` in [0, 1) drives the jitter.
    """
    if attempt >= policy.max_attempts:
        return None
    never_sent = False
    if error is not None:
        import httpx

        never_sent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
        if not isinstance(error, (httpx.TimeoutException, httpx.TransportError)):
            return None
    elif status is None or (status not in _RETRYABLE_STATUSES and status < 500):
        return None
    backoff = min(policy.max_backoff, policy.base_wait * 2 ** (attempt - 1))
    wait = backoff * (0.5 + rand / 2)
    asked = server_wait(headers, now) if headers is not None else None
    if asked is None and status == 429:
        asked = policy.rate_limited_wait
    if asked is not None:
        if asked > policy.max_server_wait:
            return None
        # A little jitter on top, so clients that were told the same instant spread out.
        wait = asked + rand * policy.base_wait
    blind_ok = idempotent or never_sent or status == 429 or method.upper() in ("GET", "HEAD")
    return RetryDecision(wait=wait, blind_resend_ok=blind_ok)


def _header_int(headers: Mapping[str, str] | httpx.Headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _header_float(headers: Mapping[str, str] | httpx.Headers, name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


# --------------------------------------------------------------------------------------
# Throttling
# --------------------------------------------------------------------------------------

# Each limiter is its logic (a small state object and the pure steps that read and change it,
# given "now") and a cell that keeps the state: in this process's memory on the monotonic
# clock (the default), or as a record in a shared store on the epoch timeline of
# ``clock.now()`` (monotonic clocks differ per process), so that every process and host that
# uses a credential runs the same logic on one state. See :mod:`backmarket_shipstation.rate_limits`.

S = TypeVar("S")
R = TypeVar("R")

RateRecord = dict[str, Any]
"""A limiter's state as a store keeps it: JSON-able (numbers, lists, ``None``)."""


class RateLimitStore(Protocol):
    """Where limiters shared beyond one process keep their state: one record per key.

    ``update`` reads the record of ``key`` (``None`` when there is none yet), lets ``step``
    return the new record and a result, stores the record and returns the result, atomically
    with respect to every other ``update`` of the key, in any process that uses the store.
    ``blocking`` says whether an update waits on I/O (a database): the asyncio client then runs
    it in a worker thread rather than on the event loop. Raises
    :class:`~backmarket_shipstation.errors.StateStoreError` when the store cannot be reached.
    """

    @property
    def blocking(self) -> bool: ...

    def update(self, key: str, step: Callable[[RateRecord | None], tuple[RateRecord, T]]) -> T: ...


@attrs.frozen
class SharedState:
    """A limiter's place in a :class:`RateLimitStore`: the store and the record's key.

    The key names what the limit counts (a digest of the credential, or of the host for a
    per-address limit), never a secret.
    """

    store: RateLimitStore = attrs.field(repr=False)
    key: str


class _Cell(Generic[S]):
    """Keeps one limiter's state; :meth:`run` applies a step to it atomically."""

    blocking = False

    def run(self, step: Callable[[S, float], R]) -> R:
        """``step(state, now)``, with no other step of this state in between."""
        raise NotImplementedError


class _LocalCell(_Cell[S]):
    """The state in this process's memory, on the monotonic clock, behind a lock."""

    def __init__(self, state: S, clock: Clock) -> None:
        self.state = state
        self.clock = clock
        self._lock = threading.Lock()

    def run(self, step: Callable[[S, float], R]) -> R:
        with self._lock:
            return step(self.state, self.clock.monotonic())


class _StoreCell(_Cell[S]):
    """The state as a record in a shared store, on the epoch timeline of ``clock.now()``.

    When the store cannot be reached the limiter does not stop the client: it falls back to a
    state of its own in this process (logged once per outage), the server's 429s and the retry
    policy still protecting the credential, and uses the store again as soon as it answers.
    """

    blocking = True

    def __init__(
        self,
        shared: SharedState,
        clock: Clock,
        load: Callable[[RateRecord | None, float], S],
        dump: Callable[[S], RateRecord],
        fallback: S,
    ) -> None:
        self.shared = shared
        self.clock = clock
        self._load = load
        self._dump = dump
        self._fallback = _LocalCell(fallback, clock)
        self._failing = False
        self.blocking = bool(shared.store.blocking)

    def run(self, step: Callable[[S, float], R]) -> R:
        def apply(record: RateRecord | None) -> tuple[RateRecord, R]:
            # "now" is read once the record is locked: waiting for the lock takes time.
            now = self.clock.now().timestamp()
            state = self._load(record, now)
            result = step(state, now)
            return self._dump(state), result

        try:
            result = self.shared.store.update(self.shared.key, apply)
        except StateStoreError as exc:
            if not self._failing:
                self._failing = True
                import logging

                logging.getLogger(_LOGGER_NAME).warning(
                    "shared rate limit %s unavailable, limiting in this process only: %s",
                    self.shared.key,
                    exc,
                )
            return self._fallback.run(step)
        self._failing = False
        return result


def _up(value: float, grid: float = 0.001) -> float:
    """``value`` rounded up to ``grid``: a stored instant is never earlier than the real one,
    so a shared window can only hold a call a little longer than needed, never admit more."""
    return math.ceil(value / grid - 1e-9) * grid


class Limiter:
    """Base of the throttles: ``reserve`` says how long to wait before sending, ``observe``
    learns from each answer. Thread-safe; the caller sleeps (sync or async) outside the lock.

    ``blocking`` is True when the limiter's state is in a shared store whose calls wait on I/O
    (the asyncio client then calls it from a worker thread).
    """

    blocking = False

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Book a slot for one request; the seconds to wait before sending it."""
        raise NotImplementedError

    def observe(self, status: int, headers: httpx.Headers, sent: float | None = None) -> None:
        """Learn from an answer (rate-limit headers, a 429); ``sent`` is when its request
        went out (``clock.monotonic()``), to tell an answer about an earlier window."""

    def penalize(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 429)."""


class _SlidingLog:
    """The sends booked in the last window, and the instant a 429 blocks until."""

    __slots__ = ("blocked_until", "slots")

    def __init__(self, slots: Iterable[float] = (), blocked_until: float = float("-inf")) -> None:
        self.slots: deque[float] = deque(slots)
        self.blocked_until = blocked_until

    def reserve(self, now: float, limit: int, window: float) -> float:
        slots = self.slots
        while slots and slots[0] <= now - window:
            slots.popleft()
        slot = max(now, self.blocked_until)
        if len(slots) >= limit:
            slot = max(slot, slots[-limit] + window)
        slots.append(slot)
        return slot - now

    def penalize(self, now: float, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, now + seconds)

    @classmethod
    def load(cls, record: RateRecord | None, now: float) -> _SlidingLog:
        if not record:
            return cls()
        blocked = record.get("blocked_until")
        return cls(record.get("slots", ()), float("-inf") if blocked is None else blocked)

    def dump(self) -> RateRecord:
        blocked = self.blocked_until
        return {
            "slots": [_up(slot) for slot in self.slots],
            "blocked_until": None if blocked == float("-inf") else _up(blocked),
        }


class SlidingWindowLimiter(Limiter):
    """At most ``limit`` requests in any ``window`` seconds (Back Market: about 200 per 10 s;
    the default of 180 keeps a margin for clocks and other tools on the same account).

    ``shared`` keeps the window in a :class:`RateLimitStore` shared by other processes and
    hosts instead of in this process (see :mod:`backmarket_shipstation.rate_limits`).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = 180,
        window: float = 10.0,
        shared: SharedState | None = None,
    ) -> None:
        super().__init__(clock)
        if limit < 1 or window <= 0:
            raise ValueError("a limiter needs a positive limit and window")
        self.limit = limit
        self.window = window
        self.shared = shared
        self._cell: _Cell[_SlidingLog] = (
            _LocalCell(_SlidingLog(), clock)
            if shared is None
            else _StoreCell(shared, clock, _SlidingLog.load, _SlidingLog.dump, _SlidingLog())
        )
        self.blocking = self._cell.blocking

    def reserve(self) -> float:
        limit, window = self.limit, self.window
        return self._cell.run(lambda log, now: log.reserve(now, limit, window))

    def observe(self, status: int, headers: httpx.Headers, sent: float | None = None) -> None:
        if status == 429:
            asked = server_wait(headers, None)
            self.penalize(asked if asked is not None else self.window)

    def penalize(self, seconds: float) -> None:
        self._cell.run(lambda log, now: log.penalize(now, seconds))


class _BudgetLog:
    """The calls booked in each window of a :class:`Budget`, and the last slot booked."""

    __slots__ = ("last", "slots")

    def __init__(self, windows: int) -> None:
        self.slots: tuple[deque[float], ...] = tuple(deque() for _ in range(windows))
        self.last = float("-inf")

    def earliest(
        self, name: str, windows: Sequence[tuple[int, float]], cost: int, now: float
    ) -> float:
        slot = max(now, self.last)  # first come, first served
        for (limit, seconds), slots in zip(windows, self.slots, strict=True):
            if cost > limit:
                raise ValueError(
                    f"{cost} calls can never fit the {name} budget of {limit} per {_span(seconds)}"
                )
            while slots and slots[0] <= now - seconds:
                slots.popleft()
            # At most limit - cost earlier calls may remain in the window ending at slot.
            keep = limit - cost
            if len(slots) > keep:
                slot = max(slot, slots[-(keep + 1)] + seconds)
        return slot

    def book(
        self, name: str, windows: Sequence[tuple[int, float]], at: float, cost: int, now: float
    ) -> float:
        slot = max(at, self.earliest(name, windows, cost, now))
        for slots in self.slots:
            slots.extend([slot] * cost)
        self.last = slot
        return slot

    def available(self, windows: Sequence[tuple[int, float]], now: float) -> int:
        if self.last > now:
            return 0
        room = []
        for (limit, seconds), slots in zip(windows, self.slots, strict=True):
            while slots and slots[0] <= now - seconds:
                slots.popleft()
            room.append(limit - len(slots))
        return max(0, min(room))

    def used(self, windows: Sequence[tuple[int, float]], seconds: float, now: float) -> int:
        longest = max(range(len(windows)), key=lambda i: windows[i][1])
        return sum(1 for t in self.slots[longest] if t > now - seconds)

    @staticmethod
    def loader(
        windows: Sequence[tuple[int, float]],
    ) -> Callable[[RateRecord | None, float], _BudgetLog]:
        def load(record: RateRecord | None, now: float) -> _BudgetLog:
            log = _BudgetLog(len(windows))
            if not record or len(record.get("runs", ())) != len(windows):
                return log  # none yet, or written for other windows: start afresh
            for slots, runs in zip(log.slots, record["runs"], strict=True):
                for at, count in runs:
                    slots.extend([float(at)] * int(count))
            last = record.get("last")
            log.last = float("-inf") if last is None else float(last)
            return log

        return load

    @staticmethod
    def dumper(windows: Sequence[tuple[int, float]]) -> Callable[[_BudgetLog], RateRecord]:
        def dump(log: _BudgetLog) -> RateRecord:
            # Runs of (instant, calls), each instant rounded up to 1/200 of its window: a day's
            # window of 40,000 calls is at most ~200 runs, and rounding up only holds calls a
            # little longer (at most 0.5 % of the window), never admits more.
            every: list[list[list[float]]] = []
            for (_, seconds), slots in zip(windows, log.slots, strict=True):
                grid = max(0.001, seconds / 200)
                runs: list[list[float]] = []
                for slot in slots:
                    at = _up(slot, grid)
                    if runs and runs[-1][0] == at:
                        runs[-1][1] += 1
                    else:
                        runs.append([at, 1])
                every.append(runs)
            last = log.last
            return {"runs": every, "last": None if last == float("-inf") else _up(last)}

        return dump


class Budget:
    """A documented limit of one endpoint: at most ``limit`` calls in any ``seconds``, for each
    ``(limit, seconds)`` window (Back Market's care list: 520 per minute *and* 4,000 per day).

    Sliding windows, so that no 24-hour span (and therefore no calendar day) holds more than
    the daily limit. A call of ``cost`` n books n slots (an endpoint that counts lines, not
    requests). Shared by every client of the credential in the process (see
    :func:`shared_limiter`); with ``shared``, by every process and host that uses the store
    (see :mod:`backmarket_shipstation.rate_limits`).
    """

    def __init__(
        self,
        clock: Clock,
        name: str,
        windows: Sequence[tuple[int, float]],
        *,
        shared: SharedState | None = None,
    ) -> None:
        if not windows or any(limit < 1 or seconds <= 0 for limit, seconds in windows):
            raise ValueError("a budget needs at least one window with a positive limit")
        self.clock = clock
        self.name = name
        self.windows = tuple((int(limit), float(seconds)) for limit, seconds in windows)
        self.shared = shared
        self._cell: _Cell[_BudgetLog] = (
            _LocalCell(_BudgetLog(len(self.windows)), clock)
            if shared is None
            else _StoreCell(
                shared,
                clock,
                _BudgetLog.loader(self.windows),
                _BudgetLog.dumper(self.windows),
                _BudgetLog(len(self.windows)),
            )
        )
        self.blocking = self._cell.blocking

    def __repr__(self) -> str:
        rules = ", ".join(f"{limit}/{_span(seconds)}" for limit, seconds in self.windows)
        return f"Budget({self.name!r}, {rules})"

    # The cell's timeline may not be this process's monotonic clock (a shared store keeps
    # epoch seconds): instants cross the boundary as offsets from "now".

    def earliest(self, cost: int = 1) -> float:
        """The monotonic time at which ``cost`` more calls fit in every window."""
        mono = self.clock.monotonic()
        name, windows = self.name, self.windows
        ahead = self._cell.run(lambda log, now: log.earliest(name, windows, cost, now) - now)
        return mono + ahead

    def book(self, at: float, cost: int = 1) -> float:
        """Book ``cost`` calls at ``at`` or later (if others came first); the time booked."""
        mono = self.clock.monotonic()
        offset = at - mono
        name, windows = self.name, self.windows
        ahead = self._cell.run(
            lambda log, now: log.book(name, windows, now + offset, cost, now) - now
        )
        return mono + ahead

    def available(self) -> int:
        """Calls that fit right now in every window (0 while calls are queued for later)."""
        windows = self.windows
        return self._cell.run(lambda log, now: log.available(windows, now))

    def used(self, seconds: float) -> int:
        """Calls booked in the last ``seconds`` (and queued ones), for reports and tests."""
        windows = self.windows
        return self._cell.run(lambda log, now: log.used(windows, seconds, now))


def _span(seconds: float) -> str:
    for name, length in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds == length:
            return name
    return f"{seconds:g} s"


def reserve_budgets(
    budgets: Mapping[str, Budget],
    uses: Sequence[tuple[str, int]],
    clock: Clock,
    *,
    max_wait: float | None,
    api: str,
    method: str,
    path: str,
    waits: Sequence[tuple[str, float | None]] = (),
) -> float:
    """Book one call in each budget ``uses`` names; the seconds to wait before sending.

    When the wait would exceed ``max_wait`` nothing is booked and
    :class:`~backmarket_shipstation.errors.BudgetExhaustedError` says which budget is spent and
    when it frees up (``max_wait=None`` waits as long as it takes). ``waits`` gives some
    budgets their own maximum wait instead (``None``: as long as it takes).
    """
    own = dict(waits)
    found = []
    for name, cost in uses:
        budget = budgets.get(name)
        if budget is None:
            raise KeyError(f"no budget named {name!r} on this client")
        found.append((name, budget, cost))
    times = [(name, budget, budget.earliest(cost)) for name, budget, cost in found]
    # Read after the budgets did: on a real clock a budget with room answers an instant just
    # past, never a wait, so "refuse unless there is room now" (a max wait of 0) holds.
    now = clock.monotonic()
    at = max(when for _, _, when in times)
    for name, budget, when in times:
        limit = own.get(name, max_wait)
        if limit is not None and when - now > limit:
            from .errors import BudgetExhaustedError

            raise BudgetExhaustedError(
                api=api, method=method, path=path, budget=repr(budget), wait=when - now
            )
    for _, budget, cost in found:
        at = max(at, budget.book(at, cost))
    return max(0.0, at - now)


class _FixedWindow:
    """ShipStation's window as the limiter models it: requests left, and its start and end
    (``end`` is ``None`` until a request opens a window)."""

    __slots__ = ("end", "limit", "remaining", "start")

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.remaining = limit
        self.start = now
        self.end: float | None = None

    def reserve(self, now: float, window: float) -> float:
        if self.end is not None and now >= self.end:
            self.remaining = self.limit
            self.start = now
            self.end = None
        if self.remaining <= 0:
            # None left: book the next window (the window being filled may itself be a
            # future one, when requests are already queued).
            start = self.end if self.end is not None else now + window
            self.start = start
            self.end = start + window
            self.remaining = self.limit
        self.remaining -= 1
        if self.end is None:
            self.start = now
            self.end = now + window
        return max(0.0, self.start - now)

    def observe(
        self,
        now: float,
        status: int,
        remaining: int,
        reset: float,
        limit: int | None,
        sent: float | None = None,
    ) -> None:
        if limit is not None and limit > 0:
            self.limit = limit
        if self.start > now and status != 429:
            # Requests are queued for a later window; this answer speaks of an older one.
            return
        if sent is not None and sent < self.start - 0.001:
            # Sent before the window being filled began (an answer that came back late, from
            # another thread or process): what it says of its window is not this one's. (A
            # millisecond of slack for the instants' trip between clocks and timelines.)
            return
        server_end = now + max(0.0, reset)
        if self.end is None or server_end > self.end + 1.0:
            # The server is in a window we have not modelled yet: it knows best.
            self.remaining = remaining
        else:
            # Same window: our count already spent requests still in flight.
            self.remaining = min(self.remaining, remaining)
        self.start = min(self.start, now)
        self.end = server_end
        if status == 429:
            self.remaining = 0

    def penalize(self, now: float, seconds: float) -> None:
        self.remaining = 0
        self.start = min(self.start, now)
        self.end = now + seconds

    @staticmethod
    def loader(limit: int) -> Callable[[RateRecord | None, float], _FixedWindow]:
        def load(record: RateRecord | None, now: float) -> _FixedWindow:
            state = _FixedWindow(limit, now)
            if record:
                state.limit = int(record["limit"])
                state.remaining = int(record["remaining"])
                state.start = float(record["start"])
                end = record.get("end")
                state.end = None if end is None else float(end)
            return state

        return load

    def dump(self) -> RateRecord:
        # Instants are kept as read (not rounded): ShipStation's window is fixed, and the
        # server's Reset already rounds its end up to a whole second.
        return {"limit": self.limit, "remaining": self.remaining, "start": self.start,
                "end": self.end}  # fmt: skip


class HeaderDrivenLimiter(Limiter):
    """ShipStation V1: ``limit`` requests per fixed window of ``window`` seconds per key pair,
    steered by ``X-Rate-Limit-Remaining`` / ``X-Rate-Limit-Reset`` (seconds to the next window).

    Until the server has spoken the limiter assumes a full window. Each reservation spends one
    request; when none is left it books the next window instead of letting the server answer
    429, and requests beyond that queue window after window. ``shared`` keeps the window in a
    :class:`RateLimitStore` shared by other processes and hosts (see
    :mod:`backmarket_shipstation.rate_limits`): the first ``limit`` requests of a window go at
    once, whoever sends them, and the next wait for the end the server announced.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limit: int = 40,
        window: float = 60.0,
        shared: SharedState | None = None,
    ) -> None:
        super().__init__(clock)
        if limit < 1 or window <= 0:
            raise ValueError("a limiter needs a positive limit and window")
        self.window = window
        self.shared = shared
        self._cell: _Cell[_FixedWindow] = (
            _LocalCell(_FixedWindow(limit, clock.monotonic()), clock)
            if shared is None
            else _StoreCell(
                shared,
                clock,
                _FixedWindow.loader(limit),
                _FixedWindow.dump,
                _FixedWindow(limit, clock.monotonic()),
            )
        )
        self.blocking = self._cell.blocking

    @property
    def limit(self) -> int:
        """Requests per window (the server's ``X-Rate-Limit-Limit`` once it has said)."""
        return self._cell.run(lambda state, now: state.limit)

    @property
    def remaining(self) -> int:
        """Requests the limiter believes are left in the window being filled."""
        return self._cell.run(lambda state, now: state.remaining)

    def reserve(self) -> float:
        window = self.window
        return self._cell.run(lambda state, now: state.reserve(now, window))

    def observe(self, status: int, headers: httpx.Headers, sent: float | None = None) -> None:
        remaining = _header_int(headers, "x-rate-limit-remaining")
        reset = _header_float(headers, "x-rate-limit-reset")
        if remaining is None or reset is None:
            if status == 429:
                self.penalize(self.window)
            return
        limit = _header_int(headers, "x-rate-limit-limit")
        # ``sent`` crosses into the cell's timeline as an offset from now (see Budget).
        ago = None if sent is None else self.clock.monotonic() - sent
        self._cell.run(
            lambda state, now: state.observe(
                now, status, remaining, reset, limit, None if ago is None else now - ago
            )
        )

    def penalize(self, seconds: float) -> None:
        self._cell.run(lambda state, now: state.penalize(now, seconds))


# Strong references: a limiter must outlive the client that made it, so that the next client
# of the same credential (the next run of a watch loop, a webhook receiver beside a poller)
# still knows how many requests the current window holds. Limiters are small, and each holds
# its clock, so an ``id(clock)`` in a key is never reused while its entry lives.
_LIMITERS: dict[tuple[str, str, int], Any] = {}
_LIMITERS_LOCK = threading.Lock()


L = TypeVar("L", Limiter, Budget)


def shared_limiter(kind: str, credential: Secret, clock: Clock, factory: Callable[[Clock], L]) -> L:
    """The one limiter of this credential (and clock) in the process.

    Keyed by a SHA-256 of the credential, never the credential itself. The clock is part of the
    key because a limiter measures time: clients on different virtual clocks (tests) must not
    share one. The limiter holds its clock, so ``id(clock)`` stays unique while it lives.
    """
    key = (kind, credential.digest(), id(clock))
    with _LIMITERS_LOCK:
        limiter: L | None = _LIMITERS.get(key)
        if limiter is None:
            limiter = factory(clock)
            _LIMITERS[key] = limiter
        return limiter


LimiterFactory = Callable[[Clock, "SharedState | None"], L]
"""Builds a limiter on a clock, its state shared (a :class:`SharedState`) or not (``None``)."""


class _RateLimits(Protocol):
    # What the clients need of backmarket_shipstation.rate_limits.RateLimits (not imported
    # here: a client built without one never loads it).
    def limiter(
        self, kind: str, credential: Secret, clock: Clock, factory: LimiterFactory[L]
    ) -> L: ...


def limiter_for(
    rate_limits: _RateLimits | None,
    kind: str,
    credential: Secret,
    clock: Clock,
    factory: LimiterFactory[L],
) -> L:
    """The limiter a client uses: from ``rate_limits`` (a
    :class:`~backmarket_shipstation.rate_limits.RateLimits`, shared through its store) when
    given, else the process's own (:func:`shared_limiter`)."""
    if rate_limits is None:
        return shared_limiter(kind, credential, clock, lambda c: factory(c, None))
    return rate_limits.limiter(kind, credential, clock, factory)


# --------------------------------------------------------------------------------------
# Error mapping
# --------------------------------------------------------------------------------------


def _decode_json(response: httpx.Response) -> Any:
    """The JSON body of an error answer, or None (error pages may be HTML or empty)."""
    import json

    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _decode_body(response: httpx.Response) -> Any:
    """The JSON body of a successful answer, or None when it is empty or not declared JSON.

    ``ValueError`` when the answer says it is JSON but is not: a body cut short or garbled.
    """
    import json

    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not response.content.strip():
        return None
    if content_type != "application/json" and not content_type.endswith("+json"):
        # Text answers ("The invoice has been updated") carry nothing to parse.
        return _decode_json(response)
    return json.loads(response.content)


# The effects a policy yields: plain slotted classes, as nothing but the two loops ever sees
# them (an attrs class costs ~0.6 ms of import each, for methods these never use).
class _Sleep:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class _Send:
    __slots__ = ("request",)

    def __init__(self, request: Request[Any]) -> None:
        self.request = request


class _Reread:
    __slots__ = ("request",)

    def __init__(self, request: Request[Any]) -> None:
        self.request = request


class _Call:
    """A limiter step that waits on a shared store: the asyncio loop runs it in a thread."""

    __slots__ = ("function",)

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function


_Effect = _Sleep | _Send | _Reread | _Call


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _status_class(status: int) -> type[APIError]:
    if status in (400, 422):
        return InvalidRequestError
    if status == 401:
        return AuthenticationError
    if status == 403:
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return APIError


def _looks_like_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type:
        return True
    head = response.content[:200].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _backmarket_message(body: Any) -> tuple[str | None, bool]:
    """The text of any documented Back Market error envelope, and whether it is a bot challenge.

    V1 ``{"error": {"code", "message"}, "requestId"}``; V2 ``{"errors": [{code, message}]}``;
    V3 problem+json ``{"title", "errors": [{"detail"}]}``; Backship ``{"error": {...},
    "data": {"fields": {...}}}``; a bare JSON string.
    """
    if isinstance(body, str):
        return body, False
    if not isinstance(body, Mapping):
        return None, False
    parts: list[str] = []
    challenge = False
    error = body.get("error")
    if isinstance(error, Mapping):
        code, message = error.get("code"), error.get("message")
        parts.append(": ".join(str(p) for p in (code, message) if p))
    elif isinstance(error, str) and not body.get("title"):
        parts.append(error)
    title = body.get("title")
    if isinstance(title, str) and title:
        parts.append(title)
    errors = body.get("errors")
    if isinstance(errors, Sequence) and not isinstance(errors, str):
        for item in errors:
            if isinstance(item, Mapping):
                if item.get("code") == "bot-need-challenge":
                    challenge = True
                text = item.get("detail") or item.get("message") or item.get("title")
                target = item.get("target")
                code = item.get("code")
                piece = str(text) if text else str(code or "")
                if target:
                    piece = f"{target}: {piece}"
                if piece:
                    parts.append(piece)
            elif isinstance(item, str):
                parts.append(item)
    data = body.get("data")
    fields = data.get("fields") if isinstance(data, Mapping) else None
    if isinstance(fields, Mapping):
        for name, problems in fields.items():
            texts = problems if isinstance(problems, list) else [problems]
            parts.append(f"{name}: " + "; ".join(str(t) for t in texts))
    if not parts:
        for key in ("message", "detail", "error_description"):
            if isinstance(body.get(key), str):
                parts.append(body[key])
                break
    return ("; ".join(p for p in parts if p) or None), challenge


def backmarket_error(method: str, path: str, response: httpx.Response) -> APIError:
    """The SDK error for a Back Market error answer (any envelope, HTML or plain text).

    A 403 that is an HTML page or a ``bot-need-challenge`` is the Cloudflare firewall
    (:class:`FirewallBlockedError`), not a permissions problem; its ``request_id`` is the
    ``cf-ray`` header, which is what Back Market support asks for.
    """
    status = response.status_code
    body = _decode_json(response)
    html = body is None and _looks_like_html(response)
    message, challenge = _backmarket_message(body)
    if message is None:
        if html:
            message = (
                "blocked by Back Market's firewall (HTML page)"
                if status == 403
                else ("HTML error page")
            )
        elif response.content and body is None:
            message = response.text
        else:
            message = response.reason_phrase or "error"
    request_id = None
    if isinstance(body, Mapping) and isinstance(body.get("requestId"), str):
        request_id = body["requestId"]
    request_id = request_id or response.headers.get("cf-ray")
    cls = _status_class(status)
    if status == 403 and (html or challenge or body is None):
        # An HTML page, a bot challenge (backmarket.md §6.4), or no JSON at all: the firewall
        # or a proxy, not Back Market's application judging the token.
        cls = FirewallBlockedError
        message = (
            f"{_short(message)} (Cloudflare firewall: check the User-Agent, and give the "
            "cf-ray id to your Back Market contact)"
        )
    if status == 404 and path.rstrip("/") == "/ws/orders":
        message = f"{message} (on the order list this means the webservices are unavailable)"
    return cls(
        _short(message),
        api="Back Market",
        method=method,
        path=path,
        status_code=status,
        request_id=request_id,
        response=response,
        details=body,
        retry_after=server_wait(response.headers, None) if status == 429 else None,
    )


def _get_ci(body: Mapping[str, Any], name: str) -> Any:
    lowered = name.lower()
    for key, value in body.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


def shipstation_error(method: str, path: str, response: httpx.Response) -> APIError:
    """The SDK error for a ShipStation answer: ``Message``/``message``, ``ExceptionMessage``
    and ``ModelState``, matched case-insensitively (ASP.NET Web API shapes)."""
    status = response.status_code
    body = _decode_json(response)
    parts: list[str] = []
    if isinstance(body, Mapping):
        for key in ("Message", "ExceptionMessage"):
            value = _get_ci(body, key)
            if isinstance(value, str) and value:
                parts.append(value)
        model_state = _get_ci(body, "ModelState")
        if isinstance(model_state, Mapping):
            for name, problems in model_state.items():
                texts = problems if isinstance(problems, list) else [problems]
                parts.append(f"{name}: " + "; ".join(str(t) for t in texts))
    elif isinstance(body, str):
        parts.append(body)
    html = body is None and _looks_like_html(response)
    if not parts:
        if response.content and body is None and not html:
            parts.append(response.text)
        else:
            parts.append(response.reason_phrase or "error")
    cls = _status_class(status)
    if status == 403 and not isinstance(body, Mapping):
        # ShipStation states its errors in ASP.NET's JSON envelope (shipstation.md §1.5). A
        # 403 without it (an HTML page, an empty or text body) came from a firewall or proxy
        # on the way, not from ShipStation judging the key pair: transient, not a bad setting.
        cls = FirewallBlockedError
        what = "an HTML page" if html else "no ShipStation error body"
        parts = [
            f"{_short(' '.join(parts))} (blocked on the way to ShipStation: {what}; not a"
            " refusal of the key pair, retry later)"
        ]
    return cls(
        _short(" ".join(parts)),
        api="ShipStation",
        method=method,
        path=path,
        status_code=status,
        request_id=response.headers.get("x-request-id"),
        response=response,
        details=body,
        retry_after=server_wait(response.headers, None) if status == 429 else None,
    )


def transport_error(api: str, method: str, path: str, exc: Exception) -> APIConnectionError:
    """The SDK error for an answer that never came. The message names the failure kind only:
    httpx messages can carry the full URL, whose query may hold buyers' names."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.replace("Timeout", " timeout").strip().lower()
        return APITimeoutError(f"{kind} (no answer in time)", api=api, method=method, path=path)
    return APIConnectionError(
        f"connection failed ({type(exc).__name__})", api=api, method=method, path=path
    )


# --------------------------------------------------------------------------------------
# The core shared by both clients and both modes
# --------------------------------------------------------------------------------------


class _Core:
    """Configuration and the pure steps of a call; subclasses add the sync or async loop."""

    def __init__(
        self,
        *,
        api: ApiName,
        base_url: str,
        headers: Mapping[str, str],
        authorization: Secret,
        limiter: Limiter,
        retry_policy: RetryPolicy,
        error_mapper: Callable[[str, str, httpx.Response], APIError],
        clock: Clock,
        rng: random.Random | None = None,
        budgets: Mapping[str, Budget] | None = None,
        max_budget_wait: float | None = 120.0,
        auth_header: str = "Authorization",
    ) -> None:
        import logging
        import random

        self.api: ApiName = api
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._authorization = authorization
        self._auth_header = auth_header
        self.limiter = limiter
        self.budgets: Mapping[str, Budget] = dict(budgets or {})
        """Per-endpoint budgets by name (see :class:`Request.budgets`)."""
        self.max_budget_wait = max_budget_wait
        self.retry_policy = retry_policy
        self._error_mapper = error_mapper
        self.clock = clock
        self._rng = rng or random.Random()
        self._logger = logging.getLogger(_LOGGER_NAME)
        self.last_response: httpx.Response | None = None
        """The most recent HTTP answer (status, headers), for callers who want to look."""

    def url(self, path: str) -> str:
        return self.base_url + path

    def headers(self) -> dict[str, str]:
        headers = dict(self._headers)
        headers[self._auth_header] = self._authorization.reveal()
        return headers

    def build(self, http: httpx.Client | httpx.AsyncClient, request: Request[Any]) -> httpx.Request:
        headers = self.headers()
        headers.update(request.headers)
        if request.files is not None:
            # httpx writes the multipart Content-Type with its boundary; ours would hide it.
            headers.pop("Content-Type", None)
        return http.build_request(
            request.method,
            self.url(request.path),
            params=list(request.params) or None,
            json=request.json if request.files is None else None,
            data=request.json if request.files is not None else None,
            files=request.files,
            headers=headers,
        )

    def log(self, request: Request[Any], status: int | str, started: float, attempt: int) -> None:
        logger = self._logger
        if logger.isEnabledFor(_DEBUG):
            names = "&".join(f"{k}=" for k, _ in request.params)
            where = f"{request.path}?{names}" if names else request.path
            elapsed = (self.clock.monotonic() - started) * 1000
            logger.debug(
                "%s %s %s -> %s in %.1f ms (attempt %d)",
                self.api,
                request.method,
                where,
                status,
                elapsed,
                attempt,
            )

    def policy(self, request: Request[T]) -> Generator[_Effect, Any, T]:
        """Throttle, send, retry and re-check ``request``, once for both modes.

        A generator of effects (sleep, send over HTTP, re-read): :class:`SyncCore` and
        :class:`AsyncCore` only carry them out, blocking or awaiting, and send back the answer
        (a response, or the exception the effect raised).
        """
        import httpx

        attempt = 0
        while True:
            attempt += 1
            if request.budgets:
                # Every attempt is a call the endpoint's limit counts (a 429 included).
                book = functools.partial(
                    reserve_budgets,
                    self.budgets,
                    request.budgets,
                    self.clock,
                    max_wait=self.max_budget_wait,
                    api=self.api,
                    method=request.method,
                    path=request.path,
                    waits=request.budget_waits,
                )
                blocking = any(
                    self.budgets[n].blocking for n, _ in request.budgets if n in self.budgets
                )
                yield _Sleep((yield _Call(book)) if blocking else book())
            limiter = self.limiter
            yield _Sleep((yield _Call(limiter.reserve)) if limiter.blocking else limiter.reserve())
            started = self.clock.monotonic()
            outcome = yield _Send(request)
            if isinstance(outcome, httpx.Response):
                self.log(request, outcome.status_code, started, attempt)
                if limiter.blocking:
                    yield _Call(
                        functools.partial(
                            limiter.observe, outcome.status_code, outcome.headers, started
                        )
                    )
                else:
                    limiter.observe(outcome.status_code, outcome.headers, started)
                self.last_response = outcome
                if outcome.is_success:
                    if request.parse is no_content:
                        return request.parse(None)
                    if request.text:
                        return request.parse(outcome.text)
                    try:
                        body = _decode_body(outcome)
                    except ValueError:
                        # A cut or garbled body: the answer did not arrive, as if the
                        # connection had dropped mid-way; retried (or re-checked) likewise.
                        outcome = httpx.RemoteProtocolError("malformed JSON in the response body")
                    else:
                        return request.parse(body)
            failure: Exception
            if isinstance(outcome, httpx.Response):
                answer = _without_credentials(outcome, self._authorization)
                failure = self._error_mapper(request.method, request.path, answer)
                decision = self.decide(request, attempt, response=outcome)
            else:
                self.log(request, type(outcome).__name__, started, attempt)
                failure = transport_error(self.api, request.method, request.path, outcome)
                decision = self.decide(request, attempt, error=outcome)
            if decision is None:
                raise failure
            yield _Sleep(decision.wait)
            if not decision.blind_resend_ok:
                if request.recheck is None:
                    raise failure
                reread = yield _Reread(request.recheck.request)
                if isinstance(reread, BackMarketShipStationError):
                    # The write's outcome stays unknown: report the write's failure.
                    raise failure from reread
                confirmed = request.recheck.confirm(reread)
                if confirmed is not None:
                    return confirmed

    def decide(
        self,
        request: Request[Any],
        attempt: int,
        *,
        response: httpx.Response | None = None,
        error: BaseException | None = None,
    ) -> RetryDecision | None:
        return decide_retry(
            self.retry_policy,
            method=request.method,
            idempotent=request.idempotent,
            attempt=attempt,
            status=None if response is None else response.status_code,
            error=error,
            headers=None if response is None else response.headers,
            rand=self._rng.random(),
            now=self.clock.now(),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api={self.api!r}, base_url={self.base_url!r})"


class SyncCore(_Core):
    """The blocking loop: one long-lived :class:`httpx.Client`."""

    def __init__(
        self,
        *,
        http_client: httpx.Client | None,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        **kwargs: Any,
    ) -> None:
        import httpx

        super().__init__(**kwargs)
        # A client the caller passes stays theirs to close; one made here is ours.
        self._owns_http_client = http_client is None
        self.http = http_client or httpx.Client(
            transport=transport, timeout=_default_timeout() if timeout is None else timeout
        )

    def send(self, request: Request[T]) -> T:
        """Run ``request`` through throttle, retry and error policy; return its parsed result."""
        import httpx

        steps = self.policy(request)
        answer: Any = None
        while True:
            try:
                effect = steps.send(answer)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(effect, _Sleep):
                self.clock.sleep(effect.seconds)
                answer = None
            elif isinstance(effect, _Call):
                answer = effect.function()
            elif isinstance(effect, _Send):
                try:
                    answer = self.http.send(self.build(self.http, effect.request))
                except httpx.HTTPError as exc:
                    answer = exc
            else:
                try:
                    answer = self.send(effect.request)
                except BackMarketShipStationError as exc:
                    answer = exc

    def close(self) -> None:
        """Close the HTTP connections (only if this client created them)."""
        if self._owns_http_client:
            self.http.close()


class AsyncCore(_Core):
    """The asyncio loop: one long-lived :class:`httpx.AsyncClient`."""

    def __init__(
        self,
        *,
        http_client: httpx.AsyncClient | None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        **kwargs: Any,
    ) -> None:
        import httpx

        super().__init__(**kwargs)
        # A client the caller passes stays theirs to close; one made here is ours.
        self._owns_http_client = http_client is None
        self.http = http_client or httpx.AsyncClient(
            transport=transport, timeout=_default_timeout() if timeout is None else timeout
        )

    async def send(self, request: Request[T]) -> T:
        """Run ``request`` through throttle, retry and error policy; return its parsed result."""
        import httpx

        steps = self.policy(request)
        answer: Any = None
        while True:
            try:
                effect = steps.send(answer)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(effect, _Sleep):
                await self.clock.asleep(effect.seconds)
                answer = None
            elif isinstance(effect, _Call):
                # A round trip to the shared store (about a millisecond on a LAN, more over a
                # slow link) would stall every task of the loop: it runs in a worker thread.
                import asyncio

                answer = await asyncio.to_thread(effect.function)
            elif isinstance(effect, _Send):
                try:
                    answer = await self.http.send(self.build(self.http, effect.request))
                except httpx.HTTPError as exc:
                    answer = exc
            else:
                try:
                    answer = await self.send(effect.request)
                except BackMarketShipStationError as exc:
                    answer = exc

    async def aclose(self) -> None:
        """Close the HTTP connections (only if this client created them)."""
        if self._owns_http_client:
            await self.http.aclose()


# --------------------------------------------------------------------------------------
# Pagination
# --------------------------------------------------------------------------------------

NextPage = Callable[[Request[P], P, int], "Request[P] | None"]
"""Given the request of a page, the page, and how many items were seen so far (this page
included), the request of the next page or ``None`` at the end."""


class Paginator(Generic[P, I]):
    """A lazy iterator over every item of a paginated list; pages are fetched as needed.

    Iterate it for items, or call :meth:`pages` for the page objects (counts, links).
    """

    def __init__(
        self,
        send: Callable[[Request[P]], P],
        first: Request[P],
        items: Callable[[P], Sequence[I]],
        next_page: NextPage[P],
    ) -> None:
        self._send = send
        self._first = first
        self._items = items
        self._next_page = next_page

    def pages(self) -> Iterator[P]:
        """Each page, fetched when the previous one has been consumed."""
        request: Request[P] | None = self._first
        seen = 0
        while request is not None:
            page = self._send(request)
            seen += len(self._items(page))
            yield page
            request = self._next_page(request, page, seen)

    def __iter__(self) -> Iterator[I]:
        for page in self.pages():
            yield from self._items(page)


class AsyncPaginator(Generic[P, I]):
    """The ``async for`` twin of :class:`Paginator`."""

    def __init__(
        self,
        send: Callable[[Request[P]], Awaitable[P]],
        first: Request[P],
        items: Callable[[P], Sequence[I]],
        next_page: NextPage[P],
    ) -> None:
        self._send = send
        self._first = first
        self._items = items
        self._next_page = next_page

    async def pages(self) -> AsyncIterator[P]:
        """Each page, fetched when the previous one has been consumed."""
        request: Request[P] | None = self._first
        seen = 0
        while request is not None:
            page = await self._send(request)
            seen += len(self._items(page))
            yield page
            request = self._next_page(request, page, seen)

    async def __aiter__(self) -> AsyncIterator[I]:
        async for page in self.pages():
            for item in self._items(page):
                yield item


# --------------------------------------------------------------------------------------
# What every SDK client shows, whatever its API and mode
# --------------------------------------------------------------------------------------


class ClientBase:
    """Repr without secrets, the base URL and the last raw response."""

    _core: SyncCore | AsyncCore

    @property
    def base_url(self) -> str:
        """Scheme and host every request goes to."""
        return self._core.base_url

    @property
    def last_response(self) -> httpx.Response | None:
        """The most recent HTTP answer (status, headers); errors also carry theirs."""
        return self._core.last_response

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._core.base_url!r})"


class SyncClientBase(ClientBase):
    """``close()`` and ``with`` for a blocking client."""

    _core: SyncCore

    def close(self) -> None:
        """Close the connections (a client passed as ``http_client`` stays open)."""
        self._core.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClientBase(ClientBase):
    """``aclose()`` and ``async with`` for an asyncio client."""

    _core: AsyncCore

    async def aclose(self) -> None:
        """Close the connections (a client passed as ``http_client`` stays open)."""
        await self._core.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
