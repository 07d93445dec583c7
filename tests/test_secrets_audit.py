"""SECURITY.md 21 across the examples: every example notebook executed (saved with widget
state, kernels logging at DEBUG) holds none of the secrets the sandbox issued."""

from __future__ import annotations

import re

import pytest

from .harness import secrets_audit
from .jupyter_server import ROOT

pytestmark = pytest.mark.slow


def test_secrets_audit_of_the_example_notebooks(tmp_path):
    paths = secrets_audit.execute_notebooks(tmp_path)
    kernel_log = tmp_path / "kernels.log"
    assert "execute_request" in kernel_log.read_text()  # the kernels logged at DEBUG
    assert all((tmp_path / name).exists() for name in secrets_audit.NOTEBOOKS)
    result = secrets_audit.scan(paths, {})
    assert result["secrets"] >= 5 and result["hits"] == 0, result["where"]


def test_reliability_doc_names_real_tests():
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?", doc)
    assert len(named) > 40
    for path, name in named:
        text = (ROOT / path).read_text(encoding="utf-8")
        if name:
            assert f"def {name}(" in text, f"{path}::{name} does not exist"
    for item in range(1, 30):
        assert re.search(rf"^\| {item} \|", doc, flags=re.M), f"item {item} missing"
