"""Many kernels, one login: the race and crash tests (SECURITY.md 10 and 12)."""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zoom_notebook as zn
from zoom_notebook.config import Settings
from zoom_notebook.store import TokenStore

PROCESSES, THREADS = 8, 4
ROUNDS = int(os.environ.get("ZOOM_RACE_ROUNDS", "20"))


def _wait(pred, procs=(), timeout=60.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "workers did not answer in time"
        assert all(p.poll() in (None, 0) for p in procs), "a worker process failed"
        time.sleep(0.005)


def test_12_race_exactly_one_refresh_per_rotation(fake_browser, tmp_path):
    """SECURITY.md 12: 8 processes x 4 threads all start each round with the same expired
    token; per rotation exactly ONE refresh reaches Zoom, no invalid_grant, and every
    message is delivered once. Repeated over 20 rotations."""
    sb = fake_browser.sandbox
    zn.login(method="browser")
    store = TokenStore(Settings.load().home_dir)
    channel = sb.channel_id("general")
    sb.configure(channel_limits=False)
    control = tmp_path / "control"
    control.mkdir()
    worker = Path(__file__).with_name("race_worker.py")
    procs = [subprocess.Popen([sys.executable, str(worker), str(control), str(ROUNDS),
                               str(THREADS), channel], env={**os.environ})
             for _ in range(PROCESSES)]
    try:
        _wait(lambda: len(list(control.glob("ready-*"))) == PROCESSES, procs)
        for r in range(ROUNDS):
            before = sb.counters.get("refresh_token", 0)
            sb.expire_access_tokens()
            with store.lock():
                record = store.read()
                record["expires_at"] = int(time.time()) - 5
                store.write(record)
            (control / f"go-{r}").touch()
            _wait(lambda r=r: len(list(control.glob(f"done-{r}-*"))) == PROCESSES, procs)
            errors = [p.read_text() for p in control.glob(f"done-{r}-*") if p.read_text()]
            assert errors == []
            assert sb.counters.get("refresh_token", 0) - before == 1, f"rotation {r}"
        for p in procs:
            assert p.wait(timeout=30) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert sb.counters.get("invalid_grant", 0) == 0
    texts = collections.Counter(m["message"] for m in sb.messages())
    assert len(texts) == PROCESSES * THREADS * ROUNDS
    assert set(texts.values()) == {1}  # each delivered exactly once


def _writer(path: Path) -> None:
    """Child: rewrite the store as fast as it can, until killed."""
    store = TokenStore(path)
    i = 0
    while True:
        i += 1
        store.write({"access_token": f"a{i}" * 50, "refresh_token": f"r{i}" * 50,
                     "expires_at": 1_700_000_000 + i, "pad": "x" * random.randint(0, 20000)})


def test_10_writers_killed_mid_write_never_leave_a_bad_store(tmp_path):
    """SECURITY.md 10: writers SIGKILLed mid-write 200 times; a reader never sees a
    missing, empty or invalid store."""
    home = tmp_path / "home"
    store = TokenStore(home)
    store.write({"access_token": "first", "expires_at": 1})
    reads = 0
    for _ in range(200):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child is killed
            try:
                _writer(home)
            finally:
                os._exit(1)
        deadline = time.monotonic() + random.uniform(0.001, 0.02)
        while time.monotonic() < deadline:
            record = store.read()
            assert record is not None and record["access_token"]
            reads += 1
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        text = store.path.read_text()
        assert text and json.loads(text)["access_token"]
    assert reads > 200
    leftovers = list(home.glob(".tokens.json.*.tmp"))
    store.delete()
    assert not store.path.exists() and not any(p.exists() for p in leftovers)


@pytest.mark.parametrize("n", [1])
def test_race_worker_runs_standalone(n):
    """The worker script is importable (so a syntax slip fails here, not in the race)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "race_worker", Path(__file__).with_name("race_worker.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)
