"""End to end in a real browser: JupyterLab (and Notebook 7) started by the test, Debian
Chromium driven by Playwright, notebooks/compose.ipynb run, login on the sandbox's
consent page, a channel picked by typing, a message with a mention, a thread chosen,
Send clicked; the sandbox must have received exactly that message."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from zoom_notebook.client import ZoomChatClient
from zoom_notebook.credentials import StaticToken
from zoom_notebook.message import build_message

from .browser import browser_page
from .jupyter_server import ROOT, jupyter, open_and_run_all, sandbox_env

pytestmark = pytest.mark.e2e

PATHS = {"lab": "/lab/tree/compose.ipynb", "notebook": "/notebooks/compose.ipynb"}


@pytest.mark.parametrize("app", ["lab", "notebook"])
def test_compose_form_end_to_end(oauth_env, tmp_path, app):
    sb = oauth_env
    channel = sb.channel_id("data-science")
    grace = sb.user("grace")
    seed = ZoomChatClient(StaticToken(sb.issue_token()), api_url=sb.api_url,
                          file_api_url=sb.file_api_url)
    earlier = seed.send_message(build_message("Earlier main message", to_channel=channel))
    env = sandbox_env()
    with jupyter(app, tmp_path, env, ["compose.ipynb"]) as (base, token), \
            browser_page() as page:
        page.set_viewport_size({"width": 1200, "height": 1000})
        open_and_run_all(page, f"{base}{PATHS[app]}?token={token}", base, token)

        # Log in through the sandbox's consent page.
        page.locator("button.zn-login").click(timeout=60_000)
        href = page.locator("a.zn-login-link").get_attribute("href", timeout=30_000)
        consent = page.context.new_page()
        consent.goto(href)
        consent.click("#allow")
        consent.wait_for_selector("text=Logged in")
        consent.close()
        page.locator(".zn-login-status", has_text="Logged in as").wait_for(timeout=30_000)

        # Pick the channel by typing part of its name.
        page.locator(".zn-search input").fill("data")
        results = page.locator(".zn-results select")
        results.locator("option", has_text="# data-science").wait_for(state="attached")
        results.select_option(label="# data-science")

        # Write, mention, choose the thread.
        message = page.locator(".zn-message textarea")
        message.fill("**Results** are ready,")
        mention = page.locator(".zn-mention select")
        mention.locator("option", has_text="Grace Hopper").wait_for(state="attached")
        mention.select_option(label="Grace Hopper <grace.hopper@example.com>")
        page.locator("button.zn-mention-insert").click()
        page.wait_for_function(
            "() => document.querySelector('.zn-message textarea').value.includes('@Grace')")
        message.press("End")
        message.press_sequentially("please review")
        # The preview shows what Zoom will: bold without its asterisks, the mention marked.
        preview = page.locator(".zn-preview")
        preview.locator("b", has_text="Results").wait_for(timeout=30_000)
        preview.locator(".zn-mention", has_text="@Grace Hopper").wait_for(timeout=30_000)
        assert "**" not in preview.inner_text()
        thread = page.locator(".zn-thread select")
        option = thread.locator("option", has_text="Earlier main message")
        option.wait_for(state="attached")
        thread.select_option(value=option.get_attribute("value"))

        send = page.locator("button.zn-send")
        page.wait_for_function(
            "() => !document.querySelector('button.zn-send').disabled")
        send.click()
        page.locator(".zn-receipt", has_text="✓ Sent to channel #data-science").wait_for(
            timeout=30_000)
        # The next message being written: its preview beside the last receipt (the picture)
        message.fill("## Next run\n- **accuracy 0.93** on the *test* set\n- see "
                     "[the report](https://example.com/report)")
        preview.locator("a", has_text="the report").wait_for(timeout=30_000)
        shot = tmp_path / f"compose-{app}.png"
        page.locator(".zn-compose").screenshot(path=str(shot))

    got = [m for m in sb.messages() if m["id"] != earlier]
    assert len(got) == 1
    (msg,) = got
    assert msg["message"] == "Results are ready, @Grace Hopper please review"
    assert msg["rich_text"] == [{"start_position": 0, "end_position": 7,
                                 "format_type": "Bold"}]
    assert msg["at_items"] == [{"at_type": 1, "at_contact": grace["email"],
                                "start_position": 19, "end_position": 31}]
    assert msg["reply_main_message_id"] == earlier
    assert msg["target"] == channel
    out = os.environ.get("ZOOM_NOTEBOOK_SCREENSHOTS")
    if out and app == "lab":  # refresh the README's picture on request
        shutil.copy(shot, Path(ROOT, out, "compose.png"))
