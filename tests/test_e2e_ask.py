"""End to end: a notebook in JupyterLab calls zn.ask; the test answers from the sandbox
page's reply box in Chromium, as a person would; the cell shows the answer."""

from __future__ import annotations

import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from .browser import browser_page
from .jupyter_server import jupyter, open_and_run_all, sandbox_env

pytestmark = pytest.mark.e2e


def test_ask_answered_from_the_sandbox_page(oauth_env, tmp_path):
    sb = oauth_env
    env = sandbox_env()
    nb = new_notebook(cells=[
        new_code_cell("import zoom_notebook as zn\nfrom zoom_notebook import sandbox\n"
                      "sandbox.login();"),
        new_code_cell('answer = zn.ask("Deploy the new model?", to_channel="#data-science",\n'
                      '                choices=["yes", "no"], timeout=300)\n'
                      'print("ANSWER:", answer.choice, "from", answer.user)')],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    with jupyter("lab", tmp_path, env, []) as (base, token), browser_page() as page:
        nbformat.write(nb, tmp_path / "root" / "ask.ipynb")
        page.set_viewport_size({"width": 1200, "height": 900})
        open_and_run_all(page, f"{base}/lab/tree/ask.ipynb?token={token}", base, token)

        # A person opens the sandbox page and answers in the question's thread.
        chat = page.context.new_page()
        question = chat.locator(".msg", has_text="Deploy the new model?")
        deadline = time.monotonic() + 90
        while True:
            chat.goto(sb.url + "/")
            if question.count():
                break
            assert time.monotonic() < deadline, "the question never reached the sandbox"
            time.sleep(1)
        box = question.first.locator("form.reply")
        box.locator("select[name=as]").select_option(label="Grace Hopper")
        box.locator("input[name=message]").fill("Yes")
        box.locator("button").click()
        chat.wait_for_selector("text=Yes")
        chat.close()

        page.locator(".jp-OutputArea-output", has_text="ANSWER: yes from Grace Hopper") \
            .wait_for(timeout=90_000)
    texts = [m["message"] for m in sb.messages()]
    assert any(t.startswith("Deploy the new model?") for t in texts) and "Yes" in texts
