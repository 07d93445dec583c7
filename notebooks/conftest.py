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


def pytest_sessionfinish(session, exitstatus):
    """The kernels' requests are checked against Zoom's schema too: every Team Chat call
    the sandbox received during the notebook run (method, path, query, JSON or form)."""
    import json
    import sys
    from pathlib import Path
    from urllib.parse import urlencode

    if _sandbox is None:
        return
    import zoom_notebook

    # The checkout's tests/contract.py (found from the package, so a copy of this file
    # in another folder uses it too).
    sys.path.insert(0, str(Path(zoom_notebook.__file__).resolve().parent.parent))
    from tests.contract import check_request

    problems = []
    checked = 0
    for entry in _sandbox.requests():
        if entry["outcome"] != "handled" or "/file/v2/" in entry["path"]:
            continue  # the file API's first hop only redirects
        query = urlencode([(k, v) for k, vs in entry["query"].items() for v in vs])
        url = _sandbox.url + entry["path"] + ("?" + query if query else "")
        headers = {"Authorization": "Bearer x"}
        body = None
        if "json" in entry:
            headers["Content-Type"] = "application/json"
            body = json.dumps(entry["json"])
        elif "form" in entry:
            import requests

            fields = [(k, v) for k, vs in entry["form"].items() for v in vs]
            files = [(k, (name, b"x")) for k, names in entry["files"].items()
                     for name in names]
            prepared = requests.Request("POST", url, data=fields, files=files).prepare()
            headers["Content-Type"] = prepared.headers["Content-Type"]
            body = prepared.body
        problems += check_request(entry["method"], url, headers, body)
        checked += 1
    print(f"\ncontract: {checked} requests from the notebooks checked against Zoom's schema")
    if problems:
        print("\nrequests from the notebooks that break Zoom's API schema:\n"
              + "\n".join(sorted(set(problems))))
        session.exitstatus = 1
