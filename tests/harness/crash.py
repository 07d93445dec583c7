"""Crash test: processes and real Jupyter kernels that queue alerts and progress edits are
SIGKILLed at random moments (some mid-request); later processes deliver what they left.
Then every message is accounted for against the sandbox's store:

- lost: accepted (``put()`` returned, the worker printed ACK) and never arrived (must be 0);
- duplicated: arrived more than once, or a progress became more than one message (must
  be 0);
- stale progress: its final edit was accepted and the message does not show it (must be 0);
- kept: still in the outbox as failed/unknown after the drain (shown to the user; 0 here,
  as the login may read Zoom back).

Each worker (tests/harness/crash_worker.py) shares one home folder (one journal). Sandbox
faults on a fraction of Team Chat requests: a slow answer (0.4 s, so kills land while a
request is in flight) and a connection dropped after the message was stored.

Run: ``.venv/bin/python tests/harness/crash.py [--kills 200] [--kernel-kills 10]``
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = HERE / "crash_worker.py"


def _env(sb: Any, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")}
    env.update(sb.env())
    env.update({"ZOOM_ACCESS_TOKEN": sb.issue_token(), "ZOOM_NOTEBOOK_HOME": str(home),
                "CH": sb.channel_id("general"), "PYTHONUNBUFFERED": "1"})
    return env


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.done: set[str] = set()
        self.kills = 0
        self.kernel_kills = 0
        self.mid_request = 0  # kills that left a record in flight
        self.exits = 0  # workers that finished before their kill

    def line(self, text: str) -> None:
        parts = text.split()
        with self.lock:
            if len(parts) == 2 and parts[0] == "ACK":
                self.acked.add(parts[1])
            elif len(parts) == 2 and parts[0] == "ACKDONE":
                self.done.add(parts[1])


def _in_flight(home: Path, pid: int) -> int:
    from zoom_notebook.outbox import Outbox

    journal = Outbox(home, lambda: None)._replay_locked()
    return sum(1 for r in journal.records.values() if r.get("status") == "inflight"
               and (r.get("owner") or {}).get("pid") == pid)


def kill_process(run: str, env: dict[str, str], home: Path, tally: Tally,
                 rng: random.Random, alerts: int, steps: int) -> None:
    proc = subprocess.Popen([sys.executable, str(WORKER), run, str(alerts), str(steps)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: [tally.line(x) for x in proc.stdout or []],
                              daemon=True)
    reader.start()
    time.sleep(rng.uniform(0.2, 2.0))
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with tally.lock:
            tally.kills += 1
        if _in_flight(home, proc.pid):
            with tally.lock:
                tally.mid_request += 1
    else:
        with tally.lock:
            tally.exits += 1
    reader.join(5)
    proc.stdout.close()
    proc.wait()


def kill_kernel(run: str, env: dict[str, str], home: Path, tally: Tally,
                rng: random.Random, alerts: int, steps: int) -> None:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(home.parent))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute(f"%load_ext zoom_notebook\nimport sys\nsys.path.insert(0, {str(HERE)!r})\n"
                   "import crash_worker\ncrash_worker._tune()\n"
                   f"crash_worker.work({run!r}, {alerts}, {steps})")
        deadline = time.monotonic() + rng.uniform(0.5, 3.0)
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except Exception:  # queue.Empty: nothing came before the deadline
                continue
            if msg["msg_type"] == "stream":
                for text in msg["content"]["text"].splitlines():
                    tally.line(text)
        pid = km.provisioner.pid if km.provisioner is not None else None  # type: ignore
        assert pid
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        with tally.lock:
            tally.kills += 1
            tally.kernel_kills += 1
        if _in_flight(home, pid):
            with tally.lock:
                tally.mid_request += 1
    finally:
        import asyncio

        kc.stop_channels()
        km.shutdown_kernel(now=True)  # reaps the killed process, removes its files
        # jupyter_client runs its coroutines on a loop it makes for this thread and
        # never closes: close it (the next kernel of this thread gets a new one)
        try:
            asyncio.get_event_loop_policy().get_event_loop().close()
        except RuntimeError:  # no loop was made in this thread
            pass


def account(messages: list[dict[str, Any]], tally: Tally, kept: int) -> dict[str, int]:
    import re

    counts: collections.Counter[str] = collections.Counter()
    text_of: dict[str, str] = {}
    for m in messages:
        for tag in re.findall(r"\[([ap]-[\w-]+)\]", m.get("message", "")):
            counts[tag] += 1
            text_of[tag] = m["message"]
    lost = sum(1 for t in tally.acked if counts[t] == 0)
    stale = sum(1 for t in tally.done if "done" not in text_of.get(t, ""))
    return {"accepted": len(tally.acked), "arrived": len(counts),
            "lost": lost, "duplicated": sum(1 for n in counts.values() if n > 1),
            "stale progress": stale, "kept": kept}


def run(kills: int = 200, kernel_kills: int = 10, parallel: int = 2, seed: int = 1,
        alerts: int = 10, steps: int = 15, rate: float = 0.15) -> dict[str, Any]:
    from zoom_notebook.sandbox import Sandbox
    from zoom_notebook.sandbox.faults import Fault

    tally = Tally()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Sandbox(channel_limits=False) as sb:
        home = Path(tmp) / "home"
        env = _env(sb, home)
        sb.faults.set_random(rate, [Fault("delay", path="/v2/chat/", seconds=0.4),
                                    Fault("drop_after", path="/v2/chat/")], seed=seed)
        lock = threading.Lock()
        kernels_left = [kernel_kills]
        started = [0]
        launched = [0]
        every = max(1, kills // max(1, kernel_kills))

        def slot(n: int) -> None:
            local = random.Random(seed * 1000 + n)
            while True:
                with lock:
                    if tally.kills + started[0] >= kills:
                        return
                    started[0] += 1
                    launched[0] += 1
                    name = f"r{launched[0]}"
                    kernel = kernels_left[0] > 0 and launched[0] % every == 1 % every
                    kernels_left[0] -= kernel
                job = kill_kernel if kernel else kill_process
                job(name, env, home, tally, local, alerts, steps)
                with lock:
                    started[0] -= 1

        threads = [threading.Thread(target=slot, args=(n,)) for n in range(parallel)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sb.faults.clear()
        out = subprocess.run([sys.executable, str(WORKER), "drain"], env=env, text=True,
                             capture_output=True, timeout=300)
        kept = int(out.stdout.split("LEFT")[-1].strip() or -1) if "LEFT" in out.stdout else -1
        result = account(sb.messages(), tally, kept)
    result.update({"kills": tally.kills, "kernel kills": tally.kernel_kills,
                   "killed mid-request": tally.mid_request, "finished first": tally.exits,
                   "seconds": round(time.perf_counter() - start, 1)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--kernel-kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = run(args.kills, args.kernel_kills, seed=args.seed)
    width = max(map(len, result))
    print(f"{'crash test':<{width}}  value")
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
