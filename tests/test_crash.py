"""SECURITY.md 25-27 proven by killing things: processes and real Jupyter kernels that
queue alerts and progress edits are SIGKILLed at random moments, some mid-request; later
processes (and a last one) deliver what they left: nothing lost, nothing twice. The
benchmark command runs the same with 200 kills (docs/performance.md)."""

from __future__ import annotations

import pytest

from .harness import crash

pytestmark = pytest.mark.slow


def test_sigkill_processes_and_kernels_lose_nothing_and_send_nothing_twice():
    result = crash.run(kills=10, kernel_kills=2, seed=7)
    assert result["kills"] == 10 and result["kernel kills"] == 2, result
    assert result["killed mid-request"] >= 1, result  # some kills did land mid-request
    assert result["accepted"] >= 20, result
    assert result["lost"] == 0, result
    assert result["duplicated"] == 0, result
    assert result["stale progress"] == 0, result
    assert result["kept"] == 0, result
