"""Start JupyterLab (or Notebook 7) on 127.0.0.1 for end-to-end tests, with the
environment pointing at a sandbox, in throwaway folders; stop it afterwards."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import requests

from zoom_notebook.sandbox import free_port

ROOT = Path(__file__).resolve().parent.parent


def with_lab_extension(tmp: Path, env: dict[str, str]) -> dict[str, str]:
    """``env`` for a Jupyter server that loads zoom-notebook's extensions from this
    checkout, as the demo's does: the built labextension on JUPYTER_PATH, the server
    extension enabled in the config dir (what the wheel's share/ and etc/ files do for an
    installed copy)."""
    from zoom_notebook.cli.demo import LAB_EXTENSION, lab_extension_env

    assert (LAB_EXTENSION / "package.json").exists(), "run scripts/build-lab first"
    config = tmp / "config" / "jupyter_server_config.d"
    config.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "jupyter-config" / "server-config" / "zoom_notebook.json", config)
    return lab_extension_env(tmp, env)


@contextmanager
def jupyter(app: str, tmp: Path, env: dict[str, str], notebooks: list[str | Path],
            args: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Yield (base_url, token) of a running ``jupyter lab`` / ``jupyter notebook``.
    ``notebooks``: names in notebooks/, or paths of files to copy."""
    root = tmp / "root"
    root.mkdir(exist_ok=True)
    for name in notebooks:
        source = Path(name) if Path(name).is_absolute() else ROOT / "notebooks" / name
        shutil.copy(source, root / source.name)
    settings = tmp / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token = secrets.token_hex(16)
    port = free_port()
    full_env = {**os.environ, **env,
                "JUPYTERLAB_SETTINGS_DIR": str(tmp / "lab-settings"),
                "JUPYTER_CONFIG_DIR": str(tmp / "config"),
                "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
                "BROWSER": "true"}  # webbrowser.open in the kernel: do nothing
    log = open(tmp / f"{app}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", app, "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", "--allow-root",
         f"--ServerApp.root_dir={root}", *args], env=full_env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp / f"{app}.log").read_text()
            try:
                if requests.get(f"{base}/api/status", params={"token": token},
                                timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "Jupyter did not start"
            time.sleep(0.2)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_kernel_idle(base: str, token: str, timeout: float = 60) -> None:
    """Until a kernel exists for the open notebook and is idle (TESTING.md: Run All is
    silently dropped before that)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = requests.get(f"{base}/api/sessions", params={"token": token},
                                timeout=5).json()
        if sessions and all(s["kernel"]["execution_state"] == "idle" for s in sessions):
            return
        time.sleep(0.25)
    raise AssertionError("the kernel did not become idle")


#: what a Jupyter server started for a test passes on to its kernels: the sandbox
#: (from the oauth_env fixture) and the test's home folder
SANDBOX_KEYS = ("ZOOM_OAUTH_URL", "ZOOM_API_URL", "ZOOM_FILE_API_URL", "ZOOM_CLIENT_ID",
                "ZOOM_CLIENT_SECRET", "ZOOM_NOTEBOOK_HOME")


def sandbox_env() -> dict[str, str]:
    return {k: os.environ[k] for k in SANDBOX_KEYS}


def open_notebook(page: Any, url: str, base: str, token: str) -> None:
    """Open a notebook in the browser and wait until its kernel is idle."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    wait_kernel_idle(base, token)


def open_and_run_all(page: Any, url: str, base: str, token: str) -> None:
    """Open a notebook in the browser, wait for its kernel, then Run > Run All Cells."""
    open_notebook(page, url, base, token)
    page.locator(".lm-MenuBar-item", has_text="Run").first.click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
