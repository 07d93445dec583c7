"""What waiting for an answer costs Zoom: requests per minute while ``zn.ask`` waits ten
minutes with nobody answering (goal: at most 4 a minute after the first minute).

The ask runs for real against the sandbox on 127.0.0.1 (every thread read is a request
the sandbox logs), on a virtual clock: the poller's ``sleep`` moves the clock instead of
waiting, so ten minutes take a second. Then three asks at once, to show they share one
budget (the requests are those of one ask, not three).

Run: ``.venv/bin/python benchmarks/talkback.py``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import zoom_notebook as zn
from zoom_notebook.config import Settings
from zoom_notebook.errors import AskTimeout
from zoom_notebook.poller import CAP, Budget
from zoom_notebook.sandbox import Sandbox

MINUTES = 10


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


class CountingBudget(Budget):
    """The process budget, noting the (virtual) time of every read it allows."""

    def __init__(self, vc: VirtualClock) -> None:
        super().__init__(clock=vc.clock, sleep=vc.sleep)
        self.times: list[float] = []

    def turn(self, deadline: float | None = None, stop: threading.Event | None = None
             ) -> bool:
        ok = super().turn(deadline, stop)
        if ok:
            self.times.append(self.clock())
        return ok


def reads_per_minute(asks: int = 1) -> tuple[list[int], int]:
    """Reads in each minute while ``asks`` asks wait MINUTES with no answer; and the
    thread reads the sandbox received (the same number: each read is a real request)."""
    with Sandbox(channel_limits=False) as sb:
        settings = Settings.load(environ={**os.environ, **sb.env(),
                                          "ZOOM_ACCESS_TOKEN": sb.issue_token()})
        channel = sb.channel_id("general")
        budget = CountingBudget(VirtualClock())

        def one(i: int) -> None:
            try:
                zn.ask(f"Question {i}: continue?", to_channel=channel, choices=["yes", "no"],
                       timeout=MINUTES * 60, settings=settings, budget=budget)
            except AskTimeout:
                pass

        threads = [threading.Thread(target=one, args=(i,)) for i in range(asks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        received = sum(1 for r in sb.requests() if r["path"].endswith("/thread"))
    minutes = [0] * MINUTES
    for t in budget.times:
        minutes[min(MINUTES - 1, int(t // 60))] += 1
    return minutes, received


def bars_reads_per_minute() -> int:
    """Short stoppable bars (3 s each) back to back for one virtual minute: the reads
    their stop-watchers are allowed (issue 24 finding 10: it was 20 a minute)."""
    vc = VirtualClock()
    budget = Budget(clock=vc.clock, sleep=vc.sleep)
    while vc.now < 60:
        budget.fast()
        end = vc.now + 3
        while budget.turn(deadline=end):
            pass
    return budget.requests


def edits_per_second(seconds: float = 5.0) -> float:
    """``zn.progress(every=0)`` over a tight loop for ``seconds``: the edits Zoom gets a
    second (it was 46: one per item)."""
    import time

    from zoom_notebook.outbox import get_outbox

    with Sandbox(channel_limits=False) as sb:
        env = {**sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token()}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            start = time.monotonic()
            for _ in zn.progress(range(10**9), desc="tight", to_channel=sb.channel_id(
                    "general"), every=0, show=False):
                if time.monotonic() - start > seconds:
                    break
            get_outbox().flush(30)
            puts = sum(1 for r in sb.requests() if r["method"] == "PUT")
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return max(0, puts - 1) / seconds  # the final edit aside


def run() -> dict[str, Any]:
    one, received = reads_per_minute(1)
    three, _ = reads_per_minute(3)
    return {"per minute": one, "max after first": max(one[1:]), "total": sum(one),
            "received": received, "three total": sum(three),
            "per hour": sum(one) + (60 - MINUTES) * (60 / CAP),
            "bars per minute": bars_reads_per_minute(), "edits per second": edits_per_second()}


def main() -> None:
    r = run()
    print("thread reads per minute while one ask waits 10 min:",
          " ".join(map(str, r["per minute"])))
    print(f"after the first minute, at most {r['max after first']} a minute (goal <= 4); "
          f"the sandbox received {r['received']} of {r['total']}")
    print(f"three asks waiting at once: {r['three total']} reads in all (one ask: "
          f"{r['total']}); an hour of waiting: about {r['per hour']:.0f}")


if __name__ == "__main__":
    main()
