"""Issue 12 / SECURITY.md 30, a kernel's whole life: a real Jupyter kernel in ``%xmode
Verbose`` is interrupted (the Stop button) at random moments of a paste login, a refresh,
a device login, a send and a ``%%zoomchat`` cell; the notebook is saved and scanned for
every secret the sandbox issued. ``./scripts/bench`` runs the same with 200 interrupts
(docs/performance.md)."""

from __future__ import annotations

import pytest

from .harness import interrupt_fuzz

pytestmark = pytest.mark.slow


def test_interrupts_anywhere_leave_no_secret_in_the_saved_notebook():
    result = interrupt_fuzz.run(points=20, seed=5)
    assert result["points"] == 20, result  # twenty interrupts landed inside operations
    assert len(result["landed by operation"]) >= 4, result
    assert result["secrets issued"] >= 20, result
    assert result["hidden values shown"] > 0, result  # verbose tracebacks printed locals
    assert result["secrets found"] == 0, result["found"]
    assert result["markers found"] == [], result
