"""Memory of a kernel-like process (an IPython shell) that loaded the extension and sent
1,000 messages, next to one that sent the same with a bare requests.Session; and the
growth between 1,000 and 10,000 sends (goal: none to speak of). The sandbox runs in its
own process so it does not count.

Run: ``.venv/bin/python benchmarks/memory.py``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = r"""
import json, os, resource, sys
from IPython.core.interactiveshell import InteractiveShell
mode, total, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page
sh = InteractiveShell.instance()
email = os.environ["MEM_CONTACT"]
if mode == "zn":
    sh.run_line_magic("load_ext", "zoom_notebook")
    import zoom_notebook as zn
    def send(i):
        zn.send(f"memory {i}", to_contact=email)
else:
    import requests
    session = requests.Session()
    url = os.environ["ZOOM_API_URL"] + "/chat/users/me/messages"
    headers = {"Authorization": "Bearer " + os.environ["ZOOM_ACCESS_TOKEN"]}
    def send(i):
        r = session.post(url, json={"message": f"memory {i}", "to_contact": email},
                         headers=headers, timeout=(5, 30))
        assert r.status_code == 201
out = {}
for i in range(total):
    send(i)
    if i + 1 == first:
        out["rss_first"] = rss()
        out["peak_first"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out["rss_last"] = rss()
print(json.dumps(out))
"""


def _child(mode: str, total: int, first: int, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(total), str(first)],
                         env=env, capture_output=True, text=True, check=True, timeout=900)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(first: int = 1000, total: int = 10_000) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env_file = Path(tmp) / "sb.env"
        sandbox = subprocess.Popen([sys.executable, "-m", "zoom_notebook.cli", "sandbox",
                                    "--env-file", str(env_file)], stdout=subprocess.PIPE,
                                   text=True)
        try:
            assert sandbox.stdout is not None
            sandbox.stdout.readline()
            deadline = time.monotonic() + 30
            while not env_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            env = {**os.environ, "ZOOM_NOTEBOOK_HOME": str(Path(tmp) / "home"),
                   "MEM_CONTACT": "grace.hopper@example.com"}
            for line in env_file.read_text().splitlines():
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value.strip("'")
            bare = _child("bare", first, first, env)
            ours = _child("zn", total, first, env)
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=10)
    mib = 1024 * 1024
    return {"bare peak MiB": bare["peak_first"] / mib, "zn peak MiB": ours["peak_first"] / mib,
            "zn rss at 1k MiB": ours["rss_first"] / mib,
            "zn rss at 10k MiB": ours["rss_last"] / mib,
            "growth 1k->10k MiB": (ours["rss_last"] - ours["rss_first"]) / mib}


def main() -> None:
    for key, value in run().items():
        print(f"{key:<24}{value:>10.1f}")


if __name__ == "__main__":
    main()
