"""One process (or kernel) of the crash test (tests/harness/crash.py).

``crash_worker.py RUN ALERTS STEPS``: queue ALERTS alerts (``zn.notify``) and one
progress message of STEPS edits (``zn.progress``) to the channel in ``$CH``, printing
``ACK <tag>`` once the package has accepted each (``put()`` returned: it is on disk),
``ACKDONE <tag>`` once the progress's final edit is accepted; then exit normally (the
exit flush is bounded: what is left stays in the journal). The parent SIGKILLs it at a
random moment. ``crash_worker.py drain``: deliver what dead processes left, then print
``LEFT <n>`` (records still kept: failed or unknown).

The timings are shortened for a local sandbox (as tests/harness/soak.py does); the logic is
the package's own.
"""

from __future__ import annotations

import os
import sys
import time


def _tune() -> None:
    from zoom_notebook import client, resolve, retry

    client.DEFAULT_TIMEOUT = (1.0, 2.0)
    client.DEFAULT_RETRY_BUDGET = 2.0
    retry.BACKOFF_BASE = 0.05
    resolve.SETTLE = 0.2


def work(run: str, alerts: int, steps: int) -> None:
    import zoom_notebook as zn

    ch = os.environ["CH"]
    half = alerts // 2

    def alert(i: int) -> None:
        tag = f"a-{run}-{i}"
        with zn.notify(f"[{tag}]", to_channel=ch):
            pass
        print("ACK", tag, flush=True)
        time.sleep(0.1)  # a computation between alerts

    for i in range(half):
        alert(i)
    ptag = f"p-{run}"
    for i in zn.progress(range(steps), desc=f"[{ptag}]", every=0, to_channel=ch):
        if i == 0:
            print("ACK", ptag, flush=True)
        time.sleep(0.01)
    print("ACKDONE", ptag, flush=True)
    for i in range(half, alerts):
        alert(i)


def drain() -> None:
    from zoom_notebook.outbox import get_outbox

    box = get_outbox()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        box.adopt(wait=True)
        box.flush(60)
        left = [r for r in box.saved() if r.get("status") not in ("failed", "unknown")]
        if not left and not box.pending():
            break
        time.sleep(0.2)
    print("LEFT", len(box.saved()), flush=True)


def main(argv: list[str]) -> None:
    _tune()
    if argv[0] == "drain":
        drain()
    else:
        work(argv[0], int(argv[1]), int(argv[2]))


if __name__ == "__main__":
    main(sys.argv[1:])
