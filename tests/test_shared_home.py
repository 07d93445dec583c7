"""Issue 16: several hosts share one home folder (NFS on a cluster). Two "hosts" are two
processes with different host identities (ZOOM_NOTEBOOK_HOST) over one home: the other
host cannot see the first's PIDs, so the first's lease decides. A live lease is never
stolen; once a crashed host's lease has expired its records are taken over exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from zoom_notebook.sandbox import free_port

pytestmark = pytest.mark.slow

ALPHA = """
import os, time
from zoom_notebook import client, outbox
outbox.LEASE_SECONDS = 3.0           # renewed every 0.75 s while it holds records
client.DEFAULT_TIMEOUT = (0.5, 1.0)
client.DEFAULT_RETRY_BUDGET = 0.5    # a request of its may be in flight for 1.5 s at most
import zoom_notebook as zn
for i in range(3):
    with zn.notify(f"[alpha-{i}] nightly step", to_channel=os.environ["CH"]):
        pass
print("queued", flush=True)
time.sleep(120)
"""

ADOPT = """
import json
from zoom_notebook.outbox import get_outbox
box = get_outbox()  # takes over what dead owners left (as any process does at start)
taken = box.retry_saved()  # what it took over, delivered now (as %zoomchat outbox does)
box.flush(20)
print(json.dumps([i.payload["message"] for i in taken]))
"""


def host(name, sb, home, code, *, zoom_up=True):
    env = {**os.environ, **sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
           "ZOOM_NOTEBOOK_HOME": str(home), "ZOOM_NOTEBOOK_HOST": name,
           "CH": sb.channel_id("general"), "PYTHONUNBUFFERED": "1"}
    if not zoom_up:  # this host cannot reach Zoom: its alerts stay in the outbox
        down = f"http://127.0.0.1:{free_port()}"
        env.update(ZOOM_API_URL=down + "/v2", ZOOM_FILE_API_URL=down + "/file/v2")
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def adopt(name, sb, home):
    import json

    proc = host(name, sb, home, ADOPT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_a_live_lease_is_kept_and_an_expired_one_taken_over_once(sandbox, tmp_path):
    alpha = host("alpha", sandbox, tmp_path, ALPHA, zoom_up=False)
    try:
        assert alpha.stdout is not None and alpha.stdout.readline().strip() == "queued"
        assert adopt("beta", sandbox, tmp_path) == []  # alpha lives: its lease holds
        time.sleep(4.0)  # longer than one lease: alpha has renewed it
        assert adopt("beta", sandbox, tmp_path) == []
        assert sandbox.messages() == []
        alpha.send_signal(signal.SIGKILL)  # the host crashes
        alpha.wait(10)
    finally:
        alpha.kill()
        alpha.communicate()
    time.sleep(3.5)  # its last lease runs out
    taken = adopt("beta", sandbox, tmp_path)
    assert sorted(t.split("]")[0] for t in taken) == ["✅ [alpha-0", "✅ [alpha-1", "✅ [alpha-2"]
    assert adopt("gamma", sandbox, tmp_path) == []  # a third host finds nothing left
    texts = sorted(m["message"].split("]")[0] for m in sandbox.messages())
    assert texts == ["✅ [alpha-0", "✅ [alpha-1", "✅ [alpha-2"]  # each exactly once
