"""The zoom-notebook command: send, the sandbox's env file, the demo."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoom_notebook.cli import main, write_env_file

ROOT_DIR = Path(__file__).resolve().parent.parent


def test_send_from_the_command_line(user_env, capsys):
    grace = user_env.user("grace")
    code = main(["send", "-c", user_env.channel_id("general"), "-m", grace["email"],
                 "build", "passed"])
    assert code == 0
    (msg,) = user_env.messages()
    assert msg["message"] == f"@{grace['email']} build passed"
    assert msg["id"] in capsys.readouterr().out


def test_send_errors_are_one_clear_line(user_env, capsys):
    assert main(["send", "-c", "no-such-channel", "hi"]) == 1
    err = capsys.readouterr().err
    assert "4130" in err and "Traceback" not in err


def test_env_file_is_private(tmp_path):
    path = tmp_path / "home" / "sandbox.env"
    write_env_file(path, {"ZOOM_ACCESS_TOKEN": "t0k"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == "export ZOOM_ACCESS_TOKEN='t0k'\n"


@pytest.mark.raw_http
def test_sandbox_command_serves_and_stops(tmp_path):
    env_file = tmp_path / "sb.env"
    proc = subprocess.Popen([sys.executable, "-m", "zoom_notebook.cli", "sandbox",
                             "--env-file", str(env_file)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        line = proc.stdout.readline()
        assert line.startswith("Zoom sandbox on http://127.0.0.1:")
        deadline = time.monotonic() + 10
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = env_file.read_text()
        assert "ZOOM_API_URL" in text and "ZOOM_CLIENT_ID" in text
        # no token and no secret in the file or on the screen: a login gets one
        assert "ZOOM_ACCESS_TOKEN" not in text and "SECRET" not in text
        assert "ZOOM_ACCESS_TOKEN" not in line + proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


@pytest.mark.slow
def test_headless_demo_prints_what_the_sandbox_received():
    out = subprocess.run([sys.executable, "-m", "zoom_notebook.cli", "demo", "--headless"],
                         capture_output=True, text=True, timeout=180, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert "The sandbox received 6 messages:" in out.stdout
    assert "Ship model v2 to production?" in out.stdout  # zn.ask, answered by "Grace"
    assert "yes   [in a thread]" in out.stdout
    assert "#data-science" in out.stdout and "Training finished: accuracy 0.93" in out.stdout
    assert "mentions grace.hopper@example.com" in out.stdout
    assert "in a thread; file results.csv" in out.stdout  # the CSV inside its message
    assert "WARNING" not in out.stdout + out.stderr and "(file)" not in out.stdout
    assert "DM to Grace Hopper" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("stop", [2, 15], ids=["ctrl-c", "sigterm"])
def test_demo_starts_jupyterlab_and_prints_both_addresses(stop):
    """Issue 23 finding 11: the demo's JupyterLab works on a copy of the notebooks (the
    checkout's tracked ones are not what it saves), shows no test helpers and no news
    pop-up, and Ctrl-C or SIGTERM stops JupyterLab too."""
    import re

    import requests

    proc = subprocess.Popen([sys.executable, "-m", "zoom_notebook.cli", "demo",
                             "--no-browser"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    try:
        lab = proc.stdout.readline()
        sandbox = proc.stdout.readline()
        url = re.search(r"(http://\S+)", lab).group(1)
        assert "/lab/tree/quickstart.ipynb?token=" in url
        page = requests.get(url, timeout=10)
        assert page.ok and '"disabled": true' in page.text.replace("'", '"')  # news off
        token = url.split("token=")[1]
        base = url.split("/lab/")[0]
        listing = requests.get(f"{base}/api/contents", params={"token": token}, timeout=10)
        names = {item["name"] for item in listing.json()["content"]}
        assert "quickstart.ipynb" in names and not {"conftest.py", "sanitize.cfg"} & names
        # issue 26: the demo's JupyterLab has the extension (the bell and panel, and the
        # server side) and the quickstart is watched
        extensions = requests.get(f"{base}/lab/api/extensions", params={"token": token},
                                  timeout=30).json()
        assert any(e.get("name") == "zoom-notebook" and e.get("enabled")
                   for e in extensions), extensions
        assert requests.get(f"{base}/zoom-notebook/sent", params={"token": token},
                            timeout=10).json() == []
        quick = requests.get(f"{base}/api/contents/quickstart.ipynb", params={"token": token},
                             timeout=10).json()
        assert quick["content"]["metadata"]["zoom_notebook"] == {"to_channel": "#general"}
        saved = requests.put(f"{base}/api/contents/quickstart.ipynb",
                             params={"token": token}, timeout=10, json={
                                 "type": "notebook", "format": "json",
                                 "content": {"cells": [], "metadata": {}, "nbformat": 4,
                                             "nbformat_minor": 5}})
        assert saved.ok
        tracked = ROOT_DIR / "notebooks" / "quickstart.ipynb"
        assert len(json.loads(tracked.read_text())["cells"]) > 5  # the checkout untouched
        page = requests.get(re.search(r"(http://\S+)", sandbox).group(1), timeout=10)
        assert "Zoom Team Chat sandbox" in page.text
    finally:
        proc.send_signal(stop)
        assert proc.wait(timeout=30) == 0
        proc.stdout.close()
    with pytest.raises(requests.ConnectionError):  # JupyterLab stopped with it
        requests.get(base + "/api/status", timeout=5)


def test_issue13_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("login", "logout", "status", "send", "outbox", "keep-secret", "sandbox",
                    "demo"):
        assert command in out, command


def test_issue13_login_status_logout_from_the_shell(fake_browser, capsys):
    assert main(["status"]) == 1  # not logged in: says so, exit status 1
    assert "Not logged in" in capsys.readouterr().out
    assert main(["login", "--browser"]) == 0
    out = capsys.readouterr().out
    assert "Logged in to Zoom" in out and "Ada Lovelace" in out
    assert main(["status"]) == 0 and "Ada Lovelace" in capsys.readouterr().out
    assert main(["logout"]) == 0 and "revoked" in capsys.readouterr().out
    assert main(["status"]) == 1
    secrets = fake_browser.sandbox.secrets()
    assert not [s for s in secrets if s in capsys.readouterr().out]


def test_issue13_login_errors_are_one_line(oauth_env, monkeypatch, capsys):
    monkeypatch.setenv("ZOOM_OAUTH_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(""))
    assert main(["login", "--device"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: AuthError") and "Traceback" not in err


def test_issue13_outbox_from_the_shell(user_env, capsys):
    from zoom_notebook import outbox
    from zoom_notebook.errors import ConnectFailed
    from zoom_notebook.message import build_message

    box = outbox.get_outbox()
    payload = build_message("kept for later", to_channel=user_env.channel_id("general"))
    box.keep(outbox.Item(payload=payload), ConnectFailed("Zoom was unreachable"))
    assert main(["outbox", "--list"]) == 0
    out = capsys.readouterr().out
    assert "1 undelivered" in out and "kept for later" in out
    assert user_env.messages() == []
    assert main(["outbox", "--retry"]) == 0
    assert "1 of 1 saved message(s) delivered now" in capsys.readouterr().out
    assert [m["message"] for m in user_env.messages()] == ["kept for later"]
    assert main(["outbox"]) == 0 and "empty" in capsys.readouterr().out
    # --list, --retry and --clear are one choice: two of them is an error, not a guess
    with pytest.raises(SystemExit) as exited:
        main(["outbox", "--list", "--clear"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "not allowed with argument" in err and "Traceback" not in err


PYTHON_WORDS = ("%config", "%zoomchat", "zn.", "to_channel", "to_contact", "ZoomChat.")


def test_the_shell_speaks_shell(tmp_path, monkeypatch, capsys):
    """Issue 23 item 5: every command's help and the errors a shell user meets name
    commands, flags and environment variables, never %config, %zoomchat or zn.*."""
    import re

    help_text = []
    commands = re.findall(r"^    (\w[\w-]*)", _help(capsys, ["--help"]), flags=re.M)
    assert {"login", "send", "run", "watchdog", "sandbox", "channels"} <= set(commands)
    for command in commands:
        help_text.append(_help(capsys, [command, "--help"]))
        assert help_text[-1].count("\n") > 3
        # a description line under the usage: what the command does
        assert re.search(r"\n\n[A-Z]", help_text[-1]), command
    errors = []
    for argv in (["status"], ["send", "-c", "#data-science", "hi"], ["outbox", "--list"],
                 ["run", str(tmp_path / "x.ipynb")], ["channels"],
                 ["watchdog", "--after", "1h", "--", "true"], ["ask", "Ship?"]):
        main(argv)
        captured = capsys.readouterr()
        errors.append(captured.out + captured.err)
    assert any("zoom-notebook login" in e for e in errors)
    for text in help_text + errors:
        for word in PYTHON_WORDS:
            assert word not in text, (word, text)
    assert _help(capsys, ["--version"]).startswith("zoom-notebook 0.")


def _help(capsys, argv):
    with pytest.raises(SystemExit):
        main(argv)
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_the_docs_the_errors_name_are_one_command_away(capsys):
    """Issue 23 item 5: errors name `zoom-notebook docs zoom-app`, which works from a
    checkout and from a wheel (the wheel carries the pages: tests/test_docs.py)."""
    assert main(["docs", "zoom-app"]) == 0
    assert capsys.readouterr().out.startswith("# Creating a Zoom app")
    assert main(["docs", "no-such-page"]) == 1
    assert "troubleshooting" in capsys.readouterr().err
