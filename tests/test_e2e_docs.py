"""Issue 13: the docs' code blocks render as code (one box per block, no literal
"python"/"bash" line), checked in the built site and in Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .browser import browser_page
from .jupyter_server import ROOT

FENCE = re.compile(r"^\s*```")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
                   cwd=ROOT, check=True, timeout=120)
    return out


def _pages(site: Path):
    for md in sorted((ROOT / "docs").glob("*.md")):
        html = site / ("index.html" if md.stem == "index" else f"{md.stem}/index.html")
        yield md, html.read_text(encoding="utf-8")


def test_every_fenced_block_is_one_code_box(site):
    for md, html in _pages(site):
        fences = sum(1 for line in md.read_text(encoding="utf-8").splitlines()
                     if FENCE.match(line)) // 2
        assert html.count("<pre") == fences, f"{md.name}: {fences} fences, " \
                                             f"{html.count('<pre')} code boxes"
        assert "```" not in html and not re.search(r"<code>(python|bash)\s*\n", html), md.name


@pytest.mark.e2e
def test_code_blocks_render_as_code_in_a_browser(site):
    with browser_page() as page:
        for name, first, last in (("getting-started", "%load_ext zoom_notebook",
                                   "Hello from Jupyter"),
                                  ("zoom-app", "export ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")):
            page.goto((site / name / "index.html").as_uri())
            boxes = page.locator("pre", has_text=first)
            assert boxes.count() == 1, name
            text = boxes.first.inner_text()
            assert first in text and last in text, name  # the whole block in one box
            assert page.locator("p", has_text=re.compile(r"^\s*(python|bash)\b")).count() == 0
