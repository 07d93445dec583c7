"""The docs tell the truth about the code."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_magics_reference_is_generated_from_the_magics_help():
    module = runpy.run_path(str(ROOT / "scripts" / "gen_magics_doc.py"))
    current = (ROOT / "docs" / "magics.md").read_text(encoding="utf-8")
    assert current == module["render"](), (
        "docs/magics.md is stale: run .venv/bin/python scripts/gen_magics_doc.py")


def test_readme_links_resolve():
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
