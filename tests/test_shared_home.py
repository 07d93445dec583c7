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

ALPHA = """
import os, time
from zoom_notebook import client
from zoom_notebook.delivery import leases
leases.LEASE_SECONDS = 3.0           # renewed every 0.75 s while it holds records
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


@pytest.mark.slow
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


MOUNTS = """\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:45 / /home rw,relatime shared:20 - nfs4 fs:/export/home rw,vers=4.2,local_lock=none
41 22 0:46 / /shared/nolock rw,relatime - nfs fs:/export/x rw,vers=3,nolock,local_lock=all
42 22 0:47 / /shared/lockd rw,relatime - nfs fs:/export/y rw,vers=3,local_lock=none
43 22 0:48 / /shared/flock rw,relatime - nfs fs:/export/z rw,vers=3,local_lock=flock
"""


@pytest.mark.parametrize("path, bad", [
    ("/home/ada/.zoom", False),            # NFSv4 with server locks
    ("/shared/lockd/ada", False),          # v3 with lockd
    ("/shared/nolock/ada/zoom", True),     # nolock: locks stay on each host
    ("/shared/flock", True),               # local_lock=flock
    ("/tmp/x", False),                     # a local disk
])
def test_the_lock_self_test_reads_the_mount(path, bad):
    from zoom_notebook.locking import local_only_locks

    problem = local_only_locks(path, MOUNTS)
    assert (problem is not None) == bad, problem
    if bad:
        assert "NFS mount" in problem and "not shared between hosts" in problem


def test_a_user_login_is_refused_where_locks_are_local(oauth_env, tmp_path, monkeypatch):
    """Where locks do nothing across hosts, a rotating-refresh login is refused before the
    browser opens, naming Server-to-Server and a per-host home; S2S still works."""
    import zoom_notebook as zn
    from zoom_notebook import locking

    home = os.environ["ZOOM_NOTEBOOK_HOME"]
    fake = tmp_path / "mountinfo"
    fake.write_text(f"22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                    f"41 22 0:46 / {os.path.realpath(home)} rw - nfs fs:/x rw,nolock\n")
    monkeypatch.setattr(locking, "MOUNTINFO", str(fake))
    locking._check.cache_clear()
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda *a, **k: opened.append(a) or True)
    try:
        with pytest.raises(zn.AuthError) as caught:
            zn.login("browser", timeout=5)
        text = str(caught.value)
        assert "nolock" in text and "Server-to-Server" in text and "its own home" in text
        assert opened == [] and oauth_env.requests() == []
    finally:
        locking._check.cache_clear()
