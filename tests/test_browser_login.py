"""A real browser logs in: Debian Chromium (Playwright) opens the link that
zn.login(method="browser") produced, clicks Allow or Deny on the sandbox's consent page,
and the redirect reaches the loopback listener."""

from __future__ import annotations

import queue
import threading
import webbrowser

import pytest

import zoom_notebook as zn
from zoom_notebook import LoginDenied

from .browser import browser_page

pytestmark = pytest.mark.e2e


def _login_in_background(monkeypatch):
    opened: queue.Queue[str] = queue.Queue()
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.put(url) or True)
    outcome: dict[str, object] = {}

    def run():
        try:
            outcome["status"] = zn.login(method="browser", timeout=60)
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return opened.get(timeout=30), thread, outcome


@pytest.mark.parametrize("click, expect", [("#allow", "Logged in"),
                                           ("#deny", "Login cancelled")])
def test_real_browser_login(oauth_env, monkeypatch, click, expect):
    url, thread, outcome = _login_in_background(monkeypatch)
    with browser_page() as page:
        page.goto(url)
        assert "Authorize zoom-notebook" in page.content()
        page.click(click)
        page.wait_for_selector("h1")
        assert page.inner_text("h1") == expect  # the loopback listener's page
        assert "code=" not in page.content()
    thread.join(30)
    if click == "#allow":
        assert outcome["status"].logged_in
        sent = zn.send("sent after a real browser login",
                       to_channel=oauth_env.channel_id("general"))
        assert oauth_env.messages()[0]["id"] == sent.id
    else:
        assert isinstance(outcome["error"], LoginDenied)
        assert "denied" in str(outcome["error"])
