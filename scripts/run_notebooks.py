"""Execute the example notebooks against a fresh sandbox and save them with their outputs
(committed notebooks keep outputs so readers see results on the web).

Run: .venv/bin/python scripts/run_notebooks.py [NAME.ipynb ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "notebooks"))

from conftest import sandbox_env  # noqa: E402

from zoom_notebook.sandbox import Sandbox  # noqa: E402

ORDER = ["quickstart.ipynb", "magics.ipynb", "alerts.ipynb", "compose.ipynb",
         "unattended.ipynb"]


def main(names: list[str]) -> None:
    with Sandbox(channel_limits=False) as sb, tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items()
               if k not in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER",
                            "ZOOM_CLIENT_SECRET", "ZOOM_WEBHOOK_URL", "ZOOM_WEBHOOK_TOKEN")}
        env.update(sandbox_env(sb, home))
        for name in names or ORDER:
            path = ROOT / "notebooks" / name
            nb = nbformat.read(path, as_version=4)
            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
            nbformat.write(nb, path)
            print(f"{name}: {len(nb.cells)} cells run")
        secrets = sb.secrets()
        for name in names or ORDER:
            text = (ROOT / "notebooks" / name).read_text()
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{name} holds a secret the sandbox issued"


if __name__ == "__main__":
    main(sys.argv[1:])
