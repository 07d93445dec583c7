"""Issue 23 item 1: the README's quick tour, extracted from README.md (not copied), pasted
as written: the notebook blocks into one fresh kernel against the sandbox, the shell block
line by line in bash. No cell may end in an error; what the sandbox received is checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from zoom_notebook.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
APPROVER = ROOT / "tests" / "harness" / "approve_browser.py"
pytestmark = pytest.mark.slow


def tour() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("## Quick tour", 1)[1].split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", tour(), flags=re.S)


def browser() -> str:
    return f"{sys.executable} {APPROVER} %s &"


def _answer_the_question(sb: Sandbox, text: str) -> threading.Thread:
    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sb.world.lock:
                asked = [m for m in sb.world.messages.values() if "Ship model v2?" in m.message]
            if asked:
                time.sleep(0.5)
                sb.reply("grace", text, to_channel=asked[0].target, reply_to=asked[0].id)
                return
            time.sleep(0.1)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_notebook_blocks_run_as_written(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    from zoom_notebook import demo

    cells = blocks("python")
    assert len(cells) == 5 and cells[0].startswith("%load_ext zoom_notebook")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    with Sandbox(channel_limits=False) as sb:
        env = demo._kernel_env(sb, str(tmp_path / "home"))  # as ./scripts/demo's kernel
        env["BROWSER"] = browser()
        _answer_the_question(sb, "yes")
        NotebookClient(nb, timeout=180, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
        errors = [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
        assert not errors, errors
        texts = [m["message"] for m in sb.messages()]
        names = [f["file_name"] for m in sb.messages() for f in m.get("files") or []]
    assert any("count" in t for t in texts)           # df.describe() as text
    assert any(n.endswith(".png") for n in names)      # the figure, in the reply
    assert "results.csv" in names
    assert any(t.startswith("✅ Training: done, 5/5") for t in texts)
    assert any("Ship model v2?" in t for t in texts)
    assert not [t for t in texts if "Line2D" in t]     # the figure, not its repr


def test_the_shell_block_runs_line_by_line(tmp_path):
    (lines,) = blocks("bash")
    lines = [line for line in lines.splitlines() if line.strip()]
    assert lines[0].startswith("zoom-notebook sandbox &")
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "unattended.ipynb", tmp_path / "notebooks")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ZOOM_", "XDG_"))}
    env.update(HOME=str(home), BROWSER=browser(),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    env_file = home / ".config" / "zoom-notebook" / "sandbox.env"
    script = "\n".join([
        "set -e", lines[0],
        # a person reads the address it prints before typing the next line
        f"for i in $(seq 100); do [ -f {env_file} ] && break; sleep 0.1; done",
        *lines[1:], "kill %1"])
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                         capture_output=True, timeout=240)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Logged in to Zoom" in out.stdout and "can do" in out.stdout
    assert "Sent to channel #data-science" in out.stdout
    assert "Logged out" in out.stdout
    # no traceback of ours (a kernel papermill stops may print ipykernel's own shutdown
    # noise on stderr: "Socket operation on non-socket", not this package's)
    assert not re.search(r'File "[^"]*zoom_notebook/', out.stderr), out.stderr
