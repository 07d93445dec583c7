"""Issue 23 item 2: every login path works against the sandbox as `zoom-notebook sandbox`
starts it (a separate process; the environment from the file it writes, as a person
sources it): browser, paste and device from the shell, the browser from a notebook's
magic, and Server-to-Server; each says what a person reads."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell

import zoom_notebook as zn
from zoom_notebook import sandbox as sandbox_module
from zoom_notebook.cli import main

pytestmark = pytest.mark.raw_http


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sb")
    env_file = folder / "sandbox.env"
    proc = subprocess.Popen([sys.executable, "-m", "zoom_notebook.cli", "sandbox",
                             "--env-file", str(env_file)], stdout=subprocess.PIPE, text=True,
                            env={k: v for k, v in os.environ.items()
                                 if not k.startswith("ZOOM_")})
    try:
        printed = [proc.stdout.readline() for _ in range(8)]
        yield env_file, "".join(printed)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def sourced(path: Path) -> dict[str, str]:
    """What `source FILE` puts in the environment."""
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        out[key] = shlex.split(value)[0]
    return out


@pytest.fixture
def shell_env(started, monkeypatch):
    env_file, _ = started
    for key, value in sourced(env_file).items():
        monkeypatch.setenv(key, value)
    zn.api.forget_clients()
    yield
    main(["logout"])
    zn.api.forget_clients()


def test_what_the_sandbox_command_prints_and_writes(started):
    env_file, printed = started
    env = sourced(env_file)
    assert set(env) == {"ZOOM_OAUTH_URL", "ZOOM_API_URL", "ZOOM_FILE_API_URL",
                        "ZOOM_CLIENT_ID", "ZOOM_NOTEBOOK_HOME"}
    assert f"source {env_file}" in printed and "zoom-notebook login" in printed
    assert "#data-science" in printed and "Incoming Webhook" in printed
    hook = sourced(env_file.with_name("sandbox-webhook.env"))
    assert set(hook) == {"ZOOM_WEBHOOK_URL", "ZOOM_WEBHOOK_TOKEN"}
    assert hook["ZOOM_WEBHOOK_TOKEN"] not in printed  # secrets go to 0600 files only
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"


def test_browser_login_from_the_shell(shell_env, monkeypatch, capsys):
    import webbrowser

    pages = []

    def browser(url, *args, **kwargs):  # the person clicks Allow; the tab loads the answer
        import threading

        threading.Thread(target=lambda: pages.append(requests.get(
            sandbox_module.approve(url), timeout=70).text), daemon=True).start()
        return True

    monkeypatch.setattr(webbrowser, "open", browser)
    assert main(["login", "--browser"]) == 0
    out = capsys.readouterr().out
    assert "Logged in to Zoom" in out and "Ada Lovelace" in out
    deadline = time.monotonic() + 10
    while not pages and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "Logged in" in pages[0] and "terminal" in pages[0]
    assert main(["send", "-c", "#data-science", "after a browser login"]) == 0


def test_paste_login_from_the_shell(shell_env, monkeypatch, capsys):
    import getpass

    def person(prompt=""):
        link = re.search(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)",
                         capsys.readouterr().out).group(1)
        return sandbox_module.approve(link)

    monkeypatch.setattr(getpass, "getpass", person)
    assert main(["login", "--paste"]) == 0
    assert "Logged in to Zoom" in capsys.readouterr().out
    assert main(["status"]) == 0 and "paste" in capsys.readouterr().out


@pytest.mark.slow
def test_device_login_from_the_shell(shell_env, monkeypatch, capsys):
    import threading

    from zoom_notebook import auth, display

    real_show = auth.show

    def show(card):
        real_show(card)
        code = re.search(r"code ([A-Z]{8})", display.text(card)).group(1)
        base = os.environ["ZOOM_OAUTH_URL"]
        threading.Timer(0.3, lambda: requests.post(
            base + "/oauth_device", data={"user_code": code, "decision": "allow"},
            timeout=10)).start()

    monkeypatch.setattr(auth, "show", show)
    assert main(["login", "--device"]) == 0
    out = capsys.readouterr().out
    assert "enter the code" in out and "Logged in to Zoom" in out


def test_browser_login_from_a_notebook_magic(shell_env, monkeypatch):
    import threading
    import webbrowser

    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: threading.Thread(
        target=lambda: requests.get(sandbox_module.approve(url), timeout=70),
        daemon=True).start() or True)
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "zoom_notebook")
        st = shell.run_line_magic("zoomchat", "login --browser   # once; approve")
        assert st.logged_in and st.user_name == "Ada Lovelace"
        assert "can do" in repr(st)
    finally:
        InteractiveShell.clear_instance()


def test_server_to_server_from_the_shell(shell_env, monkeypatch, capsys):
    for key, value in sandbox_module.server_to_server_env().items():
        monkeypatch.setenv(key, value)
    assert main(["login"]) == 0  # auto: Server-to-Server when ZOOM_ACCOUNT_ID is set
    out = capsys.readouterr().out
    assert "Server-to-Server" in out and "cannot: schedule" in out
    assert main(["send", "-c", "#data-science", "from an unattended job"]) == 0
    # nothing kept on disk for Server-to-Server
    assert not (Path(os.environ["ZOOM_NOTEBOOK_HOME"]) / "tokens.json").exists()


@pytest.mark.parametrize("method", ["paste", "device", "server-to-server"])
def test_the_other_logins_from_the_magic(shell_env, monkeypatch, capsys, method):
    """%zoomchat login --paste / --device and Server-to-Server, in IPython, against the
    sandbox as started (a notebook's --paste shows a form instead: tests/test_form.py)."""
    import getpass
    import threading

    from zoom_notebook import auth, display

    if method == "paste":
        def person(prompt=""):
            link = re.search(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)",
                             capsys.readouterr().out).group(1)
            return sandbox_module.approve(link)

        monkeypatch.setattr(getpass, "getpass", person)
    elif method == "device":
        real_show = auth.show

        def show(card):
            real_show(card)
            code = re.search(r"code ([A-Z]{8})", display.text(card)).group(1)
            threading.Timer(0.3, lambda: requests.post(
                os.environ["ZOOM_OAUTH_URL"] + "/oauth_device",
                data={"user_code": code, "decision": "allow"}, timeout=10)).start()

        monkeypatch.setattr(auth, "show", show)
    else:
        for key, value in sandbox_module.server_to_server_env().items():
            monkeypatch.setenv(key, value)
    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "zoom_notebook")
        flag = "" if method == "server-to-server" else f"--{method}"
        st = shell.run_line_magic("zoomchat", f"login {flag}  # as a person types it")
        assert st.logged_in and "can do" in repr(st)
        shell.run_line_magic("zoomchat", 'send -c "#data-science" after a login')
    finally:
        InteractiveShell.clear_instance()
