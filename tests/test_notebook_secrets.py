"""SECURITY.md 21: a notebook that logs in (paste method, answered through the widget)
and sends, executed with nbclient and saved with widget state, holds no access token,
refresh token, client secret, code or code_verifier: not in outputs, metadata, widget
state, logs, nor in %xmode Verbose tracebacks of forced errors."""

from __future__ import annotations

import json
import os

import nbformat
from nbclient import NotebookClient

CELLS = [
    """import logging, os
logging.basicConfig(level=logging.DEBUG, filename=os.environ["TEST_LOG_FILE"], force=True)
import zoom_notebook as zn
from zoom_notebook.sandbox import approve
%load_ext zoom_notebook""",
    """prompt = zn.login(method="paste")
prompt""",
    """# what a person does: approve in the browser, paste the address, click the button
prompt.field.value = approve(prompt.authorize_url)
prompt.button.click()
prompt.status""",
    "%zoomchat status",
    """sent = zn.send("hello from a notebook", to_channel=os.environ["TEST_CHANNEL"])
sent""",
    "%xmode Verbose",
    """zn.send("x", to_channel="no-such-channel")  # a forced Zoom error""",
    """def interrupt(*args, **kwargs):
    raise KeyboardInterrupt  # Ctrl-C while a request is on its way
zn.api.client().session.request = interrupt
zn.send("y", to_channel=os.environ["TEST_CHANNEL"])""",
    """creds = zn.api.client().credentials
record = creds.store.read()
1 / 0  # a plain error with the login in scope""",
]


def test_21_saved_notebook_and_logs_hold_no_secret(oauth_env, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    log_file = tmp_path / "kernel.log"
    env = {**os.environ, "TEST_LOG_FILE": str(log_file),
           "TEST_CHANNEL": oauth_env.channel_id("general")}
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                            store_widget_state=True)
    client.execute(env=env, cwd=str(tmp_path))
    path = tmp_path / "login.ipynb"
    nbformat.write(nb, path)
    saved = path.read_text()

    # The notebook really did log in, send, and fail verbosely (else this proves nothing).
    assert [m["message"] for m in oauth_env.messages()] == ["hello from a notebook"]
    assert "Logged in to Zoom" in saved and "Ada Lovelace" in saved
    assert "4130" in saved and "KeyboardInterrupt" in saved and "ZeroDivisionError" in saved
    assert "'<hidden>'" in saved  # verbose tracebacks printed the locals, hidden
    widget_state = json.loads(saved)["metadata"]["widgets"]
    assert "application/vnd.jupyter.widget-state+json" in widget_state
    logs = log_file.read_text()
    assert "urllib3" in logs  # debug logging was on

    secrets = oauth_env.secrets()
    kinds = {"client secret": {oauth_env.client_secret},
             "codes and verifiers and tokens": secrets - {oauth_env.client_secret}}
    assert len(secrets) >= 5  # client secret, code, verifier, access and refresh tokens
    for name, values in kinds.items():
        for value in values:
            assert value not in saved, f"a {name} is in the saved notebook"
            assert value not in logs, f"a {name} is in the kernel's log"
