"""Retry-After as seconds, HTTP-date or ISO date-time; junk gives None (SECURITY.md 19)."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from zoom_notebook.retry import backoff_delay, parse_retry_after

NOW = dt.datetime(2026, 11, 26, 12, 0, 0, tzinfo=dt.timezone.utc)


def test_seconds():
    assert parse_retry_after("2", NOW) == NOW + dt.timedelta(seconds=2)
    assert parse_retry_after(" 1.5 ", NOW) == NOW + dt.timedelta(seconds=1.5)


def test_http_date():
    assert parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", NOW) == NOW + dt.timedelta(
        seconds=30)


def test_iso_datetime_as_zoom_sends_it():
    assert parse_retry_after("2026-11-27T00:00:00Z", NOW) == dt.datetime(
        2026, 11, 27, tzinfo=dt.timezone.utc)
    assert parse_retry_after("2026-11-26T13:00:00+01:00", NOW) == NOW


def test_junk_is_none():
    for value in (None, "", "soon", "-5", "99999999999999", "2026-13-45T00:00:00Z", "T"):
        assert parse_retry_after(value, NOW) is None


def test_backoff_is_bounded_and_jittered():
    delays = [backoff_delay(a) for a in range(20)]
    assert all(0 < d <= 8.0 for d in delays)
    assert len({round(backoff_delay(3), 6) for _ in range(20)}) > 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_never_raises(value):
    result = parse_retry_after(value, NOW)
    assert result is None or result.tzinfo is not None
