"""One kernel-like process for the token race test: 4 threads send each round.

argv: control_dir rounds threads channel_id. The environment points at the sandbox and
the shared ZOOM_NOTEBOOK_HOME (a user login is in its store).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import zoom_notebook as zn
from zoom_notebook import api
from zoom_notebook.config import Settings
from zoom_notebook.store import TokenStore


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.002)


def main() -> None:
    control, rounds, nthreads, channel = (Path(sys.argv[1]), int(sys.argv[2]),
                                          int(sys.argv[3]), sys.argv[4])
    pid = os.getpid()
    client = api.client()
    store = TokenStore(Settings.load().home_dir)
    errors: list[str] = []
    (control / f"ready-{pid}").touch()
    for r in range(rounds):
        wait_for(control / f"go-{r}")
        # Like a kernel starting this round: it holds the (expired) token from the store.
        client.credentials._cached = store.read()
        barrier = threading.Barrier(nthreads)

        def send(t: int, r: int = r, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                zn.send(f"p{pid}-t{t}-r{r}", to_channel=channel)
            except Exception as exc:  # reported to the test, which fails on any
                errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=send, args=(t,)) for t in range(nthreads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        (control / f"done-{r}-{pid}").write_text("\n".join(errors))


if __name__ == "__main__":
    main()
