"""When may a request be tried again: ``Retry-After`` parsing and the backoff policy.

Zoom gives ``Retry-After`` as an ISO date-time (``2020-05-31T00:00:00Z``); HTTP allows
seconds and HTTP-dates. All three are accepted; anything else means "unknown", and the
caller falls back to jittered exponential backoff (SECURITY.md 19).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import re

_SECONDS_RE = re.compile(r"^\s*\d+(\.\d+)?\s*$")
_MAX_SECONDS = 10 * 365 * 24 * 3600


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
        when = email.utils.parsedate_to_datetime(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when.astimezone(dt.timezone.utc)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


#: First backoff step in seconds (a program or a soak test may lower it).
BACKOFF_BASE = 0.5


def backoff_delay(attempt: int, base: float | None = None, cap: float = 8.0) -> float:
    """Jittered exponential backoff: a random delay in [ceiling/4, ceiling], where
    ceiling = min(cap, base * 2**attempt)."""
    base = BACKOFF_BASE if base is None else base
    ceiling = min(cap, base * (2 ** min(attempt, 16)))
    return random.uniform(ceiling / 4, ceiling)
