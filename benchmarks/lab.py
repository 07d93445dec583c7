"""The JupyterLab extension's costs (issue 26): how much longer JupyterLab takes to show a
notebook with the extension than without it (same machine, same run, alternating), and how
long from a kernel's SIGKILL to the Zoom message (the server's restarter sees the death;
goal ≤ 10 s). JupyterLab, Chromium and the sandbox run for real on 127.0.0.1.

Run: ``.venv/bin/python benchmarks/lab.py``.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import browser_page  # noqa: E402
from tests.jupyter_server import jupyter, with_lab_extension  # noqa: E402
from tests.test_lab_extension import kernel_pid, texts, write  # noqa: E402
from zoom_notebook.sandbox import Sandbox  # noqa: E402


def _load_times(sb: Sandbox, tmp: Path, extension: bool, loads: int) -> list[float]:
    env = {**sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
           "ZOOM_NOTEBOOK_HOME": str(tmp / "home")}
    if extension:
        env = with_lab_extension(tmp, env)
    nb = write(tmp / "page.ipynb", ["x = 1"], target={"to_channel": sb.channel_id("general")})
    times = []
    with jupyter("lab", tmp, env, [nb]) as (base, token), browser_page() as page:
        page.goto(f"{base}/lab/tree/page.ipynb?token={token}")  # warm: caches filled
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        for _ in range(loads):
            start = time.perf_counter()
            page.reload()
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator, .jp-Toolbar-kernelName",
                                   timeout=60_000)
            times.append(time.perf_counter() - start)
    return times


def page_load(loads: int = 5) -> dict[str, float]:
    out: dict[str, list[float]] = {"with": [], "without": []}
    with Sandbox(channel_limits=False) as sb:
        for _ in range(2):
            for variant in ("without", "with"):
                with tempfile.TemporaryDirectory() as tmp:
                    out[variant] += _load_times(sb, Path(tmp), variant == "with", loads)
    return {k: statistics.median(v) for k, v in out.items()}


def kill_to_message(kills: int = 3) -> list[float]:
    import requests

    took = []
    with Sandbox(channel_limits=False) as sb, tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        env = with_lab_extension(tmp, {**sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
                                       "ZOOM_NOTEBOOK_HOME": str(tmp / "home"),
                                       "ZOOM_NOTEBOOK_FLOOD_PACING": "0"})
        nb = write(tmp / "job.ipynb", ["x = 1"],
                   target={"to_channel": sb.channel_id("general")})
        with jupyter("lab", tmp, env, [nb]) as (base, token):
            auth = {"Authorization": f"token {token}"}
            for _ in range(kills):
                r = requests.post(f"{base}/api/sessions", headers=auth, timeout=30, json={
                    "path": "job.ipynb", "type": "notebook", "name": "job.ipynb",
                    "kernel": {"name": "python3"}})
                kid = r.json()["kernel"]["id"]
                time.sleep(2)  # started and watched
                before = len([t for t in texts(sb) if "kernel died" in t])
                start = time.perf_counter()
                os.kill(kernel_pid(kid), signal.SIGKILL)
                while len([t for t in texts(sb) if "kernel died" in t]) == before:
                    if time.perf_counter() - start > 30:
                        raise AssertionError("no message")
                    time.sleep(0.05)
                took.append(time.perf_counter() - start)
                time.sleep(3)
                requests.delete(f"{base}/api/sessions/{r.json()['id']}", headers=auth,
                                timeout=30)
    return took


def run(loads: int = 5, kills: int = 3) -> dict[str, Any]:
    load = page_load(loads)
    deaths = kill_to_message(kills)
    return {"load with": load["with"], "load without": load["without"],
            "kills": len(deaths), "kill median": statistics.median(deaths),
            "kill max": max(deaths)}


if __name__ == "__main__":
    r = run()
    print(f"page load without / with the extension, s: {r['load without']:.2f} / "
          f"{r['load with']:.2f}")
    print(f"SIGKILL -> Zoom message, s: median {r['kill median']:.1f}, max {r['kill max']:.1f}")
