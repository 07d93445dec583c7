"""Fault soak: many sends through ``zn.send`` and through the alert outbox against the
sandbox with a fraction of requests hit by every fault it has, then an account of what
happened to each message.

Faults (chosen at random for ``rate`` of the Team Chat requests): connection dropped
before / after the request was read, HTTP 500/502/504 (some after delivering), 503, 429
(account QPS, and per-channel), slow answers (within and beyond the read timeout), the
access token expiring (so the login is refreshed); plus a real account QPS limit and the
listener refusing connections for a moment every half second.

Every message has a unique text, so the sandbox's store tells what really arrived:

- delivered once: we said delivered, and it arrived once;
- reported failed: we said it was not sent, with a reason (and it did not arrive);
- reported unknown: we said the outcome is unknown (it may or may not have arrived);
- lost silently: we said delivered (or said nothing) and it did not arrive  (must be 0);
- duplicated by our retries: it arrived more than once  (must be 0);
- misreported: we said failed but it arrived  (must be 0).

Run: ``.venv/bin/python tests/harness/soak.py [--sends 10000] [--outbox 10000]``
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FAULT_PATH = "/v2/chat/"  # the Team Chat calls (not OAuth: see docs/reliability.md)


def _faults() -> list[Any]:
    from zoom_notebook.sandbox.faults import Fault

    def f(kind: str, **kw: Any) -> Fault:
        return Fault(kind, path=FAULT_PATH, **kw)

    return [
        f("drop_before"), f("drop_after"),
        f("status", status=500), f("status", status=500, handled=True),
        f("status", status=502, handled=True), f("status", status=504),
        f("status", status=503),
        f("status", status=429, retry_after=0.05, retry_after_format="seconds"),
        f("status", status=429, retry_after=0.05, retry_after_format="seconds"),
        f("delay", seconds=0.05), f("delay", seconds=0.5),
        f("expire"),
    ]


class Flapper:
    """Refuse connections for 30 ms every half second (no listener: ECONNREFUSED)."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.windows = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sb.refuse_connections(0.03)
            self.windows += 1
            time.sleep(0.2)  # let it listen again before the next window

    def __enter__(self) -> "Flapper":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        time.sleep(0.3)


def account(kind: dict[str, str], arrived: collections.Counter[str]) -> dict[str, int]:
    out = collections.Counter()
    for text, said in kind.items():
        n = arrived.get(text, 0)
        if n > 1:
            out["duplicated"] += 1
        if said == "delivered":
            out["delivered once" if n == 1 else "lost silently"] += 1 if n <= 1 else 0
        elif said == "failed":
            out["reported failed"] += 1
            if n:
                out["misreported"] += 1
        elif said == "unknown":
            out["reported unknown"] += 1
        else:
            out["lost silently"] += 1
    for key in ("delivered once", "reported failed", "reported unknown", "lost silently",
                "duplicated", "misreported"):
        out.setdefault(key, 0)
    return dict(out)


def run(sends: int = 10_000, outbox_sends: int = 10_000, rate: float = 0.2,
        threads: int = 8, seed: int = 1) -> dict[str, Any]:
    from zoom_notebook import api, client, resolve, retry
    from zoom_notebook import sandbox as sandbox_mod
    from zoom_notebook.errors import OutcomeUnknown, ZoomNotebookError
    from zoom_notebook.outbox import Item, Outbox

    saved = (client.DEFAULT_TIMEOUT, client.DEFAULT_RETRY_BUDGET, retry.BACKOFF_BASE,
             retry.FLOOR, resolve.SETTLE, dict(os.environ))
    client.DEFAULT_TIMEOUT = (1.0, 0.3)  # a "slow answer" of 0.5 s is past the read timeout
    client.DEFAULT_RETRY_BUDGET = 5.0
    retry.BACKOFF_BASE = 0.02
    retry.FLOOR = 0.02  # the sandbox's Retry-After is 0.05 s: keep the soak quick
    # a slow answer (0.5 s) outlives the read timeout (0.3 s) by 0.2 s: let the sandbox
    # finish handling it before reading back, as one must let Zoom settle
    resolve.SETTLE = 0.4
    try:
        with sandbox_mod.Sandbox(qps=400, channel_limits=False) as sb, \
                tempfile.TemporaryDirectory() as home:
            for var in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER"):
                os.environ.pop(var, None)
            os.environ.update({**sb.env(), "ZOOM_CLIENT_SECRET": sb.client_secret,
                               "ZOOM_NOTEBOOK_HOME": home})
            api.forget_clients()
            sandbox_mod.login()  # a user login: expired tokens are refreshed (rotating)
            channels = [sb.channel_id(n) for n in ("general", "data-science", "alerts")]
            sb.faults.set_random(rate, _faults(), seed=seed)
            said: dict[str, str] = {}
            reasons: collections.Counter[str] = collections.Counter()
            start = time.perf_counter()

            def one(i: int) -> None:
                text = f"soak-send-{i}"
                try:
                    api.send(text, to_channel=channels[i % 3])
                    said[text] = "delivered"
                except OutcomeUnknown:
                    said[text] = "unknown"
                except ZoomNotebookError as exc:
                    said[text] = "failed"
                    reasons[f"{type(exc).__name__}: {str(exc)[:70]}"] += 1

            with Flapper(sb) as flapper, \
                    concurrent.futures.ThreadPoolExecutor(threads) as pool:
                list(pool.map(one, range(sends)))
            send_seconds = time.perf_counter() - start

            box = Outbox(Path(home), api.client, retry_base=0.05)
            items = []
            start = time.perf_counter()
            with Flapper(sb) as flapper2:
                for i in range(outbox_sends):
                    items.append(box.put(Item(payload={
                        "message": f"soak-outbox-{i}", "to_channel": channels[i % 3]})))
                box.flush(timeout=3600)
            outbox_seconds = time.perf_counter() - start
            box.close(timeout=0)
            box_said = {}
            for item in items:
                maybe = item.status == "failed" and item.resolve_first  # could not check
                box_said[item.payload["message"]] = "unknown" if maybe else {
                    "sent": "delivered", "failed": "failed", "unknown": "unknown"
                }.get(item.status, "pending")
                if item.status == "failed":
                    reasons["outbox " + (item.error or "?").split(":")[0]] += 1
            sb.faults.clear()
            arrived = collections.Counter(m["message"] for m in sb.messages())
            return {
                "sends": account(said, arrived),
                "outbox": account(box_said, arrived),
                "reasons": dict(reasons),
                "faults fired": dict(sb.faults.fired),
                "refusal windows": flapper.windows + flapper2.windows,
                "rate-limited by the account limit": sb.limiter.rejected,
                "token refreshes": sb.counters.get("refresh_token", 0),
                "invalid_grant": sb.counters.get("invalid_grant", 0),
                "seconds": {"sends": round(send_seconds, 1),
                            "outbox": round(outbox_seconds, 1)},
                "kept in the outbox file": len(box.saved()),
            }
    finally:
        (client.DEFAULT_TIMEOUT, client.DEFAULT_RETRY_BUDGET, retry.BACKOFF_BASE,
         retry.FLOOR, resolve.SETTLE, env) = saved
        os.environ.clear()
        os.environ.update(env)
        api.forget_clients()


def table(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for part in ("sends", "outbox"):
        counts = result[part]
        for key in ("delivered once", "reported failed", "reported unknown"):
            rows.append((f"soak {part}: {key}", str(counts[key]), ""))
        for key in ("lost silently", "duplicated", "misreported"):
            rows.append((f"soak {part}: {key}", str(counts[key]), "0"))
    fired = result["faults fired"]
    rows.append(("soak: faults injected (+ refusal windows)",
                 f"{sum(fired.values())} (+{result['refusal windows']})", ""))
    rows.append(("soak: token refreshes / invalid_grant",
                 f"{result['token refreshes']} / {result['invalid_grant']}", "- / 0"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sends", type=int, default=10_000)
    parser.add_argument("--outbox", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=0.2)
    args = parser.parse_args()
    result = run(args.sends, args.outbox, args.rate)
    for name, figure, goal in table(result):
        print(f"{name:<52}{figure:>16}{goal:>8}")
    print("faults:", result["faults fired"])
    print("reasons for failures:", result["reasons"])
    print("seconds:", result["seconds"])


if __name__ == "__main__":
    main()
