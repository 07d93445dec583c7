"""Issue 12 findings, each reproduced: hostile servers and careless input (SECURITY.md
30-35)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

from zoom_notebook import ZoomChatClient
from zoom_notebook.credentials import StaticToken


def client(api="https://api.zoom.us/v2", files="https://file.zoom.us/v2"):
    return ZoomChatClient(StaticToken("t"), api_url=api, file_api_url=files)


def test_finding_3_the_token_follows_redirects_only_to_zoom_or_loopback():
    c = client()
    up = "https://file.zoom.us/v2/chat/users/me/messages/files"
    assert c.may_carry_token(up, "https://file-us01.zoom.us/v2/x")  # Zoom's own hop
    assert not c.may_carry_token(up, "https://evil.example/v2/x")
    assert not c.may_carry_token(up, "https://zoom.us.evil.example/x")
    assert not c.may_carry_token(up, "http://file-us01.zoom.us/x")  # not over http
    local = client("http://127.0.0.1:5000/v2", "http://127.0.0.1:5000/file/v2")
    assert local.may_carry_token("http://127.0.0.1:5000/file/v2/a", "http://localhost:5001/b")
    assert not local.may_carry_token("http://127.0.0.1:5000/file/v2/a",
                                     "https://evil.example/b")
    corp = client("https://zoom-proxy.corp.example/v2", "https://files.corp.example/v2")
    assert corp.may_carry_token("https://zoom-proxy.corp.example/v2/a",
                                "https://files.corp.example/v2/b")  # a configured base


def test_finding_2_the_oauth_servers_error_text_is_escaped_in_the_paste_widget():
    from zoom_notebook.errors import AuthError
    from zoom_notebook.nbui import PastePrompt

    class Attempt:
        authorize_url = "https://zoom.us/oauth/authorize?x='><script>alert(1)</script>"

        def finish(self, url):
            raise AuthError("Zoom said: <img src=x onerror=alert(document.cookie)>")

    prompt = PastePrompt(Attempt())
    prompt.paste("http://127.0.0.1:1/callback?code=c&state=s")
    assert "<img" not in prompt.message.value and "&lt;img src=x" in prompt.message.value
    link = prompt.children[0].value
    assert "<script>" not in link and "&lt;script&gt;" in link


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        return conn.recv(4096)


def test_finding_4_a_slow_client_cannot_hold_the_listener_and_host_is_checked():
    from zoom_notebook.loopback import REQUEST_DEADLINE, LoopbackListener

    listener = LoopbackListener()
    got: list[str] = []
    def wait_then_report() -> None:  # as the login does once the code is exchanged
        got.append(listener.wait(30))
        listener.report(True)

    waiter = threading.Thread(target=wait_then_report, daemon=True)
    waiter.start()
    drip = socket.create_connection(("127.0.0.1", listener.port))

    def slowly() -> None:  # one byte every second: never idle long enough to time out
        with contextlib.suppress(OSError):
            for byte in b"GET /callback?code=evil HTTP/1.1\r\n":
                drip.send(bytes([byte]))
                time.sleep(1.0)

    threading.Thread(target=slowly, daemon=True).start()
    time.sleep(0.3)
    wrong_host = _raw(listener.port, b"GET /callback?code=x HTTP/1.1\r\n"
                                     b"Host: attacker.example\r\n\r\n")
    assert wrong_host.startswith(b"HTTP/1.0 400") and not got
    start = time.monotonic()
    ok = _raw(listener.port, f"GET /callback?code=real&state=s HTTP/1.1\r\n"
                             f"Host: 127.0.0.1:{listener.port}\r\n\r\n".encode())
    assert ok.startswith(b"HTTP/1.0 200")
    assert time.monotonic() - start < REQUEST_DEADLINE  # not queued behind the slow one
    waiter.join(5)
    assert got and "code=real" in got[0]
    drip.settimeout(REQUEST_DEADLINE + 2)  # and the dripping connection was cut
    with contextlib.suppress(ConnectionResetError):
        assert drip.recv(1) == b""
    drip.close()


def test_finding_7_a_file_is_size_checked_before_it_is_read(user_env, tmp_path):
    import zoom_notebook as zn
    from zoom_notebook import ValidationError

    big = tmp_path / "huge.bin"
    with open(big, "wb") as fh:  # sparse: 4 GB on paper, nothing on disk
        fh.truncate(4 * 1024**3)
    start = time.monotonic()
    with pytest.raises(ValidationError, match=r"huge\.bin is 4294967296 bytes"):
        zn.send("x", to_channel=user_env.channel_id("general"), files=[big])
    assert time.monotonic() - start < 1.0  # not read
    with pytest.raises(ValidationError, match="not a regular file"):
        zn.send("x", to_channel=user_env.channel_id("general"), files=["/dev/zero"])
    assert user_env.messages() == []


def test_finding_7_captured_output_is_bounded():
    from zoom_notebook.capture import BoundedLog

    log = BoundedLog(limit=1000)
    for i in range(10_000):
        log.append(("stdout", f"line {i:05d}\n"))
    text = "".join(t for _, t in log)
    assert len(text) < 1100
    assert text.startswith("line 00000") and text.rstrip().endswith("line 09999")
    assert "characters of output not kept" in text and log.dropped > 100_000
    log.append(("stdout", "x" * 5000))  # one huge write keeps only its end
    assert sum(len(t) for _, t in log.tail) <= 500


def test_finding_11_status_warns_when_the_client_secret_is_in_the_environment(
        user_env, monkeypatch):
    import zoom_notebook as zn

    assert zn.status().warnings == ()
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "s3cr3t-value")
    st = zn.status()
    assert st.warnings and "ZOOM_CLIENT_SECRET" in repr(st) and "!env" in repr(st)
    assert "s3cr3t-value" not in repr(st) + st._repr_html_()


def test_finding_11_the_client_secret_can_live_in_the_token_folder_instead(
        fake_browser, monkeypatch, capsys):
    """Kept with ``zoom-notebook keep-secret`` (from the environment or typed without echo),
    the secret leaves the environment; login and refresh still work with it, it is used for
    its own app only, and status says where it comes from, never what it is."""
    import io
    import stat as stat_

    import zoom_notebook as zn
    from zoom_notebook import api
    from zoom_notebook.cli import main
    from zoom_notebook.config import Settings

    sb = fake_browser.sandbox
    secret = sb.client_secret
    monkeypatch.delenv("ZOOM_CLIENT_SECRET")
    monkeypatch.setattr("sys.stdin", io.StringIO(secret + "\n"))  # typed at the prompt
    assert main(["keep-secret"]) == 0
    said = capsys.readouterr()
    assert "client.json" in said.out and secret not in said.out + said.err
    home = Settings.load().home_dir
    assert stat_.S_IMODE((home / "client.json").stat().st_mode) == 0o600
    assert "ZOOM_CLIENT_SECRET" not in os.environ  # `!env` has nothing to show

    assert Settings.load().client_secret == secret
    zn.login(method="browser")
    sb.expire_access_tokens()
    api.forget_clients()
    sent = zn.send("with the kept secret", to_channel=sb.channel_id("general"))
    assert sb.messages()[-1]["id"] == sent.id  # the refresh authenticated with it
    st = zn.status()
    assert st.warnings == () and str(home / "client.json") in repr(st)
    assert secret not in repr(st) + st._repr_html_()

    monkeypatch.setenv("ZOOM_CLIENT_ID", "another-app")  # never offered to another app
    assert Settings.load().client_secret is None
    monkeypatch.setenv("ZOOM_CLIENT_ID", sb.client_id)
    os.chmod(home / "client.json", 0o644)  # loosened by someone: not trusted
    with pytest.warns(UserWarning, match="readable by others"):
        assert Settings.load().client_secret is None
    assert main(["keep-secret", "--forget"]) == 0
    assert not (home / "client.json").exists()


def test_finding_5_a_failing_alert_with_ten_mentions_and_a_long_traceback_is_sent(user_env):
    import zoom_notebook as zn

    ch = user_env.channel_id("general")
    emails = [user_env.user(n)["email"] for n in (
        "grace", "alan", "katherine", "edsger", "barbara", "donald", "margaret", "claude",
        "frances", "ada")]
    with pytest.raises(ValueError), zn.notify("x" * 300, to_channel=ch, mentions=emails,
                                              show=False) as alert:
        raise ValueError("y" * 2000)
    assert alert.item is not None  # queued, not dropped with a warning
    deadline = time.monotonic() + 10
    while not user_env.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    (msg,) = user_env.messages()
    assert len(msg["at_items"]) == 10 and "failed after" in msg["message"]
    assert len(msg["message"]) <= 1024 and msg["message"].endswith("y")


def test_issue24_finding_18_residue(tmp_path, monkeypatch):
    """Each raw exception of the previous round's residue is now what a user can act on."""
    import math
    import socket

    import pytest
    import requests

    import zoom_notebook as zn
    from zoom_notebook.message import check_payload, split_message
    from zoom_notebook.sandbox import Sandbox
    from zoom_notebook.userauth import UserLogin

    # a blank chunk is never made (Zoom refuses an empty message)
    assert split_message("abcde\n", 5) == ["abcde"]
    assert all(c.strip() for c in split_message("a\n\n\n" * 400, 7))
    # at_items that are not objects
    with pytest.raises(zn.ValidationError) as err:
        check_payload({"message": "hi", "to_channel": "C", "at_items": ["x"]})
    assert err.value.field == "at_items[0]"
    # a damaged lifetime in the token store means "renew", not a ValueError on every send
    login = UserLogin.__new__(UserLogin)
    login._clock = lambda: 1000.0
    assert login._fresh({"expires_at": 5000, "expires_in": "abc"}) is False
    assert login._fresh({"expires_at": math.inf, "expires_in": 3600}) is False
    # the magic's --after refuses -5 and nan
    from zoom_notebook.magics import UsageError, line_parser

    for bad in ("-5", "nan"):
        with pytest.raises(UsageError, match="--after"):
            line_parser().parse_args(["autonotify", "--after", bad])
    # an endless next_page_token stops
    with Sandbox() as sb:
        from zoom_notebook.client import MAX_PAGES, ZoomChatClient
        from zoom_notebook.credentials import StaticToken

        client = ZoomChatClient(StaticToken(sb.issue_token()), api_url=sb.api_url)
        calls = []

        class Endless:
            def json(self):
                calls.append(1)
                return {"channels": [{"id": str(len(calls))}], "next_page_token": "same"}

        monkeypatch.setattr(client, "request", lambda *a, **k: Endless())
        assert len(list(client.list_channels())) == 2 and len(calls) == 2 <= MAX_PAGES
        # the sandbox answers its own names only, and is never framed
        page = requests.get(sb.url + "/", timeout=5)
        assert page.headers["X-Frame-Options"] == "DENY"
        with socket.create_connection(("127.0.0.1", sb.port)) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: attacker.example\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
