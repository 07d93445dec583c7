"""The notebooks' checked outputs really are checked: a changed deterministic output makes
the nbval run fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from .jupyter_server import ROOT

NBVAL = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=120",
         "--nbval-sanitize-with", "sanitize.cfg"]


def run_nbval(folder, name):
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(folder), *NBVAL, name], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_a_changed_checked_output_fails(tmp_path):
    for name in ("conftest.py", "sanitize.cfg", "quickstart.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    assert run_nbval(tmp_path, "quickstart.ipynb").returncode == 0
    path = tmp_path / "quickstart.ipynb"
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "sorted(channels)" in "".join(c["source"]))
    assert "# NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
    data = cell["outputs"][0]["data"]
    text = "".join(data["text/plain"]) if isinstance(data["text/plain"], list) \
        else data["text/plain"]
    data["text/plain"] = text.replace("general", "genral")
    path.write_text(json.dumps(nb))
    result = run_nbval(tmp_path, "quickstart.ipynb")
    assert result.returncode == 1
    assert "genral" in result.stdout
