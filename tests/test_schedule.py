"""Scheduled sends (``at=``, ``.cancel()``, ``zn.scheduled()``, ``--at``) against the sandbox,
whose clock is moved forward to make a message fall due."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest
import requests

import zoom_notebook as zn
from zoom_notebook import ValidationError
from zoom_notebook.schedule import MIN_AHEAD, due_time, parse_span, zoom_time

NOW = 1_800_000_000.0  # a fixed "now" for the parsing tests
UTC = dt.timezone.utc


def at(value):
    return due_time(value, now=lambda: NOW)


def test_what_when_means():
    base = dt.datetime.fromtimestamp(NOW, UTC)
    assert at("2h") == base + dt.timedelta(hours=2)
    assert at("90m") == at("1h30m") == base + dt.timedelta(minutes=90)
    assert at(dt.timedelta(days=3)) == base + dt.timedelta(days=3)
    paris = dt.timezone(dt.timedelta(hours=1))
    assert at(base.astimezone(paris) + dt.timedelta(hours=5)) == base + dt.timedelta(hours=5)
    iso = (base + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    assert at(iso).tzinfo == UTC and zoom_time(at(iso)) == iso[:-1] + ":00Z"
    assert at("2h").tzinfo is UTC  # always aware UTC
    assert parse_span("2d") == dt.timedelta(days=2)


@pytest.mark.parametrize("bad, says", [
    ("10m", "at least '30m'"),
    ("181d", "at most 180 days"),
    ("-2h", "is not a time"),
    ("soon", "is not a time"),
    ("2026-12-24T09:00", "no time zone"),
    (dt.datetime(2030, 1, 1), "naive datetime"),
    (3600, "must be a datetime"),
    (dt.timedelta(hours=-1), "in the past"),
])
def test_a_time_zoom_would_refuse_is_a_validation_error_naming_at(bad, says):
    with pytest.raises(ValidationError) as err:
        at(bad)
    assert err.value.field == "at" and says in str(err.value)


def test_the_thirty_minute_edge_is_kept_in_range_and_seconds_round_up():
    assert at("30m").timestamp() - NOW > MIN_AHEAD  # still "more than 30 minutes" at Zoom
    odd = dt.datetime.fromtimestamp(NOW + 7200.4, UTC)
    assert at(odd).timestamp() == NOW + 7201  # never earlier than asked


def test_at_10m_sends_nothing(user_env, http_recorder):
    with pytest.raises(ValidationError) as err:
        zn.send("too soon", to_channel=user_env.channel_id("general"), at="10m")
    assert err.value.field == "at"
    assert http_recorder.requests == []


def test_a_scheduled_message_is_posted_once_when_due(user_env, http_recorder):
    ch = user_env.channel_id("general")
    sent = zn.send("**standup** in 2 hours", to_channel=ch, at="2h")
    ahead = sent.scheduled_for.timestamp() - dt.datetime.now(UTC).timestamp()
    assert 7100 < ahead <= 7201 and sent.scheduled_for.tzinfo is not None
    post = next(r for r in http_recorder.requests if r.method == "POST")
    assert json.loads(post.body)["scheduled_time"] == zoom_time(sent.scheduled_for)
    assert "Scheduled" in repr(sent) and "UTC" in repr(sent)
    assert user_env.messages() == []  # not posted yet
    (listed,) = zn.scheduled()
    assert listed.id == sent.id and listed.message == "standup in 2 hours"
    assert listed.scheduled_for == sent.scheduled_for and listed.to_channel == ch
    assert user_env.advance(3600) == []
    (posted_id,) = user_env.advance(3700)
    (msg,) = user_env.messages()
    assert msg["id"] == posted_id and msg["message"] == "standup in 2 hours"
    assert msg["rich_text"][0]["format_type"] == "Bold"  # the Markdown came along
    assert zn.scheduled() == []


def test_cancel_removes_it_before_it_is_due(user_env):
    grace = user_env.user("grace")
    sent = zn.send("reminder", to_contact=grace["email"], at=dt.timedelta(hours=3))
    assert sent.cancel() is sent and sent.cancelled
    assert "Cancelled" in repr(sent)
    sent.cancel()  # twice is harmless
    assert zn.scheduled() == []
    user_env.advance(4 * 3600)
    assert user_env.messages() == []


def test_scheduled_of_another_kernel_cancels_with_a_target(user_env):
    """Zoom lists scheduled messages one conversation at a time: a new kernel over the same
    home lists those of the conversations this home scheduled in, and can cancel them."""
    ch = user_env.channel_id("random")
    zn.send("later", to_channel=ch, at="1d")
    zn.api._forget_threads()  # as a new kernel: this process no longer knows the draft
    (anon,) = zn.scheduled()
    assert anon.to_channel == ch
    anon.cancel()
    assert zn.scheduled(to_channel=ch) == []


def test_scheduled_never_asks_zoom_without_a_conversation(user_env):
    """Issue 22 item 6: with no target and nothing scheduled from this home, zn.scheduled()
    says to name the conversation and sends nothing; the sandbox, like Zoom, refuses the
    listing without one (400, code 300)."""
    before = len(user_env.requests())
    with pytest.raises(ValidationError) as err:
        zn.scheduled()
    assert err.value.field == "to_channel" and "one conversation at a time" in str(err.value)
    assert len(user_env.requests()) == before
    token = user_env.issue_token()
    resp = requests.get(user_env.api_url + "/chat/messages/schedule", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and resp.json()["code"] == 300


def test_an_unknown_outcome_is_resolved_from_the_schedule_not_sent_twice(user_env):
    ch = user_env.channel_id("general")
    user_env.inject("drop_after", method="POST", path="/messages")  # scheduled, no answer
    sent = zn.send("exactly one draft", to_channel=ch, at="2h")
    (listed,) = zn.scheduled()
    assert sent.id == listed.id


def test_posted_messages_cannot_be_cancelled(user_env):
    sent = zn.send("now", to_channel=user_env.channel_id("general"))
    with pytest.raises(ValidationError) as err:
        sent.cancel()
    assert "only a scheduled message" in str(err.value)


def test_the_magic_schedules_with_at(user_env, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext zoom_notebook", store_history=False)
    ch = user_env.channel_id("general")
    result = sh.run_cell(f"%zoomchat send -c {ch} --at 90m --plain *not* bold")
    assert result.success
    assert "Scheduled for" in capsys.readouterr().out
    (listed,) = zn.scheduled()
    assert listed.message == "*not* bold"  # --plain: sent as written
    assert abs(listed.scheduled_for.timestamp() - dt.datetime.now(UTC).timestamp() - 5400) < 60


def test_the_cli_schedules_with_at(user_env):
    ch = user_env.channel_id("general")
    out = subprocess.run([sys.executable, "-m", "zoom_notebook.cli", "send", "-c", ch,
                          "--at", "2h", "from", "cron"], capture_output=True, text=True,
                         timeout=60, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert "Scheduled for" in out.stdout
    (listed,) = zn.scheduled()
    assert listed.message == "from cron"


@pytest.mark.parametrize("at", ["9" * 400 + "h", dt.timedelta.max,
                                dt.datetime.max.replace(tzinfo=UTC), float("nan")])
def test_issue24_finding_15_times_no_schedule_means_are_validation_errors(at):
    with pytest.raises(ValidationError) as err:
        due_time(at, now=lambda: NOW)
    assert err.value.field == "at"


@pytest.mark.parametrize("after", [float("inf"), float("nan"), 1e30])
def test_issue24_finding_15_a_watchdog_after_that_is_no_time(after):
    with pytest.raises(ValidationError) as err:
        zn.watchdog(after=after, to_channel="c")
    assert err.value.field == "after"


def test_issue24_finding_15_a_local_time_a_dst_change_skips_is_refused():
    from zoneinfo import ZoneInfo

    gap = dt.datetime(2027, 3, 28, 2, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    with pytest.raises(ValidationError, match="does not exist"):
        due_time(gap, now=lambda: gap.timestamp() - 86400)


def test_issue24_finding_15_at_is_counted_on_zooms_clock(user_env, monkeypatch):
    """A kernel whose clock is 2 minutes behind Zoom's: '31m' is 31 minutes on Zoom's
    clock (the client knows the skew from Zoom's Date header), so Zoom takes it."""
    from zoom_notebook import api

    ch = user_env.channel_id("general")
    zn.send("hello", to_channel=ch)  # an answer from Zoom: its Date is known
    client = api.client()
    client.skew = 120.0
    draft = api.prepare("later", to_channel=ch, at="31m")
    due = dt.datetime.strptime(draft.payload["scheduled_time"], "%Y-%m-%dT%H:%M:%SZ"
                               ).replace(tzinfo=UTC).timestamp()
    assert due - (time.time() + 120) > 30 * 60
