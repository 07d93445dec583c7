"""The zoom-notebook command: send, the sandbox's env file, the demo."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from zoom_notebook.cli import main, write_env_file


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
        assert "ZOOM_API_URL" in text and "ZOOM_ACCESS_TOKEN" in text
        assert "ZOOM_ACCESS_TOKEN" not in line + proc.stdout.readline()  # not printed
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_prints_receipts():
    out = subprocess.run([sys.executable, "-m", "zoom_notebook.cli", "demo"],
                         capture_output=True, text=True, timeout=60, env={**os.environ})
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Sent to channel") == 2
    assert "mentions: grace.hopper@example.com" in out.stdout
    assert "thread: reply to" in out.stdout and "file: loss.csv" in out.stdout
    assert "The sandbox received 3 messages" in out.stdout
