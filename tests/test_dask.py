"""zoom_notebook.dask on a real distributed.LocalCluster (processes, 2 workers)."""

from __future__ import annotations

import os
import time

import pytest

distributed = pytest.importorskip("distributed")

from zoom_notebook.outbox import get_outbox  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(user_env):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as lc, \
            distributed.Client(lc) as client:
        yield client


def slow_inc(x):
    import time

    time.sleep(0.005)
    return x + 1


def test_progress_keeps_one_message_paced_with_a_final_edit(user_env, cluster):
    from zoom_notebook.dask import progress

    ch = user_env.channel_id("general")
    futures = cluster.map(slow_inc, range(400))
    start = time.monotonic()
    progress(futures, desc="Feature build", to_channel=ch, every=0.3)
    took = time.monotonic() - start
    assert all(f.done() for f in futures)
    assert get_outbox().flush(30)
    (msg,) = user_env.messages()
    assert msg["message"].startswith("✅ Feature build: done, 400/400")
    puts = [r for r in user_env.requests() if r["method"] == "PUT"]
    assert 1 <= len(puts) <= took / 0.3 + 2


def boom(x):
    raise ValueError(f"bad row {x}")


def test_plugin_coalesces_a_failing_task_and_a_dead_worker_into_one_alert(user_env, cluster):
    from zoom_notebook.dask import ZoomPlugin

    ch = user_env.channel_id("general")
    cluster.register_plugin(ZoomPlugin(to_channel=ch, every=2.0))
    bad = cluster.submit(boom, 17)
    with pytest.raises(ValueError):
        bad.result(timeout=30)
    # kill one worker process (as the OOM killer would)
    pids = cluster.run(os.getpid)
    victim = sorted(pids)[0]
    os.kill(pids[victim], 9)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if user_env.messages():
            break
    time.sleep(0.5)
    assert get_outbox().flush(30)
    (msg,) = user_env.messages()  # ONE alert for both
    assert msg["message"].startswith("❌ Dask cluster: 2 problem(s)")
    assert "bad row 17" in msg["message"] and f"worker {victim} died" in msg["message"]


def test_a_failing_progress_shows_the_error_text_not_pickled_bytes(user_env, cluster):
    """Issue 23 finding 5."""
    from zoom_notebook.dask import progress

    ch = user_env.channel_id("general")
    futures = cluster.map(boom, [5])
    progress(futures, desc="Load", to_channel=ch, every=0.3)
    assert get_outbox().flush(30)
    (msg,) = user_env.messages()
    assert msg["message"].startswith("❌ Load: failed")
    assert "ValueError: bad row 5" in msg["message"] and "b'" not in msg["message"]


def test_a_cluster_closed_on_purpose_posts_nothing(user_env):
    from zoom_notebook.dask import ZoomPlugin

    ch = user_env.channel_id("general")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, host="127.0.0.1") as lc, \
            distributed.Client(lc) as client:
        client.register_plugin(ZoomPlugin(to_channel=ch, every=2.0))
        assert client.submit(slow_inc, 1).result(timeout=30) == 2
    time.sleep(2.5)  # past the plugin's coalescing window
    assert get_outbox().flush(10)
    assert user_env.messages() == []
