"""Issue 13 item 5: Zoom's Incoming Webhook app as a sender, the first real alert with no
OAuth app (ZOOM_WEBHOOK_URL + ZOOM_WEBHOOK_TOKEN), against the sandbox's webhook."""

from __future__ import annotations

import pytest

import zoom_notebook as zn
from zoom_notebook import ValidationError, ZoomAPIError
from zoom_notebook.outbox import get_outbox


@pytest.fixture
def hook_env(sandbox, monkeypatch):
    """Only the webhook: no client id, no token, no OAuth app at all."""
    for key, value in sandbox.webhook_env().items():
        monkeypatch.setenv(key, value)
    return sandbox


def alerts_channel(sb):
    return sb.channel_id("alerts")


def test_send_via_webhook_posts_to_its_channel_with_no_oauth_app(hook_env, http_recorder):
    sent = zn.send("Nightly ETL finished\n42 tables, 0 errors", via="webhook")
    (msg,) = hook_env.messages()
    assert msg["target"] == alerts_channel(hook_env)
    assert msg["message"] == "Nightly ETL finished\n42 tables, 0 errors"
    (post,) = [r for r in http_recorder.requests if "/incoming/hook/" in r.url]
    assert post.headers["Authorization"] == hook_env.webhook_env()["ZOOM_WEBHOOK_TOKEN"]
    assert "format=full" in post.url and not post.headers["Authorization"].startswith("Bearer")
    assert "Incoming Webhook" in repr(sent) and "no id" in repr(sent)
    token = hook_env.webhook_env()["ZOOM_WEBHOOK_TOKEN"]
    assert token not in repr(sent) + sent._repr_html_()  # the token is never shown
    assert "/oauth/" not in " ".join(r.url for r in http_recorder.requests)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"mentions": ["grace@example.com"]}, "mentions"),
    ({"reply_to": "abc"}, "reply_to"),
    ({"files": [("a.txt", b"x")]}, "files"),
    ({"to_contact": "grace@example.com"}, "to_contact"),
])
def test_what_a_webhook_cannot_do_is_a_validation_error_before_any_request(
        hook_env, http_recorder, kwargs, field):
    with pytest.raises(ValidationError) as err:
        zn.send("x", via="webhook", **kwargs)
    assert err.value.field == field and "Incoming Webhook" in str(err.value)
    assert http_recorder.requests == []


def test_alerts_with_no_channel_named_go_to_the_webhook(hook_env):
    with zn.notify("training", show=False):
        pass
    for _ in zn.progress(range(5), desc="epochs", every=0, show=False):
        pass
    get_outbox().flush(10)
    got = [m["message"] for m in hook_env.messages()]
    assert len(got) == 3, got  # notify; progress posts its start and its end only
    assert got[0].startswith("✅ training finished")
    assert got[1].startswith("⏳ epochs: started") and got[2].startswith("✅ epochs: done, 5/5")
    assert {m["target"] for m in hook_env.messages()} == {alerts_channel(hook_env)}


def test_a_wrong_token_or_a_removed_hook_is_zooms_error_with_what_to_do(hook_env, monkeypatch):
    monkeypatch.setenv("ZOOM_WEBHOOK_TOKEN", "wrong")
    with pytest.raises(ZoomAPIError) as err:
        zn.send("x", via="webhook")
    assert err.value.status == 401 and "ZOOM_WEBHOOK_TOKEN" in str(err.value)
    assert "wrong" not in str(err.value)
    monkeypatch.setenv("ZOOM_WEBHOOK_URL", hook_env.url + "/incoming/hook/gone")
    with pytest.raises(ZoomAPIError) as err:
        zn.send("x", via="webhook")
    assert err.value.status == 404 and "/inc connect" in str(err.value)
    assert hook_env.messages() == []


def test_a_webhook_post_whose_answer_is_lost_is_kept_unknown_never_resent(hook_env):
    """A webhook cannot be read back: a post that may have arrived is not resent by
    itself (nothing twice), and it is kept and shown (nothing lost)."""
    hook_env.inject("drop_after", path="/incoming/hook/")
    item = zn.alerts.post_alert("maybe arrived", show=False)
    get_outbox().flush(10)
    assert item.status == "unknown" and "cannot be read back" in (item.hint or "")
    assert [m["message"] for m in hook_env.messages()] == ["maybe arrived"]
    assert [r["status"] for r in get_outbox().saved()] == ["unknown"]


def test_a_busy_webhook_is_retried_and_posts_once(hook_env):
    hook_env.inject("status", status=429, retry_after=0.2, retry_after_format="seconds",
                    path="/incoming/hook/")
    item = zn.alerts.post_alert("after a 429", show=False)
    get_outbox().flush(15)
    assert item.status == "sent"
    assert [m["message"] for m in hook_env.messages()] == ["after a 429"]


def test_the_webhook_needs_https_and_both_settings(monkeypatch):
    monkeypatch.setenv("ZOOM_WEBHOOK_URL", "http://inbots.zoom.us/incoming/hook/x")
    monkeypatch.setenv("ZOOM_WEBHOOK_TOKEN", "t")
    with pytest.raises(ValidationError, match="https"):
        zn.send("x", via="webhook")
    monkeypatch.delenv("ZOOM_WEBHOOK_TOKEN")
    with pytest.raises(ValidationError) as err:
        zn.send("x", via="webhook")
    assert err.value.field == "ZOOM_WEBHOOK_TOKEN"


class _Hostile:
    """A local server playing a misbehaving webhook: a redirect, or an answer dripped one
    byte a second."""

    def __init__(self, answer: bytes, drip: float = 0.0) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.answer, self.drip = answer, drip
        self.stopped = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        import contextlib
        import time

        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with contextlib.suppress(OSError), conn:
                conn.settimeout(5)
                self.requests.append(conn.recv(65536))
                for i in range(len(self.answer)):
                    if self.stopped.is_set():
                        return
                    conn.sendall(self.answer[i:i + 1] if self.drip else self.answer[i:])
                    if not self.drip:
                        break
                    time.sleep(self.drip)

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()


def test_issue24_finding_11_a_redirect_is_refused_and_a_slow_answer_has_a_deadline(
        monkeypatch):
    import time

    from zoom_notebook import webhook
    from zoom_notebook.config import Settings
    from zoom_notebook.errors import OutcomeUnknown

    redirect = _Hostile(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\n"
                        b"Content-Length: 0\r\n\r\n")
    try:
        settings = Settings.load(environ={
            "ZOOM_WEBHOOK_URL": f"http://127.0.0.1:{redirect.port}/incoming/hook/abcdefgh12",
            "ZOOM_WEBHOOK_TOKEN": "tok-0123456789"})
        with pytest.raises(ZoomAPIError) as err:
            webhook.post("hello", settings)
        assert err.value.status == 302 and "not followed" in str(err.value)
        assert len(redirect.requests) == 1  # no second request anywhere
    finally:
        redirect.close()

    slow = _Hostile(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", drip=1.0)
    monkeypatch.setattr(webhook, "DEADLINE", 2.0)
    try:
        settings = Settings.load(environ={
            "ZOOM_WEBHOOK_URL": f"http://127.0.0.1:{slow.port}/incoming/hook/abcdefgh12",
            "ZOOM_WEBHOOK_TOKEN": "tok-0123456789"})
        start = time.monotonic()
        with pytest.raises(OutcomeUnknown):
            webhook.post("hello", settings)
        assert time.monotonic() - start < 4  # the drip never resets a total deadline
    finally:
        slow.close()


def test_issue24_finding_17_the_hook_id_is_not_in_a_debug_log(hook_env, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        zn.send("logged", via="webhook")
    hook = hook_env.webhook_env()["ZOOM_WEBHOOK_URL"].rsplit("/", 1)[-1]
    assert any("urllib3" in r.name for r in caplog.records)
    assert hook not in caplog.text and "[redacted]" in caplog.text
