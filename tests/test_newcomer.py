"""Issue 13 item 4: what a new user trips over in the obvious flow, each tried as they
would (the README's quick tour, the notebooks, the docs)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

import zoom_notebook as zn
from zoom_notebook import ValidationError


@pytest.fixture
def shell(user_env):
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext zoom_notebook", store_history=False)
    sh.run_line_magic("config", "ZoomChat.dry_run = None")
    yield sh
    sh.run_line_magic("config", "ZoomChat.default_channel = None")
    sh.run_cell("%reset -f", store_history=False)


def wait_for(sb, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(sb.messages()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sb.messages()


def test_progress_and_notify_follow_config_default_channel(shell, user_env):
    ch = user_env.channel_id("data-science")
    shell.run_line_magic("config", f"ZoomChat.default_channel = {ch!r}")
    for _ in zn.progress(range(3), desc="tour", show=False):
        pass
    with zn.notify("the tour", show=False):
        pass
    got = wait_for(user_env, 2)
    assert {m["target"] for m in got} == {ch} and len(got) == 2
    assert any("tour" in m["message"] for m in got)


def test_the_api_module_and_lookups_work_in_a_fresh_kernel():
    code = ("import zoom_notebook as zn; print(callable(zn.api.client), "
            "callable(zn.channels), callable(zn.contacts))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == "True True True", out.stderr


def test_channels_contacts_and_a_channel_by_name(user_env, http_recorder):
    names = {c.name for c in zn.channels()}
    assert {"general", "data-science"} <= names
    grace = user_env.user("grace")
    assert grace["email"] in {c.email for c in zn.contacts()}
    assert [c.email for c in zn.contacts("grace")] == [grace["email"]]

    lists_before = sum("/chat/users/me/channels" in r.url for r in http_recorder.requests)
    sent = zn.send("to a channel by name", to_channel="#Data-Science")
    again = zn.send("and again", to_channel="#data-science")
    lists_after = sum("/chat/users/me/channels" in r.url for r in http_recorder.requests)
    assert lists_after == lists_before  # zn.channels() above filled the cache
    ch = user_env.channel_id("data-science")
    assert [m["target"] for m in user_env.messages()] == [ch, ch]
    assert "#data-science" in repr(sent) and sent.to_channel == ch and again.id


def test_an_unknown_channel_name_lists_close_matches_before_anything_is_sent(user_env):
    with pytest.raises(ValidationError, match="#data-science") as err:
        zn.send("x", to_channel="#data-sciense")
    assert err.value.field == "to_channel"
    with pytest.raises(ValidationError, match=r"zn\.channels\(\)"):
        zn.send("x", to_channel="#nothing-like-it")
    assert user_env.messages() == []


def test_cell_magic_takes_a_channel_by_name_and_checks_it_before_the_cell(shell, user_env):
    result = shell.run_cell('%%zoomchat -c "#no-such"\nran = True')
    assert not result.success and "ran" not in shell.user_ns
    result = shell.run_cell('%%zoomchat -c "#data-science"\nprint("by name")')
    assert result.success
    (msg,) = user_env.messages()
    assert msg["target"] == user_env.channel_id("data-science") and "by name" in msg["message"]


def test_the_cell_magic_names_its_own_cell_number(shell, user_env):
    from IPython.core.display import Image  # noqa: F401 - a figure for the file name

    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
           "RU5ErkJggg==")
    result = shell.run_cell(
        '%%zoomchat -c "#general"\nimport base64\nfrom IPython.display import Image, display\n'
        f'display(Image(data=base64.b64decode("{png}")))\nprint("numbered")',
        store_history=True)
    assert result.success
    (msg, *files) = [m for m in user_env.messages()]
    assert msg["message"].startswith(f"In [{result.execution_count}] finished")
    name = f"cell-{result.execution_count}-figure-1.png"
    assert files and files[0]["files"][0]["file_name"] == name
