"""Zoom's per-channel flood limits, shared by every process that uses one home folder.

Zoom counts messages per channel for the whole account (NOTES.md, from the ``to_channel``
description): more than 10 in 1 s blocks the channel for 10 s, 30 in 10 s for 30 s,
60 in 100 s for 60 s, 450 in 1,000 s for 300 s. A process that learns this from its own
429 loses the channel for 10 s or more, and so does every other process sending there.
So alerts reserve their moment instead: a small ledger per channel in the home folder
(``floods/``, under a file lock) holds the times already taken by any process, and each
alert goes at the earliest time that keeps every window under its limit. A block Zoom
announces anyway (a 429 with ``Retry-After``) is written there too, so all processes wait
it out together instead of each finding it with its own 429.

One ledger per (API base, channel); its lock is held for a read and a write (well under a
millisecond). If the folder cannot be used, alerts go unpaced, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

#: (messages, seconds): at most that many in any window of that length (Zoom's limits)
WINDOWS = ((10, 1.0), (30, 10.0), (60, 100.0), (450, 1000.0))
#: added to each window: messages may arrive a little later or sooner than reserved
MARGIN = 0.15
FOLDER = "floods"
#: the longest block Zoom gives a channel (450 in 1,000 s): a longer Retry-After is the
#: account's daily limit, which is not the channel's to wait out
MAX_BLOCK = 300.0


#: the measured lateness added to MARGIN: at most this, remembered this long, fading
MAX_LAG, LAG_MEMORY, LAG_FADE = 2.0, 100.0, 0.9
#: a ledger's reserved moments and its size are bounded when read
MAX_AHEAD = 2 * WINDOWS[-1][1]
MAX_TIMES = 4 * WINDOWS[-1][0]
MAX_BYTES = 256 * 1024


def _read_bounded(path: Path) -> dict[str, Any]:
    """The ledger as a dict, or {} for anything else: a missing, damaged or oversized file,
    or a FIFO, device or symlink planted in its place (never followed or read without
    limit)."""
    from zoom_notebook.core.store import read_regular

    try:
        data = read_regular(path, MAX_BYTES + 1)
        state = json.loads(data) if len(data) <= MAX_BYTES else {}
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _paths(home: Path, api_url: str, channel: str) -> tuple[Path, Path]:
    key = hashlib.sha256(f"{api_url}\n{channel}".encode()).hexdigest()[:24]
    folder = home / FOLDER
    return folder / f"{key}.json", folder / f"{key}.lock"


def earliest(times: list[float], now: float, blocked: float = 0.0,
             margin: float = MARGIN) -> float:
    """The earliest moment at or after ``now`` (and ``blocked``) that keeps every window
    (each ``margin`` longer) under its limit, counting ``times`` (sorted) already taken."""
    at = max(now, blocked)
    while True:
        later = at
        for count, window in WINDOWS:
            inside = [t for t in times if t > at - window - margin]
            if len(inside) >= count:
                later = max(later, inside[-count] + window + margin)
        if later <= at:
            return at
        at = later


@contextlib.contextmanager
def _ledger(home: Path, api_url: str, channel: str,  # type: ignore[no-untyped-def]
            clock: Callable[[], float] = time.time):
    from filelock import FileLock

    data_path, lock_path = _paths(home, api_url, channel)
    data_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with FileLock(str(lock_path), timeout=10):
        now = clock()
        state = _read_bounded(data_path)
        # what another process (or another host, with its own clock) wrote is trusted
        # only within Zoom's own bounds: no block longer than Zoom's longest, no moment
        # reserved further ahead than a full queue could be (SECURITY.md 39)
        listed = state.get("times")
        raw_times: list[Any] = listed if isinstance(listed, list) else []
        times = sorted(float(t) for t in raw_times[:MAX_TIMES]
                       if isinstance(t, (int, float)) and math.isfinite(t)
                       and t <= now + MAX_AHEAD)
        blocked = state.get("blocked")
        blocked = (float(blocked) if isinstance(blocked, (int, float))
                   and math.isfinite(blocked) else 0.0)
        lag, lag_at = state.get("lag"), state.get("lag_at")
        lag = (min(MAX_LAG, max(0.0, float(lag))) if isinstance(lag, (int, float))
               and math.isfinite(lag) else 0.0)
        lag_at = (float(lag_at) if isinstance(lag_at, (int, float)) and math.isfinite(lag_at)
                  and lag_at <= now + 1 else 0.0)
        box: dict[str, Any] = {"times": times,
                               "blocked": blocked if blocked <= now + MAX_BLOCK else 0.0,
                               "lag": lag if now - lag_at < LAG_MEMORY else 0.0,
                               "lag_at": lag_at}
        yield box
        horizon = clock() - WINDOWS[-1][1] - MARGIN
        box["times"] = [t for t in box["times"] if t > horizon]
        tmp = data_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(box), encoding="utf-8")
        os.replace(tmp, data_path)


def reserve(home: Path, api_url: str, channel: str,
            clock: Callable[[], float] = time.time) -> float:
    """Take the next moment this channel may get a message (wall-clock seconds); 0.0 when
    the ledger cannot be used (the message then goes at once)."""
    try:
        with _ledger(home, api_url, channel, clock) as box:
            # the margin is measured: how late messages have been going out after their
            # moment lately (a busy machine), on top of the fixed one
            at = earliest(box["times"], clock(), box["blocked"], MARGIN + box["lag"])
            box["times"].append(at)
            return at
    except Exception:  # a read-only or odd folder: never hold an alert back for it
        return 0.0


def confirm(home: Path, api_url: str, channel: str, slot: float,
            clock: Callable[[], float] = time.time) -> float:
    """Just before a message goes out for its reserved ``slot``: check it against what
    the ledger says now (other processes may be going out late, or earlier ones may have
    moved) and take the moment it really goes. Returns that moment: now, when the windows
    allow it (it is recorded as sent now), or a later one to wait for (recorded as its
    new reservation). 0.0 when the ledger cannot be used."""
    try:
        with _ledger(home, api_url, channel, clock) as box:
            times = box["times"]
            if slot in times:
                times.remove(slot)
            now = clock()
            at = earliest(times, now, box["blocked"], MARGIN + box["lag"])
            at = now if at <= now + 0.01 else at
            times.append(at)
            times.sort()
            return at
    except Exception:
        return 0.0


def note_lag(home: Path, api_url: str, channel: str, lag: float,
             clock: Callable[[], float] = time.time) -> None:
    """A message went out ``lag`` seconds after its reserved moment: later reservations
    of every process keep that much more margin (the most seen lately, fading)."""
    with contextlib.suppress(Exception):
        with _ledger(home, api_url, channel, clock) as box:
            box["lag"] = min(MAX_LAG, max(max(0.0, lag), box["lag"] * LAG_FADE))
            box["lag_at"] = clock()


def block(home: Path, api_url: str, channel: str, until: float) -> None:
    """Zoom blocked the channel until ``until``: every process waits for it."""
    with contextlib.suppress(Exception):
        with _ledger(home, api_url, channel) as box:
            box["blocked"] = max(box["blocked"], until)
