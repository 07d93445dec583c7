"""When a scheduled message is due: ``at=`` on ``zn.send`` and ``%zoomchat send --at``.

Zoom takes ``scheduled_time`` as ``yyyy-MM-dd'T'HH:mm:ss'Z'`` "more than 30 minutes from
now and within 180 days" (the send-message schema); the answer's id is then a draft id,
listed by ``GET /chat/messages/schedule`` and cancelled by
``DELETE /chat/messages/schedule/{draftId}``. A time outside that range is refused here,
before any request. A time within a minute of the 30-minute edge is moved to 30 min + 1
min from now, so that it is still "more than 30 minutes" when the request reaches Zoom
(what a person writing ``at="30m"`` means); the receipt shows the time actually asked for.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from typing import Callable, Union

from zoom_notebook.core.errors import ValidationError

When = Union[dt.datetime, dt.timedelta, str]

#: Zoom's range for ``scheduled_time`` (seconds ahead of now)
MIN_AHEAD = 30 * 60
MAX_AHEAD = 180 * 24 * 3600
#: what is added at the 30-minute edge so the request still arrives in range
EDGE_MARGIN = 60

_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SPAN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(w|d|h|min|m|s)\s*", re.I)


def parse_span(text: str, field: str = "at") -> dt.timedelta:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"2d"`` as a ``timedelta``."""
    pos, seconds = 0, 0.0
    while pos < len(text):
        m = _SPAN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValidationError(field, f"{text!r} is not a time: write an amount and a unit "
                                         "like '2h', '90m', '1h30m' or '3d', or an ISO time "
                                         "like '2026-12-24T09:00Z'")
        seconds += float(m.group(1)) * _UNITS[m.group(2).lower()]
        pos = m.end()
    if not text.strip():
        raise ValidationError(field, "is empty: write '2h', '90m' or an ISO time")
    return span(seconds, field)


def span(seconds: float, field: str) -> dt.timedelta:
    """``seconds`` as a timedelta, refusing what no schedule means (not a number,
    infinite, or far beyond Zoom's 180 days) with a ValidationError, never an overflow."""
    if not math.isfinite(seconds):
        raise ValidationError(field, "is not a finite time: write '2h', '90m' or '3d'")
    if abs(seconds) > 100 * MAX_AHEAD:
        raise ValidationError(field, "is far beyond what Zoom schedules (180 days at most)")
    return dt.timedelta(seconds=seconds)


def _parse_iso(text: str, field: str) -> dt.datetime:
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationError(field, f"{text!r} is not a time: write '2h', '90m' or an ISO "
                                     "time with its zone, like '2026-12-24T09:00Z'") from None
    if when.tzinfo is None:
        raise ValidationError(field, f"{text!r} has no time zone: add 'Z' (UTC) or an offset "
                                     "like '+01:00', so it means the same time to Zoom")
    return when


def due_time(at: When, *, field: str = "at", now: Callable[[], float] = time.time
             ) -> dt.datetime:
    """The aware UTC time ``at`` means, checked against Zoom's range."""
    current = now()
    if isinstance(at, dt.timedelta):
        when = dt.datetime.fromtimestamp(current, dt.timezone.utc) + span(
            at.total_seconds(), field)
    elif isinstance(at, dt.datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValidationError(field, "is a naive datetime: give it a time zone "
                                         "(datetime.now(timezone.utc) + timedelta(hours=2)), "
                                         "or pass a timedelta or '2h'")
        _check_exists(at, field)
        when = at
    elif isinstance(at, str):
        if re.match(r"\s*\d{4}-\d{2}-\d{2}", at):
            when = _parse_iso(at, field)
        else:
            when = dt.datetime.fromtimestamp(current, dt.timezone.utc) + parse_span(at, field)
    else:
        raise ValidationError(field, f"must be a datetime, a timedelta or text like '2h', "
                                     f"not {type(at).__name__}")
    try:
        when = when.astimezone(dt.timezone.utc)
        if when.microsecond:  # Zoom's format has whole seconds: round up, never earlier
            when = when.replace(microsecond=0) + dt.timedelta(seconds=1)
        when.timestamp()
    except (OverflowError, ValueError):
        raise ValidationError(field, "is outside what Zoom schedules (30 minutes to 180 "
                                     "days ahead)") from None
    ahead = when.timestamp() - current
    if ahead < MIN_AHEAD:
        raise ValidationError(field, f"is {_ahead(ahead)} from now; Zoom schedules a message "
                                     "30 minutes to 180 days ahead: use at least '30m' (for "
                                     "sooner, send it now or use a timer)")
    if ahead > MAX_AHEAD:
        raise ValidationError(field, f"is {_ahead(ahead)} from now; Zoom schedules a message at "
                                     "most 180 days ahead")
    if ahead < MIN_AHEAD + EDGE_MARGIN:
        when = dt.datetime.fromtimestamp(int(current) + MIN_AHEAD + EDGE_MARGIN,
                                         dt.timezone.utc)
    return when


def _check_exists(when: dt.datetime, field: str) -> None:
    """A local time skipped by a daylight-saving change (02:30 on a spring-forward night)
    does not exist: say so instead of guessing which hour was meant."""
    try:
        back = when.astimezone(dt.timezone.utc).astimezone(when.tzinfo)
    except (OverflowError, ValueError):
        return  # out of range: refused by due_time below
    if back.replace(tzinfo=None) != when.replace(tzinfo=None):
        raise ValidationError(field, f"{when.replace(tzinfo=None)} does not exist in "
                                     f"{when.tzinfo} (a daylight-saving change skips it): "
                                     "pick another time, or give it in UTC")


def _ahead(seconds: float) -> str:
    if seconds < 0:
        return f"{_ahead(-seconds)} in the past, not ahead"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def zoom_time(when: dt.datetime) -> str:
    """``when`` in Zoom's ``scheduled_time`` format."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_zoom_time(text: str) -> dt.datetime | None:
    """A time Zoom wrote (``...Z``) as an aware datetime; None if it is not one."""
    try:
        return _parse_iso(text, "scheduled_time")
    except ValidationError:
        return None
