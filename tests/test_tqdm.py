"""zoom_notebook.tqdm: tqdm with one Zoom message kept up to date, paced like zn.progress."""

from __future__ import annotations

import io
import time

import pytest

pytest.importorskip("tqdm")

from zoom_notebook import ValidationError
from zoom_notebook.alerts import EDIT_FLOOR
from zoom_notebook.outbox import get_outbox
from zoom_notebook.tqdm import tqdm, trange


def edits(sb):
    return [r for r in sb.requests() if r["method"] == "PUT" and r["outcome"] == "handled"]


def test_trange_keeps_one_message_up_to_date_with_paced_edits(user_env):
    ch = user_env.channel_id("general")
    start = time.monotonic()
    out = io.StringIO()
    for _ in trange(60, desc="Epochs", to_channel=ch, every=0.1, mininterval=0, file=out):
        time.sleep(0.04)
    took = time.monotonic() - start
    assert get_outbox().flush(20)
    (msg,) = user_env.messages()  # ONE message, edited
    assert msg["message"].startswith("✅ Epochs: done, 60/60")
    n = len(edits(user_env))
    # paced: at most one edit per `every`, and never more than one a second (issue 24
    # finding 10: every=0.1 with mininterval=0 made 12 a second), plus the final
    assert 2 <= n <= took / max(0.1, EDIT_FLOOR) + 2
    assert "60/60" in out.getvalue()  # the ordinary bar is still drawn


def test_a_loop_left_early_says_where_it_stopped(user_env):
    ch = user_env.channel_id("general")
    for i in tqdm(range(100), desc="Scan", to_channel=ch, file=io.StringIO()):
        if i == 30:
            break
    assert get_outbox().flush(20)
    (msg,) = user_env.messages()
    assert msg["message"].startswith("⏹ Scan: stopped at 30/100")


def test_a_bad_target_is_refused_before_the_bar_starts(user_env):
    with pytest.raises(ValidationError) as caught:
        tqdm(range(3), to_channel="c1", to_contact="grace@example.com", file=io.StringIO())
    assert "to_contact" in caught.value.field
    assert user_env.requests() == []


def test_disable_sends_nothing(user_env):
    ch = user_env.channel_id("general")
    for _ in tqdm(range(5), to_channel=ch, disable=True):
        pass
    assert user_env.requests() == []
