"""A fleet on one channel: 8 processes x 4 threads post alerts into ONE channel of the
sandbox, with its flood limits on (10 in 1 s, 30 in 10 s, 60 in 100 s, 450 in 1,000 s,
each blocking the channel when passed). Paced by the shared ledger (flood.py) the
processes take turns; unpaced each learns the block from its own 429.

Reported: delivered once (none lost, none twice), 429s seen, and the achieved rate as a
share of what the channel allows: the span the limits make necessary for that many
messages (a perfect schedule) / the span it took (goal >= 0.9).

Run: ``.venv/bin/python benchmarks/fleet.py``.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from zoom_notebook import flood
from zoom_notebook.sandbox import Sandbox

PROCESSES, THREADS, EACH = 8, 4, 1

WORKER = """
import os, sys, threading
import zoom_notebook as zn
from zoom_notebook.outbox import get_outbox
name = sys.argv[1]
def send(t):
    for i in range(int(os.environ["EACH"])):
        with zn.notify(f"[{name}-{t}-{i}] shard done", to_channel=os.environ["CH"]):
            pass
threads = [threading.Thread(target=send, args=(t,)) for t in range(int(os.environ["THREADS"]))]
for t in threads: t.start()
for t in threads: t.join()
print("flushed", get_outbox().flush(300), flush=True)
"""


def ideal_span(n: int) -> float:
    """The shortest first-to-last span Zoom's windows allow for ``n`` messages."""
    times: list[float] = []
    for _ in range(n):  # the schedule flood.py keeps, with no safety margin
        times.append(flood.earliest(times, times[-1] if times else 0.0, margin=0.0))
    return times[-1] - times[0]


def run_fleet(paced: bool) -> dict[str, Any]:
    with Sandbox(channel_limits=True) as sb, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, **sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
               "ZOOM_NOTEBOOK_HOME": home, "CH": sb.channel_id("general"),
               "THREADS": str(THREADS), "EACH": str(EACH),
               "ZOOM_NOTEBOOK_FLOOD_PACING": "1" if paced else "0"}
        start = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, f"p{i}"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(PROCESSES)]
        for p in procs:
            p.communicate(timeout=600)
        took = time.monotonic() - start
        with sb.world.lock:
            msgs = [m for m in sb.world.messages.values() if "shard done" in m.message]
        counts = collections.Counter(m.message.split("]")[0] for m in msgs)
        stamps = sorted(m.timestamp for m in msgs)
        expected = PROCESSES * THREADS * EACH
        span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        return {"expected": expected, "delivered": len(counts),
                "twice": sum(1 for c in counts.values() if c > 1),
                "429s": sum(1 for r in sb.requests() if r["status"] == 429),
                "span": span, "ideal": ideal_span(expected),
                "ratio": ideal_span(expected) / span if span else 0.0, "took": took}


def run() -> dict[str, dict[str, Any]]:
    return {"paced": run_fleet(True), "unpaced": run_fleet(False)}


def main() -> None:
    r = run()
    for name, x in r.items():
        print(f"{name}: delivered {x['delivered']} of {x['expected']} ({x['twice']} twice), "
              f"429s {x['429s']}, span {x['span']:.1f} s (the limits allow {x['ideal']:.1f} s)"
              f", achieved / allowed {x['ratio']:.2f}")


if __name__ == "__main__":
    main()
