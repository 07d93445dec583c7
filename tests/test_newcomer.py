"""Issue 13 item 4: what a new user trips over in the obvious flow, each tried as they
would (the README's quick tour, the notebooks, the docs)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

import zoom_notebook as zn
from zoom_notebook import ValidationError
from zoom_notebook.sandbox import Sandbox


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
    (msg,) = user_env.messages()
    assert msg["message"].startswith(f"✅ In [{result.execution_count}] finished")
    name = f"cell-{result.execution_count}-figure-1.png"
    assert msg["files"][0]["file_name"] == name


# ---------------------------------------------------------------- issue 13 item 4, cont.
def test_progress_receipt_ends_where_zoom_ends(shell, user_env, capsys):
    """The receipt under a zn.progress loop follows its edits: it says "done", as Zoom
    does, not "started (0/20)"."""
    ch = user_env.channel_id("data-science")
    for _ in zn.progress(range(20), desc="Simulated job", to_channel=ch, every=0):
        pass
    zn.outbox.get_outbox().flush(10)
    (msg,) = user_env.messages()
    assert msg["message"].startswith("✅ Simulated job: done, 20/20")
    shown = capsys.readouterr().out
    last = shown.rsplit("Sent to", 1)[-1]
    assert "done, 20/20" in last and "started (0/20)" not in last


def test_failure_alert_starts_with_the_users_code_and_its_receipt_shows_the_error(
        shell, user_env, capsys):
    ch = user_env.channel_id("data-science")
    shell.run_cell("import zoom_notebook as zn\n"
                   "def train():\n    raise RuntimeError('loss is NaN at step 7')\n"
                   f"with zn.notify('training', to_channel={ch!r}):\n"
                   "    print('x' * 2000)\n    train()")
    zn.outbox.get_outbox().flush(10)
    (msg,) = user_env.messages()
    assert "interactiveshell.py" not in msg["message"] and "zoom_notebook" not in msg["message"]
    assert "in train" in msg["message"]
    assert msg["message"].rstrip().endswith("RuntimeError: loss is NaN at step 7")
    from zoom_notebook.receipts import Failed

    long_text = "line\n" * 400 + "RuntimeError: the real error"
    card = Failed("channel x", long_text, "ZoomAPIError: 429").card()
    assert card.body.endswith("RuntimeError: the real error")  # the preview keeps the end
    assert "characters not shown" in card.body and len(card.body) < 700


def test_reply_last_as_the_first_send_says_what_to_do_before_any_request(
        shell, user_env, http_recorder, capsys):
    before = len(http_recorder.requests)
    result = shell.run_cell(f"%%zoomchat -c {user_env.channel_id('general')} -r last\n1")
    assert isinstance(result.error_in_exec, ValidationError)
    assert "send one message first" in str(result.error_in_exec)
    assert len(http_recorder.requests) == before


def test_cli_reply_last_and_name_email_mentions_match_the_magic(user_env, capsys):
    from zoom_notebook.cli import main

    ch = user_env.channel_id("general")
    grace = user_env.user("grace")
    assert main(["send", "-c", ch, "first"]) == 0
    assert main(["send", "-c", ch, "-r", "last", "-m", f"Grace Hopper={grace['email']}",
                 "@Grace Hopper look"]) == 0
    first, reply = user_env.messages()
    assert reply["reply_main_message_id"] == first["id"]
    (item,) = reply["at_items"]  # the name=email form works in the shell as in the magic
    assert item["at_contact"] == grace["email"]
    assert reply["message"][item["start_position"]:].startswith("@Grace Hopper")
    assert "Sending to" in capsys.readouterr().err  # something is said at once


def test_sends_that_cannot_succeed_are_shown_not_kept(shell, user_env, monkeypatch, capsys):
    """A 404 (unknown channel) and no credentials at all: shown with the text, not kept
    for a later `%zoomchat outbox` to send by surprise."""
    from zoom_notebook.outbox import get_outbox

    assert shell.run_cell("%%zoomchat -c nosuchchannel0123 --message to-nowhere\n1").success
    out = capsys.readouterr().out
    assert "NOT kept" in out and "to-nowhere" in out
    monkeypatch.delenv("ZOOM_ACCESS_TOKEN")
    zn.api.forget_clients()
    item = zn.alerts.post_alert("no credentials", to_channel=user_env.channel_id("general"))
    get_outbox().flush(10)
    assert item.status == "failed" and "NOT kept" in (item.hint or "")
    assert get_outbox().saved() == []


def test_receipts_are_left_aligned_and_a_dry_run_shows_the_exact_request(user_env):
    from zoom_notebook.api import SentMessage

    sent = zn.send("hello", to_channel=user_env.channel_id("general"))
    page = sent._repr_html_()
    assert page.count("text-align:left") >= 2 * page.count("<tr>") > 0  # th and td
    dry = SentMessage(id=None, message="hi", to_channel="c1", dry_run=True,
                      request={"method": "POST", "url": "https://api.zoom.us/v2/x",
                               "json": {"message": "hi", "to_channel": "c1"}})
    for shown in (dry._repr_html_(), repr(dry)):
        assert "https://api.zoom.us/v2/x" in shown and "to_channel" in shown


def test_compose_without_the_notebook_extra_says_how_to_install(tmp_path):
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('ipywidgets', 'IPython', 'traitlets'):\n"
            "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import zoom_notebook as zn\n"
            "from zoom_notebook.cli import main\n"
            "try:\n    zn.compose()\nexcept ModuleNotFoundError as e:\n    print('HINT', e)\n"
            "print('core', callable(zn.send), main(['--help']) if False else 'cli ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "pip install 'zoom-notebook[notebook]'" in out.stdout, out.stderr
    assert "core True cli ok" in out.stdout


def test_compose_appears_at_once_when_zoom_is_unreachable(user_env, monkeypatch):
    from zoom_notebook.sandbox import free_port

    monkeypatch.setenv("ZOOM_API_URL", f"http://127.0.0.1:{free_port()}/v2")  # nobody there
    start = time.monotonic()
    form = zn.compose()
    assert time.monotonic() - start < 1.0
    assert "Checking" in form.login_status.value
    assert form.loaded.wait(60)
    assert "could not be reached" in form.login_status.value
    assert "Not logged in" not in form.login_status.value


def test_form_mention_dropdown_and_upload_tooltip(user_env):
    form = zn.compose(debounce=0, to_channel=user_env.channel_id("general"))
    assert form.mention_pick.options and form.mention_pick.value == \
        form.mention_pick.options[0][1]  # not a blank box
    assert form.upload.tooltip and form.upload.tooltip != "null"
    assert "Out[" not in form.cell_output.description


def test_status_after_a_sandbox_login_does_not_say_paste(oauth_env):
    from zoom_notebook import sandbox

    assert "sandbox" in sandbox.login().method
    assert "paste" not in zn.status().method


def test_a_default_login_can_use_every_feature_and_a_narrow_app_is_told_what_to_add(
        oauth_env):
    """Issue 13 item 5, as Zoom is today (issue 22): the login asks for no scope and gets
    the app's; an app without the channel-list scope is told, before any request, which
    granular scope to add; with it, '#name' works."""
    from zoom_notebook import MissingScope, sandbox

    oauth_env.app.config["app_scopes"] = "team_chat:write:user_message user:read:user"
    sandbox.login()
    with pytest.raises(MissingScope) as err:
        zn.channels()
    assert "team_chat:read:list_user_channels" in str(err.value)
    zn.api.forget_clients()
    oauth_env.app.config["app_scopes"] = Sandbox().app.config["app_scopes"]  # an app today
    sandbox.login()  # the default: every feature's scopes
    assert "data-science" in {c.name for c in zn.channels()}
    assert zn.contacts("grace")
    sent = zn.send("by name", to_channel="#data-science")
    assert sent.channel_name == "data-science"


@pytest.mark.slow
def test_issue13_quickstart_runs_top_to_bottom_as_the_demo_runs_it(tmp_path):
    """A fresh kernel with the environment ./scripts/demo gives it: every cell runs as
    written, receipts name channels by name, and the status shows no secret warning (the
    demo keeps the app's secret in the token folder, not in the kernel's environment)."""
    import nbformat
    from nbclient import NotebookClient

    from zoom_notebook import demo
    from zoom_notebook.sandbox import Sandbox

    path = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    with Sandbox(channel_limits=False) as sb:
        env = demo._kernel_env(sb, str(tmp_path / "home"))
        assert "ZOOM_CLIENT_SECRET" not in env
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
        received = sb.messages()
    shown = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            shown.append("".join(text))
    receipts = [t for t in shown if t.startswith("✓ Sent to")]
    assert len(receipts) == 3
    assert sum(t.startswith("✓ Sent to channel #data-science (") for t in receipts) == 2
    assert any(t.startswith("✓ Sent to contact grace.hopper@example.com") for t in receipts)
    status = next(t for t in shown if t.startswith("✓ Logged in to Zoom"))
    assert "sandbox (approved by" in status and "ZOOM_CLIENT_SECRET" not in status
    # two channel messages, a DM, the CSV inside one message, the question and Grace's
    # answer in its thread; nothing for the 2000-character one
    assert len(received) == 6
    with_file = next(m for m in received if m["message"] == "The numbers, as CSV")
    assert [f["file_name"] for f in with_file["files"]] == ["results.csv"]
    question = next(m for m in received if m["message"].startswith("Ship model v2"))
    answer = next(m for m in received if m.get("reply_main_message_id") == question["id"])
    assert answer["message"] == "yes" and "<Answer 'yes' from Grace Hopper" in "".join(shown)
