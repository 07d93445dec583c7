"""nbval runs each notebook in its own kernel, which no fixture can reach: start one
sandbox for the session here and export its addresses before any kernel starts."""

from __future__ import annotations

import os
import tempfile

_sandbox = None


def sandbox_env(sb, home: str) -> dict[str, str]:
    """What the demo gives its kernels: the sandbox's addresses and client id, and the
    app's secret kept in the token folder (as `zoom-notebook keep-secret` does), not in
    the environment."""
    from pathlib import Path

    from zoom_notebook.store import save_client_secret

    save_client_secret(Path(home), sb.client_id, sb.client_secret)
    return {**sb.env(), "ZOOM_NOTEBOOK_HOME": home}


def _follow_display_updates() -> None:
    """Make nbval see what a Jupyter frontend (and nbclient, which saves the notebooks)
    shows: a receipt drawn as "sending…" and updated in place to "✓ Sent" is compared as
    "✓ Sent". nbval ignores ``update_display_data`` (it prints "unhandled iopub msg").
    Each display with an id is tagged in its metadata (which nbval never compares), and
    the newest data for that id replaces it before the cell's outputs are compared."""
    import nbval.plugin as plugin

    if getattr(plugin, "_zoom_follows_updates", False):
        return
    newest: dict[str, dict] = {}
    get_message = plugin.IPyNbFile.get_kernel_message
    coalesce = plugin.coalesce_streams

    def get_kernel_message(self, timeout=None, stream="iopub"):
        while True:
            msg = get_message(self, timeout=timeout, stream=stream)
            content = msg.get("content", {})
            display_id = (content.get("transient") or {}).get("display_id")
            if msg["msg_type"] == "display_data" and display_id:
                content.setdefault("metadata", {})["zoom_display_id"] = display_id
                newest[display_id] = content["data"]
            elif msg["msg_type"] == "update_display_data":
                if display_id in newest:
                    newest[display_id] = content["data"]
                continue  # applied below, not an output of its own
            return msg

    def coalesce_streams(outputs):
        for out in outputs:
            display_id = (out.get("metadata") or {}).get("zoom_display_id")
            if display_id in newest:
                out["data"] = newest[display_id]
        return coalesce(outputs)

    plugin.IPyNbFile.get_kernel_message = get_kernel_message
    plugin.coalesce_streams = coalesce_streams
    plugin._zoom_follows_updates = True


def pytest_configure(config):
    global _sandbox
    from zoom_notebook.sandbox import Sandbox

    if _sandbox is None and any(str(a).endswith((".ipynb", "notebooks", "notebooks/"))
                                for a in config.args):
        _follow_display_updates()
        _sandbox = Sandbox(channel_limits=False).start()
        home = tempfile.mkdtemp(prefix="zoom-nbval-")
        for var in ("ZOOM_ACCESS_TOKEN", "ZOOM_ACCOUNT_ID", "ZOOM_USER",
                    "ZOOM_CLIENT_SECRET", "ZOOM_WEBHOOK_URL", "ZOOM_WEBHOOK_TOKEN",
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
