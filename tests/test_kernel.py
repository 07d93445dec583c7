"""The magics in a real Jupyter kernel (nbclient): a matplotlib figure arrives as a file,
alerts name the notebook, and an undelivered alert survives a kernel restart."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbclient import NotebookClient

from zoom_notebook.sandbox import free_port

pytestmark = pytest.mark.slow


def run(cells, env, tmp_path, allow_errors=False):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=allow_errors).execute(
        env=env, cwd=str(tmp_path))
    return nb


def outputs_text(nb):
    parts = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            parts.append(o.get("text", "") or str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.fixture
def kernel_env(user_env):
    return {**os.environ, "CH": user_env.channel_id("data-science"),
            "JPY_SESSION_NAME": "/home/ada/analysis.ipynb"}


def test_matplotlib_figure_arrives_inside_the_message(user_env, kernel_env, tmp_path):
    pytest.importorskip("matplotlib")
    nb = run(["%load_ext zoom_notebook\nimport os\n%matplotlib inline",
              "%%zoomchat -c $CH_PLACEHOLDER -o sent\n"
              "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\n"
              "plt.title('loss')\nprint('plotted')"
              .replace("$CH_PLACEHOLDER", kernel_env["CH"]),
              "print(sent.attachments[0].name)"], kernel_env, tmp_path)
    (main,) = user_env.messages()  # ONE message: the text and its figure together
    assert "plotted" in main["message"] and "analysis.ipynb" in main["message"]
    assert main["files"][0]["file_name"].endswith("-figure-1.png")
    assert main["file_contents"][0][:8] == b"\x89PNG\r\n\x1a\n"
    # the figure was still shown in the notebook as usual
    assert any("image/png" in o.get("data", {}) for o in nb.cells[1].outputs)
    assert "-figure-1.png" in outputs_text(nb)


def test_undelivered_alert_survives_a_kernel_restart(user_env, kernel_env, tmp_path):
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env_down = {**kernel_env, "ZOOM_API_URL": down + "/v2",
                "ZOOM_FILE_API_URL": down + "/file/v2"}
    nb = run(["import os, zoom_notebook as zn\nimport zoom_notebook.client as c\n"
              "c.DEFAULT_RETRY_BUDGET = 0.5\nc.DEFAULT_TIMEOUT = (1.0, 2.0)\n"
              "%load_ext zoom_notebook",
              "with zn.notify('nightly ETL', to_channel=os.environ['CH']):\n"
              "    result = 6 * 7\nresult"], env_down, tmp_path)
    assert "42" in outputs_text(nb)  # the computation was not hurt
    assert user_env.messages() == []
    # The first kernel exited (nbclient shut it down); a new one, with Zoom reachable:
    # %load_ext alone delivers what the dead kernel left (in the background; if its last
    # request was still out at exit, once that request has had time to settle: its read
    # timeout, 2 s here); %zoomchat outbox waits for that and finds nothing left to do.
    nb2 = run(["%load_ext zoom_notebook", "%zoomchat outbox"], kernel_env, tmp_path)
    assert "the outbox is empty" in outputs_text(nb2)
    (msg,) = user_env.messages()
    assert msg["message"].startswith("✅ nightly ETL finished in")
    nb3 = run(["%load_ext zoom_notebook", "%zoomchat outbox"], kernel_env, tmp_path)
    assert "the outbox is empty" in outputs_text(nb3)


def test_receipts_update_in_place_and_are_inert(user_env, kernel_env, tmp_path):
    nb = run(["%load_ext zoom_notebook\nimport os, time, zoom_notebook as zn",
              f"%zoomchat send -c {kernel_env['CH']} hello",
              # the receipt shows "queued", then the outbox updates it; nbclient applies
              # an update only while the cell that sent it is running, so the cell waits
              f"with zn.notify('job', to_channel='{kernel_env['CH']}'):\n    pass\n"
              "from zoom_notebook.outbox import get_outbox\n"
              "get_outbox().flush(15)\ntime.sleep(0.3)"], kernel_env, tmp_path)
    send_outputs = nb.cells[1].outputs
    assert len(send_outputs) == 1  # "sending…" was replaced, not appended to
    assert "Sent to channel" in send_outputs[0]["data"]["text/plain"]
    assert "✓ Sent to" in send_outputs[0]["data"]["text/html"]
    alert_outputs = nb.cells[2].outputs
    assert len(alert_outputs) == 1
    assert "Sent to channel" in alert_outputs[0]["data"]["text/plain"]  # updated later
    for c in nb.cells:
        for o in c.outputs:
            assert set(o.get("data", {})) <= {"text/plain", "text/html"}  # nothing that acts
    assert len(user_env.messages()) == 2
