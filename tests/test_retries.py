"""Retries only where the message cannot have been delivered (SECURITY.md 17-19),
driven by the sandbox's fault injection. Every case counts what reached the sandbox."""

from __future__ import annotations

import collections
import datetime as dt
import time

import pytest

import zoom_notebook as zn
from zoom_notebook import OutcomeUnknown, RateLimited, ZoomChatClient
from zoom_notebook.message import build_message

from .conftest import sandbox_posts


def _send(sb, text="hello", **client_kwargs):
    client = ZoomChatClient.from_env(**client_kwargs)
    return client.send_message(build_message(text, to_channel=sb.channel_id("general")))


def test_connect_refused_is_retried_and_delivered_once(user_env):
    user_env.refuse_connections(1.0)
    start = time.monotonic()
    mid = _send(user_env)
    assert time.monotonic() - start >= 0.5  # it really waited for the server to come back
    assert [m["id"] for m in user_env.messages()] == [mid]
    assert len(sandbox_posts(user_env)) == 1


def test_429_with_iso_retry_after_two_seconds_ahead_is_waited_out(user_env):
    # The client's sleep= records the wait instead of spending it (no wall-clock test)
    user_env.inject("status", status=429, retry_after=2.0, method="POST")
    waits: list[float] = []
    mid = _send(user_env, sleep=waits.append)
    # the ISO date (whole seconds, so up to one more) and a small margin: 2-3.5 s
    assert len(waits) == 1 and 1.0 <= waits[0] <= 3.5
    assert [m["id"] for m in user_env.messages()] == [mid]
    assert len(sandbox_posts(user_env)) == 1


def test_daily_limit_fails_fast_naming_the_reset_time(user_env):
    user_env.configure(daily=1)
    _send(user_env, "first")
    start = time.monotonic()
    with pytest.raises(RateLimited) as err:
        _send(user_env, "second")
    assert time.monotonic() - start < 1.0
    e = err.value
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).date()
    assert e.retry_at == dt.datetime.combine(tomorrow, dt.time(), dt.timezone.utc)
    assert e.limit_type == "Daily-limit"
    assert e.retry_at.strftime("%Y-%m-%dT%H:%M:%SZ") in str(e)
    assert [m["message"] for m in user_env.messages()] == ["first"]


def test_channel_flood_block_beyond_budget_fails_fast(user_env):
    for i in range(10):
        _send(user_env, f"m{i}")
    with pytest.raises(RateLimited) as err:
        _send(user_env, "eleventh", retry_budget=3.0)
    assert 8 <= (err.value.retry_at - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 11
    assert len(user_env.messages()) == 10


def test_qps_limit_is_paced_and_nothing_lost_or_duplicated(user_env):
    user_env.configure(qps=10, channel_limits=False)
    client = ZoomChatClient.from_env()
    channel = user_env.channel_id("general")
    ids = [client.send_message(build_message(f"n{i}", to_channel=channel)) for i in range(25)]
    # counted at the server: one POST handled per message (every 429 it answered was
    # waited out, nothing sent twice), never more than its limit in one (clock) second,
    # so the 25 took at least three seconds of the server's clock
    handled = sandbox_posts(user_env)
    assert len(handled) == 25
    per_second = collections.Counter(int(r["time"]) for r in handled)
    assert max(per_second.values()) <= 10 and len(per_second) >= 3
    assert [m["id"] for m in user_env.messages()] == ids
    assert [m["message"] for m in user_env.messages()] == [f"n{i}" for i in range(25)]


def test_dropped_after_request_was_read_is_outcome_unknown_and_not_reposted(user_env):
    user_env.inject("drop_after", method="POST")
    with pytest.raises(OutcomeUnknown) as err:
        _send(user_env, "maybe delivered")
    assert len(sandbox_posts(user_env)) == 1  # exactly ONE POST reached the sandbox
    assert [m["message"] for m in user_env.messages()] == ["maybe delivered"]
    e = err.value
    assert e.text == "maybe delivered" and e.target == user_env.channel_id("general")
    assert "not sent again" in str(e)


def test_dropped_before_reading_is_outcome_unknown_too(user_env):
    user_env.inject("drop_before", method="POST")
    with pytest.raises(OutcomeUnknown):
        _send(user_env)
    posts = [r for r in user_env.requests() if r["method"] == "POST"]
    assert [p["outcome"] for p in posts] == ["dropped before reading"]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_server_errors_are_outcome_unknown_and_not_reposted(user_env, status):
    user_env.inject("status", status=status, handled=True, method="POST")
    with pytest.raises(OutcomeUnknown, match=f"HTTP {status}"):
        _send(user_env)
    assert len(sandbox_posts(user_env)) == 1
    assert len(user_env.messages()) == 1  # the 500 had delivered it: a retry would duplicate


def test_503_is_retried_and_delivered_once(user_env):
    user_env.inject("status", status=503, count=2, method="POST")
    mid = _send(user_env)
    assert [m["id"] for m in user_env.messages()] == [mid]


def test_read_timeout_is_outcome_unknown(user_env):
    user_env.inject("delay", seconds=1.5, method="POST")
    with pytest.raises(OutcomeUnknown, match="read timeout"):
        _send(user_env, timeout=(2.0, 0.5))
    deadline = time.monotonic() + 5  # counted at the server, not a guessed sleep
    while not user_env.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(user_env.messages()) == 1  # Zoom got it after all; we did not send twice
    assert len(sandbox_posts(user_env)) == 1


def test_reads_are_retried_after_a_drop(user_env):
    user_env.inject("drop_after", method="GET")
    client = ZoomChatClient.from_env()
    assert len(list(client.list_channels())) == 5


def test_one_401_after_a_forced_refresh(s2s_env):
    channel = s2s_env.channel_id("general")
    zn.send("first", to_channel=channel)
    assert s2s_env.counters["account_credentials"] == 1
    with s2s_env.world.lock:
        s2s_env.world.tokens.clear()  # Zoom revoked the token
    zn.send("second", to_channel=channel)
    assert s2s_env.counters["account_credentials"] == 2
    assert [m["message"] for m in s2s_env.messages()] == ["first", "second"]


def test_401_is_not_retried_twice(s2s_env, monkeypatch):
    """If the fresh token is rejected too, the error is raised: no loop."""
    channel = s2s_env.channel_id("general")
    monkeypatch.setattr(s2s_env.world, "check_token", lambda value: None)
    with pytest.raises(zn.ZoomAPIError) as err:
        zn.send("x", to_channel=channel)
    assert err.value.code == 124
    assert s2s_env.counters["account_credentials"] == 2
    assert len([r for r in s2s_env.requests() if r["method"] == "POST"]) == 2


def test_28_a_clock_90s_ahead_still_waits_out_the_channel_flood_limit(user_env):
    # Zoom's Retry-After is a date-time; measured against this (skewed) clock it would
    # look long past and be retried at once, again and again. Against Zoom's own Date it
    # is ~10 s ahead: beyond a 3 s budget, so it fails fast, after one request.
    def ahead() -> float:
        return time.time() + 90

    for i in range(10):
        _send(user_env, f"m{i}", clock=ahead)
    with pytest.raises(RateLimited) as err:
        _send(user_env, "eleventh", retry_budget=3.0, clock=ahead)
    assert 8 <= (err.value.retry_at - dt.datetime.now(dt.timezone.utc)).total_seconds() <= 11
    posts = [r for r in user_env.requests() if r["method"] == "POST"]
    assert len(posts) == 11  # no request storm
    assert len(user_env.messages()) == 10
