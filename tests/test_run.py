"""zoom-notebook run: a parameterised notebook executed by papermill against the sandbox,
its start and its end or failure in one thread, the output notebook attached."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("papermill")

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.slow


def notebook(path):
    params = new_code_cell("epochs = 1\nfail = False")
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[
        params,
        new_code_cell("from zoom_notebook.alerts import where_and_when\n"
                      "print('alerts say:', where_and_when())"),
        new_code_cell("print('epochs', epochs)\nif fail:\n    raise ValueError('bad batch 17')"),
        new_code_cell("'done'")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(nb, path)
    return path


def run_cli(sb, *args, cwd):
    env = {**os.environ, **sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token()}
    return subprocess.run([sys.executable, "-m", "zoom_notebook.cli", "run", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=180)


def test_run_posts_start_and_end_in_one_thread_with_the_output(sandbox, tmp_path):
    ch = sandbox.channel_id("general")
    src = notebook(tmp_path / "train.ipynb")
    out = run_cli(sandbox, str(src), "-c", ch, "-p", "epochs", "3", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    start, end = sandbox.messages()
    assert start["message"].startswith("▶️ train.ipynb on ") and "(epochs=3)" in start["message"]
    assert end["reply_main_message_id"] == start["id"]
    assert end["message"].startswith("✅ train.ipynb on ") and "finished in" in end["message"]
    assert [f["file_name"] for f in end["files"]] == ["train-output.ipynb"]
    executed = nbformat.reads(end["file_contents"][0].decode(), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "epochs 3" in text
    # what the notebook's own alerts say: its name and its parameters
    assert "alerts say: train.ipynb on" in text and "epochs=3" in text


def test_run_failure_names_the_cell_and_exits_as_papermill(sandbox, tmp_path):
    ch = sandbox.channel_id("general")
    src = notebook(tmp_path / "etl.ipynb")
    out = run_cli(sandbox, str(src), "-c", ch, "-p", "fail", "true", "--output",
                  str(tmp_path / "etl-run.ipynb"), cwd=tmp_path)
    assert out.returncode == 1
    assert "ValueError: bad batch 17" in out.stderr
    start, end = sandbox.messages()
    assert end["reply_main_message_id"] == start["id"]
    first = end["message"].splitlines()[0]
    assert first.startswith("❌ etl.ipynb on ")
    assert "failed in cell 3 (In [4] of etl-run.ipynb)" in first
    assert "ValueError: bad batch 17" in end["message"]
    assert [f["file_name"] for f in end["files"]] == ["etl-run.ipynb"]
    assert (tmp_path / "etl-run.ipynb").exists()


def test_run_checks_its_arguments_before_running(sandbox, tmp_path):
    out = run_cli(sandbox, str(tmp_path / "missing.ipynb"), "-c", "x", cwd=tmp_path)
    assert out.returncode == 1 and "NOTEBOOK" in out.stderr
    assert sandbox.requests() == []


def test_a_notebook_run_by_papermill_names_itself_and_its_parameters(tmp_path):
    """Not through `zoom-notebook run`: papermill's own command line starts the kernel,
    and the alerts the notebook posts still say which notebook and parameters."""
    src = notebook(tmp_path / "nightly.ipynb")
    papermill = os.path.join(os.path.dirname(sys.executable), "papermill")
    env = {k: v for k, v in os.environ.items() if k not in ("JPY_SESSION_NAME",
                                                             "ZOOM_NOTEBOOK_PARAMETERS")}
    out = subprocess.run([papermill, str(src), str(tmp_path / "out.ipynb"), "-p", "epochs",
                          "7", "-r", "region", "emea", "--no-progress-bar"],
                         capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stderr
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "alerts say: nightly.ipynb on " in text
    assert "(epochs=7, region='emea')" in text


def test_every_way_a_run_can_end_is_told(sandbox, tmp_path):
    """Issue 23 finding 4 / issue 24 finding 3: a missing output folder and an unreadable
    notebook are refused before anything is posted (one line, the cause); a kernel that
    dies and a kernelspec that does not exist end the thread with the cause; a notebook
    whose name starts with '-' is a file, not papermill's stdin."""
    ch = sandbox.channel_id("general")
    src = notebook(tmp_path / "train.ipynb")
    out = run_cli(sandbox, str(src), "-c", ch, "--output", "runs/train-30.ipynb",
                  cwd=tmp_path)
    assert out.returncode == 1 and "--output" in out.stderr and "runs" in out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    (tmp_path / "broken.ipynb").write_text("{not json")
    out = run_cli(sandbox, "broken.ipynb", "-c", ch, cwd=tmp_path)
    assert out.returncode == 1 and "not a readable notebook" in out.stderr
    assert sandbox.requests() == []  # nothing posted, no "started" left behind

    dies = new_notebook(cells=[new_code_cell("import os, signal\n"
                                             "os.kill(os.getpid(), signal.SIGKILL)")],
                        metadata=notebook(tmp_path / "x.ipynb") and
                        nbformat.read(tmp_path / "x.ipynb", as_version=4).metadata)
    nbformat.write(dies, tmp_path / "-oom.ipynb")
    out = run_cli(sandbox, "-c", ch, "--", "-oom.ipynb", cwd=tmp_path)
    assert out.returncode == 1 and "kernel died" in out.stderr
    assert "kernel died" in out.stderr.strip().splitlines()[-1]  # one line: the cause
    assert "Traceback" not in out.stderr
    start, end = sandbox.messages()
    assert start["message"].startswith("▶️ -oom.ipynb")
    assert end["reply_main_message_id"] == start["id"]
    assert end["message"].startswith("❌ -oom.ipynb") and "kernel died" in end["message"]

    nb = nbformat.read(src, as_version=4)
    nb.metadata["kernelspec"] = {"name": "julia-9.9", "display_name": "Julia",
                                 "language": "julia"}
    nbformat.write(nb, tmp_path / "julia.ipynb")
    out = run_cli(sandbox, "julia.ipynb", "-c", ch, cwd=tmp_path)
    assert out.returncode == 1 and "julia-9.9" in out.stderr
    *_, start, end = sandbox.messages()
    assert end["reply_main_message_id"] == start["id"] and "julia-9.9" in end["message"]


@pytest.mark.parametrize("credentials", ["user", "s2s", "webhook"])
def test_a_batch_run_that_prints_its_environment_posts_no_secret(sandbox, tmp_path,
                                                                 credentials):
    """Issue 24 finding 1 / SECURITY.md 36: a notebook that prints os.environ and fails
    with an error that embeds a credential, run with a secret parameter: no secret the
    package knows appears in any message or in the attached output notebook."""
    from zoom_notebook.sandbox import server_to_server_env

    ch = sandbox.channel_id("general")
    env = {**os.environ, **sandbox.env(), **sandbox.webhook_env()}
    if credentials == "user":
        env.update(ZOOM_ACCESS_TOKEN=sandbox.issue_token(),
                   ZOOM_CLIENT_SECRET=sandbox.client_secret)
    elif credentials == "s2s":
        env.update(sandbox.env(server_to_server=True))
    secrets = {v for k, v in env.items() if k in ("ZOOM_ACCESS_TOKEN", "ZOOM_CLIENT_SECRET",
                                                   "ZOOM_WEBHOOK_URL", "ZOOM_WEBHOOK_TOKEN")}
    secrets.add(env["ZOOM_WEBHOOK_URL"].rsplit("/", 1)[-1])  # the hook id alone
    secrets.add("sk-live-0123456789abcdef")
    assert server_to_server_env  # (the sandbox's S2S settings come from sandbox.env)
    nb = new_notebook(cells=[
        new_code_cell("api_key = ''", metadata={"tags": ["parameters"]}),
        new_code_cell("import os\nprint(dict(os.environ))\n!env"),
        new_code_cell("raise RuntimeError('auth failed for ' + os.environ.get("
                      "'ZOOM_CLIENT_SECRET', '') + ' ' + os.environ['ZOOM_WEBHOOK_TOKEN'])")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    nbformat.write(nb, tmp_path / "leaky.ipynb")
    target = ["-c", ch] if credentials != "webhook" else []
    if credentials == "webhook":
        env.pop("ZOOM_CLIENT_ID", None)
    out = subprocess.run([sys.executable, "-m", "zoom_notebook.cli", "run", "leaky.ipynb",
                          *target, "-p", "api_key", "sk-live-0123456789abcdef"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    assert out.returncode == 1, out.stderr
    posted = sandbox.messages()
    assert len(posted) >= 2
    everything = "\n".join(m["message"] for m in posted) + "".join(
        blob.decode("utf-8", "replace") for m in posted for blob in m.get("file_contents") or [])
    assert "RuntimeError: auth failed for" in everything and "[redacted]" in everything
    assert "api_key=***" in everything
    leaked = [s for s in secrets if s and s in everything]
    assert not leaked
