"""Send throughput against the sandbox, next to a bare requests.Session in the same run.

1. 2,000 messages (limits off) through ``zn.send`` and through a bare ``requests.Session``
   posting the same JSON: both rates and their ratio (goal >= 0.9).
2. At a 20/s account limit: achieved rate / limit (goal >= 0.95), 429s seen, messages
   lost (0) and duplicated (0).

Run: ``.venv/bin/python benchmarks/send_throughput.py [--n 2000] [--limited 300]``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import time

import requests

import zoom_notebook as zn
from zoom_notebook.config import Settings
from zoom_notebook.message import build_message
from zoom_notebook.sandbox import Sandbox


def bare_rate(sb: Sandbox, token: str, payload: dict, n: int) -> float:
    session = requests.Session()
    url = sb.api_url + "/chat/users/me/messages"
    headers = {"Authorization": f"Bearer {token}"}
    start = time.perf_counter()
    for _ in range(n):
        resp = session.post(url, json=payload, headers=headers, timeout=(5, 30))
        assert resp.status_code == 201, resp.text
    return n / (time.perf_counter() - start)


def zn_rate(settings: Settings, channel: str, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        zn.send(f"benchmark message {i}", to_channel=channel, settings=settings)
    return n / (time.perf_counter() - start)


def throughput(n: int) -> dict[str, float]:
    with Sandbox(channel_limits=False) as sb:
        token = sb.issue_token()
        env = {**sb.env(), "ZOOM_ACCESS_TOKEN": token}
        settings = Settings.load(environ={**os.environ, **env})
        channel = sb.channel_id("general")
        payload = build_message("benchmark message 0", to_channel=channel)
        # Warm both paths, then alternate blocks of 100 (ABBA) so drift hits both alike.
        bare_rate(sb, token, payload, 50)
        zn_rate(settings, channel, 50)
        bare_s = zn_s = 0.0
        blocks = max(1, n // 100)
        for k in range(blocks):
            order = (bare_rate, zn_rate) if k % 2 == 0 else (zn_rate, bare_rate)
            for fn in order:
                if fn is bare_rate:
                    bare_s += 100 / bare_rate(sb, token, payload, 100)
                else:
                    zn_s += 100 / zn_rate(settings, channel, 100)
        b = blocks * 100 / bare_s
        z = blocks * 100 / zn_s
        return {"bare": b, "zn": z, "ratio": z / b}


def limited(n: int, limit: int = 20) -> dict[str, float]:
    with Sandbox(qps=limit, channel_limits=False) as sb:
        env = {**sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token()}
        settings = Settings.load(environ={**os.environ, **env})
        contact = sb.user("grace")["email"]
        # Start on a second boundary so the first window is a whole one.
        time.sleep(1 - time.time() % 1)
        start, wall_start = time.perf_counter(), time.time()
        ids = [zn.send(f"paced {i}", to_contact=contact, settings=settings).id
               for i in range(n)]
        elapsed, wall_end = time.perf_counter() - start, time.time()
        # Zoom (and the sandbox) count per wall-clock second: the fair capacity is the
        # limit times the number of one-second windows the run touched.
        windows = int(wall_end) - int(wall_start) + 1
        got = sb.messages()
        texts = collections.Counter(m["message"] for m in got)
        lost = sum(1 for i in range(n) if texts[f"paced {i}"] == 0)
        dup = sum(c - 1 for c in texts.values() if c > 1)
        assert len(set(ids)) == n
        rate = n / elapsed
        return {"rate": rate, "limit": limit, "ratio": n / (windows * limit),
                "429s": sb.limiter.rejected, "lost": lost, "duplicated": dup}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--limited", type=int, default=300)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    t = throughput(args.n)
    lim = limited(args.limited)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    rows = [
        ("bare requests.Session, msg/s", f"{t['bare']:.0f}", ""),
        ("zn.send, msg/s", f"{t['zn']:.0f}", ""),
        ("zn.send / bare ratio", f"{t['ratio']:.2f}", ">= 0.90"),
        ("at 20/s limit: achieved msg/s", f"{lim['rate']:.2f}", ""),
        ("at 20/s limit: sent / capacity of windows used", f"{lim['ratio']:.2f}", ">= 0.95"),
        ("at 20/s limit: 429s seen", str(lim["429s"]), ""),
        ("at 20/s limit: messages lost", str(lim["lost"]), "0"),
        ("at 20/s limit: messages duplicated", str(lim["duplicated"]), "0"),
    ]
    print(f"{'benchmark':<48}{'figure':>14}{'goal':>10}")
    for name, figure, goal in rows:
        print(f"{name:<48}{figure:>14}{goal:>10}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"throughput": t, "limited": lim}, fh, indent=2)


if __name__ == "__main__":
    main()
