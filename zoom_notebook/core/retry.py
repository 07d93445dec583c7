"""When may a request be tried again, and how long to wait: the ONE retry policy.

Used by the REST client (``zoom_notebook.client``), token requests
(``zoom_notebook.credentials``, ``zoom_notebook.userauth``) and the outbox
(``zoom_notebook.outbox``), so they agree on what may be retried and for how long.

- Only what cannot have been delivered is retried at once: connect-phase errors, 429/503
  within a time budget, one 401 after a refresh (SECURITY.md 18). The rest is the
  caller's to resolve (see ``zoom_notebook.resolve``).
- ``Retry-After`` is read as seconds, an HTTP-date or an ISO date-time (Zoom's form,
  ``2020-05-31T00:00:00Z``); unparseable means "unknown", and jittered exponential
  backoff is used (SECURITY.md 19).
- Every wait has a floor (SECURITY.md 28): a ``Retry-After`` of 0, in the past, or ahead
  of a skewed clock still waits at least ``FLOOR`` seconds. A date is compared with
  the server's own ``Date`` header when it sends one, so a wrong local clock does not
  shorten (or stretch) the wait.
- A daily limit is never waited out: the caller fails fast naming the reset time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import random
import re
import time
from typing import Any, Callable, Mapping

_SECONDS_RE = re.compile(r"^\s*\d+(\.\d+)?\s*$")
_MAX_SECONDS = 10 * 365 * 24 * 3600

#: First backoff step in seconds (a program or a soak test may lower it).
BACKOFF_BASE = 0.5
#: The least any retry waits, in seconds, whatever the server says (SECURITY.md 28).
FLOOR = 0.25
#: Later attempts the outbox makes (after the client's own retries) before giving up.
OUTBOX_ATTEMPTS = 4
#: The outbox's cap on one wait between its attempts, in seconds.
OUTBOX_CAP = 30.0
#: connect and read timeouts for token requests (SECURITY.md 17)
TOKEN_TIMEOUT = (5.0, 30.0)


def refresh_margin(lifetime: float) -> float:
    """Renew a token when less than min(60 s, half its lifetime) remains (CONTRACT.md)."""
    return min(60.0, max(lifetime, 0.0) / 2.0)


def parse_retry_after(value: object, now: dt.datetime | None = None) -> dt.datetime | None:
    """Return the aware UTC time ``value`` (a ``Retry-After`` header) points at, or None.

    ``now`` (aware) is the reference for a delay in seconds. Never raises.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return None
    now = now or dt.datetime.now(dt.timezone.utc)
    text = value.strip()
    try:
        if _SECONDS_RE.match(text):
            seconds = float(text)
            if seconds > _MAX_SECONDS:
                return None
            return now + dt.timedelta(seconds=seconds)
        if re.match(r"^\d{4}-\d{2}-\d{2}", text):
            iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
            when = dt.datetime.fromisoformat(iso)
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            return when.astimezone(dt.timezone.utc)
        return _http_date(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def _http_date(text: str) -> dt.datetime:
    when = email.utils.parsedate_to_datetime(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc)


def server_time(date_header: object) -> dt.datetime | None:
    """The server's clock from its ``Date`` header (an HTTP-date), or None."""
    if not isinstance(date_header, str) or not date_header.strip() or len(date_header) > 100:
        return None
    try:
        return _http_date(date_header.strip())
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def backoff_delay(attempt: int, base: float | None = None, cap: float = 8.0) -> float:
    """Jittered exponential backoff: a random delay in [ceiling/4, ceiling], where
    ceiling = min(cap, base * 2**attempt); never below ``FLOOR``."""
    base = BACKOFF_BASE if base is None else base
    ceiling = min(cap, base * (2 ** min(attempt, 16)))
    return max(floor_delay(), random.uniform(ceiling / 4, ceiling))


def seconds_until(when: dt.datetime, skew: float | None = None,
                  clock: Callable[[], float] = time.time, least: float = 1.0) -> float:
    """Seconds from now until ``when`` (a time Zoom gave, e.g. a 429's retry time),
    counted on Zoom's clock when the client knows the skew from Zoom's ``Date`` header;
    at least ``least``."""
    now = clock() + (skew if isinstance(skew, (int, float)) else 0.0)
    return max(least, when.timestamp() - now)


def floor_delay() -> float:
    """The least wait before any retry, jittered so that clients do not retry in step."""
    return random.uniform(FLOOR, 2 * FLOOR)


def is_daily(limit_type: str | None, message: object = "") -> bool:
    """True for a daily limit (``X-RateLimit-Type: Daily-limit``, or said in the text)."""
    return (limit_type or "").lower().startswith("daily") or "daily" in str(message).lower()


@dataclasses.dataclass
class Wait:
    """What a 429 or 503 answer asks of the caller."""

    seconds: float  # how long to wait before trying again (floored)
    retry_at: dt.datetime | None  # when the server said to try again (aware UTC), if it did
    limit_type: str | None
    daily: bool


def wait_for(headers: Mapping[str, str], body_message: object, attempt: int,
             clock: Callable[[], float] = time.time) -> Wait:
    """How long to wait after a 429/503 with these headers (SECURITY.md 19, 28).

    A ``Retry-After`` date is measured against the server's ``Date`` header when there
    is one (the local ``clock`` may be skewed), else against ``clock``. The result is
    never below the floor.
    """
    local_now = dt.datetime.fromtimestamp(clock(), dt.timezone.utc)
    reference = server_time(headers.get("Date")) or local_now
    retry_at = parse_retry_after(headers.get("Retry-After"), now=reference)
    limit_type = headers.get("X-RateLimit-Type")
    if retry_at is not None:
        seconds = (retry_at - reference).total_seconds()
        seconds = max(seconds, 0.0) + random.uniform(0, FLOOR)
        seconds = max(seconds, floor_delay())
    else:
        seconds = backoff_delay(attempt)
    return Wait(seconds, retry_at, limit_type, is_daily(limit_type, body_message))


def is_connect_error(exc: BaseException) -> bool:
    """True when the error happened before any byte of the request was sent."""
    import requests
    import urllib3.exceptions

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps it
        return isinstance(reason, (urllib3.exceptions.NewConnectionError,
                                   urllib3.exceptions.ConnectTimeoutError))
    return False


def with_connect_retries(call: Callable[[], Any], attempts: int = 4,
                         sleep: Callable[[float], None] = time.sleep) -> Any:
    """Run ``call`` (a token request) again if the connection could not even be opened
    (nothing was sent, so a rotating refresh token cannot have been used up)."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts - 1 or not is_connect_error(exc):
                raise
            sleep(backoff_delay(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def not_worth_keeping(exc: BaseException) -> str | None:
    """Why a message that failed with ``exc`` is NOT kept in the outbox, or None to keep
    it. Only what can succeed as it is gets kept (and retried by ``%zoomchat outbox``):
    bad input, a target Zoom does not know (HTTP 404), a request Zoom refuses as
    malformed (HTTP 400) and a session with no credentials at all would fail again, or
    go out unexpectedly days later after a login. Such a message is shown in its
    receipt, text included, and not kept."""
    from zoom_notebook.core.errors import AuthError, ReauthRequired, ValidationError, ZoomAPIError

    if isinstance(exc, ValidationError):
        return "the input is invalid as it is"
    if isinstance(exc, AuthError) and not isinstance(exc, ReauthRequired):
        return "there are no credentials to send with"
    if isinstance(exc, ZoomAPIError) and exc.status in (400, 404):
        return ("Zoom does not know that channel or contact" if exc.status == 404
                else "Zoom refuses this request as it is")
    return None


def later_attempt(exc: BaseException, attempts: int, base: float,
                  clock: Callable[[], float] = time.time) -> float | None:
    """For the outbox: seconds until trying ``exc``'s message again, or None when
    trying again by itself cannot help (a daily limit, no login, bad input, a bug) or
    after ``OUTBOX_ATTEMPTS`` attempts. An unknown outcome is tried again too: the
    next attempt reads Zoom back before it sends anything."""
    from zoom_notebook.core.errors import (
        AuthError,
        ConnectFailed,
        OutcomeUnknown,
        RateLimited,
        ZoomAPIError,
    )

    if attempts >= OUTBOX_ATTEMPTS:
        return None
    delay = max(floor_delay(), min(OUTBOX_CAP, base * 2.0 ** (attempts - 1)))
    if isinstance(exc, RateLimited):
        if is_daily(exc.limit_type):
            return None
        if exc.retry_at is not None:
            delay = max(delay, exc.retry_at.timestamp() - clock())
        return delay
    if isinstance(exc, (ConnectFailed, OutcomeUnknown)):  # unknown: resolved on the next try
        return delay
    if isinstance(exc, AuthError):
        return None
    if isinstance(exc, ZoomAPIError):
        may_clear = exc.status >= 500 or exc.status == 429 or exc.code == 124
        return delay if may_clear else None
    return None


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """The one retry policy, as an object the callers hold: the REST client (after an
    answer: ``after_answer``; between tries: ``backoff``), token requests (through
    ``zoom.http.exchange``: ``connect_retries``), the Incoming Webhook (the outbox's
    ``later``), the outbox (``later``, ``keep``), the watchdog's renewals (``backoff``)
    and the poller's holds (``until``). Each method is the module function of the same
    rule; the numbers are the module's constants, so a test that changes one (say
    ``OUTBOX_ATTEMPTS``) changes the policy everywhere."""

    def backoff(self, attempt: int, base: float | None = None, cap: float = 8.0) -> float:
        return backoff_delay(attempt, base, cap)

    def after_answer(self, headers: Mapping[str, str], message: object, attempt: int,
                     clock: Callable[[], float] = time.time) -> Wait:
        return wait_for(headers, message, attempt, clock)

    def until(self, when: dt.datetime, skew: float | None = None,
              clock: Callable[[], float] = time.time, least: float = 1.0) -> float:
        return seconds_until(when, skew, clock, least)

    def later(self, exc: BaseException, attempts: int, base: float,
              clock: Callable[[], float] = time.time) -> float | None:
        return later_attempt(exc, attempts, base, clock)

    def keep(self, exc: BaseException) -> str | None:
        """Why a message that failed with ``exc`` is NOT kept, or None to keep it."""
        return not_worth_keeping(exc)

    def connect_retries(self, call: Callable[[], Any],
                        sleep: Callable[[float], None] = time.sleep) -> Any:
        return with_connect_retries(call, sleep=sleep)


#: the policy every caller uses
POLICY = RetryPolicy()
