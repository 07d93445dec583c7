"""Secrets audit: execute every example notebook (saved with widget state, the kernel
logging at DEBUG), then scan those notebooks, the logs and any other text given for every
secret the sandboxes of this process issued or received. Hits must be 0.

Run: ``.venv/bin/python tests/harness/secrets_audit.py``
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ["quickstart.ipynb", "magics.ipynb", "alerts.ipynb", "compose.ipynb",
             "unattended.ipynb"]


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send this process's fd 2 (which kernels inherit) to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(fd)
        os.close(saved)


def execute_notebooks(out: Path) -> list[Path]:
    import nbformat
    from nbclient import NotebookClient

    from zoom_notebook.sandbox import Sandbox

    saved = []
    kernel_log = out / "kernels.log"
    with Sandbox(channel_limits=False) as sb, tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items()
               if k not in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER")}
        env.update({**sb.env(), "ZOOM_CLIENT_SECRET": sb.client_secret,
                    "ZOOM_NOTEBOOK_HOME": home})
        with stderr_to(kernel_log):
            for name in NOTEBOOKS:
                nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
                NotebookClient(nb, timeout=120, kernel_name="python3",
                               store_widget_state=True, extra_arguments=["--debug"],
                               resources={"metadata": {"path": str(ROOT / "notebooks")}}
                               ).execute(env=env)
                path = out / name
                nbformat.write(nb, path)
                saved.append(path)
    return [*saved, kernel_log]


def scan(paths: list[Path], texts: dict[str, str]) -> dict[str, Any]:
    from zoom_notebook.sandbox import all_secrets

    secrets = {s for s in all_secrets() if len(s) >= 8}
    hits = []
    sources = {str(p): p.read_text(errors="replace") for p in paths if p.exists()}
    sources.update(texts)
    for name, text in sources.items():
        for secret in secrets:
            if secret in text:
                hits.append(name)
    return {"secrets": len(secrets), "sources": len(sources), "hits": len(hits),
            "where": sorted(set(hits))}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = execute_notebooks(Path(tmp))
        print(scan(paths, {}))


if __name__ == "__main__":
    main()
