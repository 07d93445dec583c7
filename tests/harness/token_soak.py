"""Token soak: P processes x T threads share one user login; each round every one of them
starts with the same expired token and sends. Zoom's refresh tokens rotate, so per
rotation exactly ONE refresh may reach Zoom and no invalid_grant may ever happen.

Run: ``.venv/bin/python tests/harness/token_soak.py [--rounds 100]``
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("race_worker.py")


def _wait(pred: Any, procs: list[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("workers did not answer in time")
        if any(p.poll() not in (None, 0) for p in procs):
            raise AssertionError("a worker process failed")
        time.sleep(0.005)


def run(sb: Any, *, processes: int = 8, threads: int = 4, rounds: int = 100,
        control: Path) -> dict[str, Any]:
    """With the environment pointing at ``sb`` and a user login in the store."""
    from zoom_notebook.config import Settings
    from zoom_notebook.store import TokenStore

    store = TokenStore(Settings.load().home_dir)
    channel = sb.channel_id("general")
    sb.configure(channel_limits=False)
    control.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(control), str(rounds),
                               str(threads), channel], env={**os.environ})
             for _ in range(processes)]
    per_round = []
    errors: list[str] = []
    try:
        _wait(lambda: len(list(control.glob("ready-*"))) == processes, procs)
        for r in range(rounds):
            before = sb.counters.get("refresh_token", 0)
            sb.expire_access_tokens()
            with store.lock():
                record = store.read()
                assert record is not None
                record["expires_at"] = int(time.time()) - 5
                store.write(record)
            (control / f"go-{r}").touch()
            _wait(lambda r=r: len(list(control.glob(f"done-{r}-*"))) == processes, procs)
            errors += [p.read_text() for p in control.glob(f"done-{r}-*") if p.read_text()]
            per_round.append(sb.counters.get("refresh_token", 0) - before)
        for p in procs:
            p.wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    texts = collections.Counter(m["message"] for m in sb.messages()
                                if m["message"].startswith("p"))
    expected = processes * threads * rounds
    return {"rounds": rounds, "refresh calls per rotation": sorted(set(per_round)),
            "invalid_grant": sb.counters.get("invalid_grant", 0), "errors": errors,
            "messages": len(texts), "expected": expected,
            "duplicated": sum(1 for c in texts.values() if c > 1)}


def standalone(rounds: int) -> dict[str, Any]:
    from zoom_notebook import api
    from zoom_notebook import sandbox as sandbox_mod

    saved = dict(os.environ)
    try:
        with sandbox_mod.Sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
            for var in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER"):
                os.environ.pop(var, None)
            os.environ.update({**sb.env(), "ZOOM_CLIENT_SECRET": sb.client_secret,
                               "ZOOM_NOTEBOOK_HOME": str(Path(tmp) / "home")})
            api.forget_clients()
            sandbox_mod.login()
            return run(sb, rounds=rounds, control=Path(tmp) / "control")
    finally:
        os.environ.clear()
        os.environ.update(saved)
        api.forget_clients()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    result = standalone(parser.parse_args().rounds)
    print(result)


if __name__ == "__main__":
    main()
