"""nbval runs each notebook in its own kernel, which no fixture can reach: start one
sandbox for the session here and export its addresses before any kernel starts."""

from __future__ import annotations

import os
import tempfile

_sandbox = None


def sandbox_env(sb, home: str) -> dict[str, str]:
    return {**sb.env(), "ZOOM_CLIENT_SECRET": sb.client_secret, "ZOOM_NOTEBOOK_HOME": home}


def pytest_configure(config):
    global _sandbox
    from zoom_notebook.sandbox import Sandbox

    if _sandbox is None and any(str(a).endswith((".ipynb", "notebooks", "notebooks/"))
                                for a in config.args):
        _sandbox = Sandbox(channel_limits=False).start()
        home = tempfile.mkdtemp(prefix="zoom-nbval-")
        for var in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER",
                    "ZOOM_NOTEBOOK_DRY_RUN"):
            os.environ.pop(var, None)
        os.environ.update(sandbox_env(_sandbox, home))


def pytest_unconfigure(config):
    global _sandbox
    if _sandbox is not None:
        _sandbox.stop()
        _sandbox = None
