"""The notebooks' checked outputs really are checked: a changed deterministic output makes
the nbval run fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from .jupyter_server import ROOT

pytestmark = pytest.mark.slow

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
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code"
                and "zn.channels()" in "".join(c["source"]))
    assert "# NBVAL_CHECK_OUTPUT" in "".join(cell["source"])
    data = cell["outputs"][0]["data"]
    text = "".join(data["text/plain"]) if isinstance(data["text/plain"], list) \
        else data["text/plain"]
    data["text/plain"] = text.replace("general", "genral")
    path.write_text(json.dumps(nb))
    result = run_nbval(tmp_path, "quickstart.ipynb")
    assert result.returncode == 1
    assert "genral" in result.stdout


def test_receipts_are_compared_as_they_end_up_not_as_they_started(tmp_path):
    """A %%zoomchat receipt is drawn as "sending…" and updated in place to "✓ Sent":
    nbval must compare what the user sees at the end (a saved "sending…" fails)."""
    for name in ("conftest.py", "sanitize.cfg", "magics.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    path = tmp_path / "magics.ipynb"
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "Quarterly numbers" in "".join(c["source"]))
    assert "nbval-check-output" in cell["metadata"]["tags"]
    receipt = next(o for o in cell["outputs"] if "zoom-notebook-receipt" in
                   "".join(o.get("data", {}).get("text/html", "")))
    text = "".join(receipt["data"]["text/plain"])
    assert text.startswith("✓ Sent to channel #data-science")  # names the channel
    receipt["data"]["text/plain"] = text.replace("✓ Sent to", "⏳ Zoom: sending… to", 1)
    path.write_text(json.dumps(nb))
    result = run_nbval(tmp_path, "magics.ipynb")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "sending…" in result.stdout and "Cell 2" in result.stdout


def test_requests_made_by_notebook_kernels_are_checked_against_zooms_schema(tmp_path):
    import nbformat

    for name in ("conftest.py", "sanitize.cfg"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from zoom_notebook import sandbox, api\nsandbox.login()\n"
        "api.client().request('GET', '/chat/users/me/channels', params={'pagesize': 5})")]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    result = run_nbval(tmp_path, "bad.ipynb")
    assert result.returncode == 1
    assert "query parameter 'pagesize' is not in Zoom's API" in result.stdout
