"""Zoom's per-channel flood limits, paced across processes through the home folder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from zoom_notebook import flood
from zoom_notebook.outbox import pacing


def allowed(times):
    """Does a sequence of send times keep every window of Zoom's limits?"""
    for count, window in flood.WINDOWS:
        for i, t in enumerate(times):
            if sum(1 for u in times[: i + 1] if u > t - window) > count:
                return False
    return True


def test_reserved_moments_keep_every_window_and_waste_little(tmp_path):
    now = [1000.0]
    times = [flood.reserve(tmp_path, "https://api.zoom.us/v2", "c1", clock=lambda: now[0])
             for _ in range(70)]
    assert times == sorted(times) and allowed(times)
    assert times[9] == 1000.0 and times[10] == pytest.approx(1001.15)  # 10 a second
    assert times[29] < 1003.5 and times[30] == pytest.approx(1010.15)  # 30 in 10 s
    assert times[60] == pytest.approx(1100.15)  # 60 in 100 s
    other = flood.reserve(tmp_path, "https://api.zoom.us/v2", "c2", clock=lambda: now[0])
    assert other == 1000.0  # another channel has its own ledger


def test_a_block_zoom_announced_holds_every_process(tmp_path):
    flood.block(tmp_path, "u", "c1", 1250.0)  # Zoom's blocks last at most 300 s
    assert flood.reserve(tmp_path, "u", "c1", clock=lambda: 1000.0) == 1250.0


def test_processes_share_one_ledger(tmp_path):
    code = ("import sys, json; from pathlib import Path; from zoom_notebook import flood\n"
            "print(json.dumps([flood.reserve(Path(sys.argv[1]), 'u', 'c', clock=lambda: "
            "1000.0) for _ in range(8)]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    import json

    times = sorted(t for p in procs for t in json.loads(p.communicate(timeout=60)[0]))
    assert len(times) == 32 and len(set(times)) >= 3 and allowed(times)


def test_pacing_is_on_for_zoom_and_switchable(monkeypatch):
    monkeypatch.delenv("ZOOM_NOTEBOOK_FLOOD_PACING", raising=False)
    assert pacing("https://api.zoom.us/v2") and not pacing("http://127.0.0.1:5000/v2")
    monkeypatch.setenv("ZOOM_NOTEBOOK_FLOOD_PACING", "1")
    assert pacing("http://127.0.0.1:5000/v2")
    monkeypatch.setenv("ZOOM_NOTEBOOK_FLOOD_PACING", "0")
    assert not pacing("https://api.zoom.us/v2")


def test_unusable_folder_never_holds_an_alert(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert flood.reserve(blocker, "u", "c") == 0.0  # floods/ cannot be made under a file
    assert os.path.isfile(blocker)


WORKER = """
import os, threading, zoom_notebook as zn
from zoom_notebook.outbox import get_outbox
def send(t):
    with zn.notify(f"[{os.getpid()}-{t}] shard done", to_channel=os.environ["CH"]):
        pass
threads = [threading.Thread(target=send, args=(t,)) for t in range(2)]
for t in threads: t.start()
for t in threads: t.join()
assert get_outbox().flush(120)
"""


@pytest.mark.slow
def test_processes_on_one_channel_back_off_together(tmp_path):
    """Six processes x 2 threads into one channel whose flood limit (10 a second) the
    sandbox enforces: paced through one home folder, no 429 and every alert once."""
    import collections

    from zoom_notebook.sandbox import Sandbox

    with Sandbox(channel_limits=True) as sb:
        env = {**os.environ, **sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
               "ZOOM_NOTEBOOK_HOME": str(tmp_path), "CH": sb.channel_id("general"),
               "ZOOM_NOTEBOOK_FLOOD_PACING": "1"}
        procs = [subprocess.Popen([sys.executable, "-c", WORKER], env=env) for _ in range(6)]
        assert all(p.wait(timeout=180) == 0 for p in procs)
        msgs = [m for m in sb.world.messages.values() if "shard done" in m.message]
        assert sum(1 for r in sb.requests() if r["status"] == 429) == 0
    counts = collections.Counter(m.message.split("]")[0] for m in msgs)
    assert len(counts) == 12 and set(counts.values()) == {1}
    stamps = sorted(m.timestamp for m in msgs)
    assert stamps[-1] - stamps[0] >= 1.0  # 12 messages: the 11th waited for the next second


def test_a_429_one_process_meets_holds_the_others(user_env, monkeypatch):
    """Zoom blocks the channel: the alert that met the 429 writes the block to the shared
    ledger, so the next alert of ANY process sharing the home waits for it (instead of
    finding it with a 429 of its own)."""
    import time
    from pathlib import Path

    from zoom_notebook import api, client
    from zoom_notebook.alerts import post_alert
    from zoom_notebook.outbox import get_outbox

    monkeypatch.setenv("ZOOM_NOTEBOOK_FLOOD_PACING", "1")
    monkeypatch.setattr(client, "DEFAULT_RETRY_BUDGET", 0.5)
    api.forget_clients()
    ch = user_env.channel_id("general")
    user_env.inject("status", status=429, retry_after=90, count=1, method="POST",
                    path="/messages")
    item = post_alert("✅ first", to_channel=ch, show=False)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (item.attempts == 0 or item.status == "inflight"):
        time.sleep(0.05)
    time.sleep(0.3)
    home = Path(os.environ["ZOOM_NOTEBOOK_HOME"])
    later = flood.reserve(home, api.client().api_url, ch)
    assert later - time.time() > 80  # every process now waits the block out
    assert item.status != "sent" and get_outbox().pending()  # kept, to be sent after it


@pytest.mark.parametrize("written", [
    {"times": [], "blocked": 1e12},                    # a planted far-future block
    {"times": [], "blocked": float("inf")},
    {"times": [1000.0 + 87385.0] * 500, "blocked": 0},  # a host whose clock runs a day ahead
    {"times": "yesterday", "blocked": "soon"},
])
def test_issue24_finding_4_a_ledger_far_ahead_holds_nothing(tmp_path, written):
    """SECURITY.md 39: what the ledger says is trusted only within Zoom's bounds: no block
    longer than Zoom's longest (300 s), no reservation further ahead than a queue."""
    import json

    data, _ = flood._paths(tmp_path, "u", "c")
    data.parent.mkdir(parents=True)
    data.write_text(json.dumps(written))
    assert flood.reserve(tmp_path, "u", "c", clock=lambda: 1000.0) == 1000.0


def test_issue24_finding_14_a_fifo_or_device_in_place_of_the_ledger_is_not_read(tmp_path):
    import threading

    data, _ = flood._paths(tmp_path, "u", "c")
    data.parent.mkdir(parents=True)
    os.mkfifo(data)  # a reader of a FIFO would hang forever
    result = []
    reader = threading.Thread(target=lambda: result.append(
        flood.reserve(tmp_path, "u", "c", clock=lambda: 1000.0)), daemon=True)
    reader.start()
    reader.join(5)
    assert result == [1000.0]
    os.unlink(data)
    os.symlink("/dev/zero", data)  # gigabytes of nothing
    assert flood.reserve(tmp_path, "u", "c", clock=lambda: 1000.0) == 1000.0
