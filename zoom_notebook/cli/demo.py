"""The demo: the local sandbox and JupyterLab on notebooks/quickstart.ipynb, already
pointed at the sandbox; or, ``--headless``, the quickstart executed and what the sandbox
received printed (for machines without a screen)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _kernel_env(sb: Any, home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER",
                        "ZOOM_CLIENT_SECRET", "ZOOM_WEBHOOK_URL", "ZOOM_WEBHOOK_TOKEN",
                        "ZOOM_NOTEBOOK_DRY_RUN")}
    env.update(sb.env())
    env["ZOOM_NOTEBOOK_HOME"] = home
    # The app's secret is kept in the token folder, as `zoom-notebook keep-secret` does,
    # not in the kernel's environment (where `!env` would show it)
    from zoom_notebook.core.store import save_client_secret

    save_client_secret(Path(home), sb.client_id, sb.client_secret)
    return env


def _describe(sb: Any) -> list[str]:
    users = {u.id: u for u in sb.world.users.values()}
    channels = {c.id: c.name for c in sb.world.channels.values()}
    lines = []
    for m in sb.messages():
        where = (f"#{channels.get(m['target'], m['target'])}" if m["kind"] == "to_channel"
                 else f"DM to {users[m['target']].display_name}")
        files = [f["file_name"] for f in m.get("files") or []]
        text = m["message"] or ("a file: " + ", ".join(files) if files else "(empty)")
        extra = []
        if m.get("reply_main_message_id"):
            extra.append("in a thread")
        if m.get("at_items"):
            extra.append("mentions " + ", ".join(i.get("at_contact", "@all")
                                                  for i in m["at_items"]))
        if files and m["message"]:
            extra.append("file " + ", ".join(files))
        first = text.splitlines()[0][:70]
        lines.append(f"  {where:<20} {first}" + (f"   [{'; '.join(extra)}]" if extra else ""))
    return lines


def run(*, headless: bool = False, open_browser: bool = True) -> int:
    from zoom_notebook.sandbox import Sandbox

    quickstart = NOTEBOOKS / "quickstart.ipynb"
    if not quickstart.exists():
        print(f"The demo runs from a checkout: {quickstart} is missing.", file=sys.stderr)
        return 2
    with Sandbox(channel_limits=False) as sb, \
            tempfile.TemporaryDirectory(prefix="zoom-demo-") as home:
        env = _kernel_env(sb, home)
        if headless:
            return _headless(sb, quickstart, env)
        return _lab(sb, env, open_browser, _workspace(Path(home)))


def _lab_config(home: Path) -> Path:
    """The demo's JupyterLab: no news pop-up, no update check (nothing fetched from the
    internet), only the notebooks shown."""
    path = home / "jupyter_lab_config.py"
    path.write_text("c.LabApp.news_url = None\n"
                    "c.LabApp.check_for_updates_class = 'jupyterlab.NeverCheckForUpdate'\n"
                    "c.ContentsManager.hide_globs = ['__pycache__', '*.pyc', '.*', "
                    "'conftest.py', 'sanitize.cfg']\n"
                    # the Zoom bell, the Zoom panel and kernel deaths (issue 26)
                    "c.ServerApp.jpserver_extensions = {'zoom_notebook.lab': True}\n",
                    encoding="utf-8")
    return path


#: where scripts/build-lab puts the JupyterLab extension in a checkout
LAB_EXTENSION = NOTEBOOKS.parent / "zoom_notebook" / "labextension"


def lab_extension_env(home: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` with the checkout's built JupyterLab extension (scripts/build-lab) on
    JUPYTER_PATH, through a link in ``home`` (an editable install has no
    share/jupyter/labextensions; an installed wheel has it there already). Unchanged
    when nothing is built."""
    if not (LAB_EXTENSION / "package.json").exists():
        return env
    path = home / "jupyter-path" / "labextensions"
    path.mkdir(parents=True, exist_ok=True)
    link = path / "zoom-notebook"
    if not link.exists():
        link.symlink_to(LAB_EXTENSION)
    return {**env, "JUPYTER_PATH": os.pathsep.join(
        filter(None, [str(path.parent), env.get("JUPYTER_PATH", "")]))}


def _workspace(home: Path) -> Path:
    """A copy of the tutorial notebooks to play in: saving there never changes the
    checkout's tracked notebooks, and the test helpers beside them stay out of view."""
    import json
    import shutil

    folder = home / "notebooks"
    folder.mkdir()
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, folder / notebook.name)
    # the quickstart is watched: its bells post to #general, a kernel death is reported
    quick = folder / "quickstart.ipynb"
    nb = json.loads(quick.read_text(encoding="utf-8"))
    nb.setdefault("metadata", {})["zoom_notebook"] = {"to_channel": "#general"}
    quick.write_text(json.dumps(nb, indent=1) + "\n", encoding="utf-8")
    return folder


def _headless(sb: Any, quickstart: Path, env: dict[str, str]) -> int:
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(quickstart, as_version=4)  # type: ignore[no-untyped-call]
    print(f"Running {quickstart.name} against the sandbox at {sb.url} …", flush=True)
    with tempfile.TemporaryDirectory(prefix="zoom-demo-kernel-") as sockets:
        # IPC sockets, readable by this user only: no plain-TCP kernel (and no warning)
        km = KernelManager(kernel_name="python3", transport="ipc",
                           ip=os.path.join(sockets, "kernel"))
        try:
            NotebookClient(nb, km=km, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(quickstart.parent)}}
                           ).execute(env=env)
        finally:
            if km.has_kernel:  # a kernel we passed in is ours to stop
                km.shutdown_kernel()
    lines = _describe(sb)
    print(f"The sandbox received {len(lines)} messages:")
    print("\n".join(lines))
    return 0


def _lab(sb: Any, env: dict[str, str], open_browser: bool, workspace: Path) -> int:
    import signal

    from zoom_notebook.sandbox import free_port

    # SIGTERM (a service manager, `kill`) ends the demo as Ctrl-C does: JupyterLab and its
    # kernels are stopped, not left running
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    token = secrets.token_hex(16)
    port = free_port()
    args = [sys.executable, "-m", "jupyter", "lab", "quickstart.ipynb", "--ip=127.0.0.1",
            f"--port={port}", f"--IdentityProvider.token={token}",
            f"--config={_lab_config(workspace.parent)}"]
    if not open_browser:
        args.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    env = lab_extension_env(workspace.parent, env)
    proc = subprocess.Popen(args, cwd=workspace, env=env,  # noqa: S603 - our own argv
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import requests

    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            print("JupyterLab did not start (is it installed? pip install -e '.[demo]')",
                  file=sys.stderr)
            return 1
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/status",
                            params={"token": token}, timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            print("JupyterLab did not start in time.", file=sys.stderr)
            return 1
        time.sleep(0.3)
    print(f"JupyterLab:        http://127.0.0.1:{port}/lab/tree/quickstart.ipynb?token={token}")
    print(f"Sandbox messages:  {sb.url}/")
    print("Run the notebook's cells and watch the messages arrive. Ctrl-C stops both.",
          flush=True)
    try:
        while proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0
