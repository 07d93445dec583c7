"""The compose form in plain pytest: set values, click, check the form and the sandbox."""

from __future__ import annotations

import datetime
import json
import time

import pytest

import zoom_notebook as zn
from zoom_notebook.sandbox import Sandbox

from .conftest import point_at


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def pick(form, label_part):
    (value,) = [v for label, v in form.results.options if label_part in label]
    form.results.value = value


@pytest.fixture
def form(user_env):
    return zn.compose(debounce=0)


def test_shows_who_is_logged_in(form):
    assert "Logged in as <b>Ada Lovelace</b>" in form.login_status.value
    assert form.login_button.layout.display == "none"


def test_full_send_flow(form, user_env):
    grace = user_env.user("grace")
    channel = user_env.channel_id("data-science")
    earlier = zn.send("Earlier main message", to_channel=channel)
    sent_to_callback = []
    form.on_sent(sent_to_callback.append)
    form.search.value = "data"
    assert [label for label, _ in form.results.options] == ["# data-science"]
    pick(form, "data-science")
    assert "Grace Hopper <grace.hopper@example.com>" in dict(form.mention_pick.options)
    threads = dict(form.thread.options)
    assert any("Earlier main message" in label for label in threads)
    form.text.value = "Results are ready,"
    form.mention_pick.value = "grace.hopper@example.com"
    form.mention_button.click()
    form.text.value += "please review"
    form.thread.value = earlier.id
    assert not form.send_button.disabled and form.reason.value == ""
    form.send_button.click()
    got = user_env.messages()[-1]
    assert got["message"] == "Results are ready, @Grace Hopper please review"
    assert got["at_items"] == [{"at_type": 1, "at_contact": grace["email"],
                                "start_position": 19, "end_position": 31}]
    assert got["reply_main_message_id"] == earlier.id
    assert "✓ Sent to" in form.receipt.value and got["id"] in form.receipt.value
    assert form.text.value == "" and form.target == {"to_channel": channel}
    assert [s.id for s in sent_to_callback] == [got["id"]]


def test_send_is_enabled_only_when_valid_with_the_reason(form, user_env):
    assert form.send_button.disabled and "Pick a channel" in form.reason.value
    form.search.value = "general"
    pick(form, "general")
    assert form.send_button.disabled and "Write a message" in form.reason.value
    form.text.value = "x" * 1025
    assert form.send_button.disabled and "1024" in form.reason.value
    assert "1025 / 1024" in form.count.value
    form.text.value = "ok"
    assert not form.send_button.disabled
    assert "2 / 1024" in form.count.value


def test_person_picker_pages_over_many_contacts(monkeypatch):
    with Sandbox(extra_contacts=520) as sb:
        point_at(sb, monkeypatch)
        form = zn.compose(debounce=0)
        form.kind.value = "to_contact"
        assert len(form.results.options) == 50
        assert form.more.layout.display is None
        form.more.click()
        assert len(form.results.options) == 100
        # Someone not loaded yet is found through Zoom's company search.
        form.search.value = "Person 0519"
        assert [label for label, _ in form.results.options] == [
            "Person 0519 <person.0519@example.com>"]
        pick(form, "0519")
        form.text.value = "hi"
        form.send_button.click()
        assert sb.messages()[-1]["target"] == sb.user("person.0519@example.com")["id"]
        pages = [r for r in sb.requests() if r["path"].endswith("/users/me/contacts")]
        assert len(pages) == 2  # two pages loaded, not all eleven


def test_search_is_debounced(user_env):
    form = zn.compose(debounce=0.2)
    assert form.loaded.wait(10)  # the first list loads in the background
    calls = []
    real = form.directory.search
    form.directory.search = lambda q, k: calls.append(q) or real(q, k)
    for partial in ("g", "ge", "gen", "gene"):
        form.search.value = partial
    wait_for(lambda: calls)
    time.sleep(0.3)
    assert calls == ["gene"]
    assert [label for label, _ in form.results.options] == ["# general"]


def test_zoom_error_is_shown_in_the_form_with_retry(user_env):
    form = zn.compose(to_channel="no-such-channel", debounce=0)
    form.text.value = "hello"
    form.send_button.click()
    assert "Not sent" in form.receipt.value and "4130" in form.receipt.value
    assert "does not know this channel" in form.receipt.value
    assert form.retry_button.layout.display is None
    assert form.text.value == "hello"  # nothing lost


def test_retry_after_a_transient_failure(form, user_env):
    from zoom_notebook import client as client_mod

    form.search.value = "general"
    pick(form, "general")
    form.text.value = "second try works"
    user_env.inject("status", status=429, count=1, method="POST")
    client_mod.DEFAULT_RETRY_BUDGET, old = 0.0, client_mod.DEFAULT_RETRY_BUDGET
    zn.api.forget_clients()
    try:
        form.send_button.click()
    finally:
        client_mod.DEFAULT_RETRY_BUDGET = old
        zn.api.forget_clients()
    assert "Not sent" in form.receipt.value
    form.retry_button.click()
    assert user_env.messages()[-1]["message"] == "second try works"
    assert form.retry_button.layout.display == "none"


def test_attachments_upload(form, user_env):
    form.search.value = "alerts"
    pick(form, "alerts")
    form.text.value = "files"
    form.upload.value = ({"name": "a.csv", "type": "text/csv", "size": 3,
                          "content": memoryview(b"a,b"),
                          "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    form.send_button.click()
    sent = form.last_sent
    assert [a.name for a in sent.attachments] == ["a.csv"] and sent.attachments[0].id
    assert form.upload.value == ()


def test_login_from_the_form_and_no_secret_in_widget_state(fake_browser):
    sb = fake_browser.sandbox
    form = zn.compose(debounce=0)
    assert "Not logged in" in form.login_status.value
    form.login_button.click()
    wait_for(lambda: "Logged in as" in form.login_status.value)
    form.search.value = "general"
    pick(form, "general")
    form.text.value = "sent after logging in from the form"
    form.send_button.click()
    assert sb.messages()[-1]["message"] == "sent after logging in from the form"
    state = json.dumps([w.get_state() for w in _all_widgets(form)], default=str)
    for secret in sb.secrets():
        assert secret not in state


def test_attach_the_output_of_a_cell(user_env):
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_cell("6 * 7", store_history=True)
    n = sh.execution_count - 1
    form = zn.compose(debounce=0, to_channel=user_env.channel_id("general"))
    assert form.cell_output.description == "Attach a result"
    assert f"cell [{n}] returned: 42" in dict(form.cell_output.options)
    form.cell_output.value = n
    form.text.value = "the answer"
    form.send_button.click()
    (att,) = form.last_sent.attachments
    assert att.id and att.name == f"out-{n}.txt"
    (stored,) = user_env.messages()  # the text and the output file in one message
    assert stored["id"] == form.last_sent.id and stored["message"] == "the answer"
    assert stored["files"][0]["file_name"] == f"out-{n}.txt"
    assert stored["file_contents"] == [b"42"]
    assert form.cell_output.value == 0


def _all_widgets(widget):
    out = [widget]
    for child in getattr(widget, "children", ()):
        out += _all_widgets(child)
    return out


def test_compose_line_magic(user_env):
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "zoom_notebook")
    form = sh.run_line_magic("zoomchat", f"compose -c {user_env.channel_id('random')}")
    assert form.target == {"to_channel": user_env.channel_id("random")}


def test_issue12_finding_6_mentions_are_keyed_by_email_not_display_name(form):
    from zoom_notebook.directory import Entry

    people = [Entry("John Smith <john1@example.com>", "john1@example.com", "to_contact",
                    "john1@example.com", "John Smith"),
              Entry("John Smith <john2@example.com>", "john2@example.com", "to_contact",
                    "john2@example.com", "John Smith"),
              Entry("Alice Admin <alice@corp> <bob@example.com>", "bob@example.com",
                    "to_contact", "bob@example.com", "Alice Admin <alice@corp>")]
    for e in people:
        form._entries[f"person:{e.email}"] = e
    form.mention_pick.options = [(e.label, e.email) for e in people]
    for e in people:
        form.mention_pick.value = e.email
        form.mention_button.click()
    assert sorted(form.mentions.values()) == ["bob@example.com", "john1@example.com",
                                              "john2@example.com"]
    assert form.mentions["John Smith"] == "john1@example.com"
    assert form.mentions["John Smith (john2@example.com)"] == "john2@example.com"
    assert form.mentions["Alice Admin <alice@corp>"] == "bob@example.com"
    assert "@John Smith (john2@example.com)" in form.text.value


def test_the_preview_shows_what_zoom_will_show(form, user_env):
    pick(form, "general")
    grace = user_env.user("grace")
    form.mentions["Grace Hopper"] = grace["email"]
    form.text.value = "# Results 📈\n\n**accuracy 0.93** for @Grace Hopper, *see* [run](https://example.com/r)"
    html = form.preview.value
    assert "font-size:1.5em" in html and "Results 📈" in html  # the heading
    assert "<b>accuracy 0.93</b>" in html and "<i>see</i>" in html
    assert "href='https://example.com/r'" in html
    assert "class='zn-mention'" in html and ">@Grace Hopper<" in html
    assert "**" not in html and "# Results" not in html  # markers are not shown
    form.upload.value = ({"name": "plot.png", "content": b"\x89PNG", "type": "image/png",
                          "size": 4, "last_modified": datetime.datetime.now()},)
    assert "📎 plot.png" in form.preview.value
    form.send_button.click()
    (msg,) = user_env.messages()
    assert msg["message"].startswith("Results 📈\n\naccuracy 0.93 for @Grace Hopper")
    assert "Bold" in {r["format_type"] for r in msg["rich_text"]}  # what the preview showed
    assert [f["file_name"] for f in msg["files"]] == ["plot.png"]


def test_the_receipt_names_the_channel_and_the_person(form, user_env):
    pick(form, "general")
    form.text.value = "hello"
    form.send_button.click()
    assert "#general" in form.receipt.value
    form.kind.value = "to_contact"
    pick(form, "Grace")
    form.text.value = "hi"
    form.send_button.click()
    assert "Grace Hopper (" in form.receipt.value


def test_a_message_zoom_would_refuse_shows_why_and_no_preview(form):
    pick(form, "general")
    form.text.value = "x" * 1100
    assert form.send_button.disabled and "1024" in form.reason.value
    assert form.preview.value == ""


def test_a_form_does_not_offer_itself_as_a_result(user_env):
    """Issue 23 finding 11: `zn.compose()` as a cell's last line puts the form in Out;
    the next form does not offer a form under "Attach a result"."""
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.user_ns["zn"] = zn
    sh.run_cell(f"zn.compose(debounce=0, to_channel={user_env.channel_id('general')!r})",
                store_history=True)
    sh.run_cell("6 * 7", store_history=True)
    form = zn.compose(debounce=0, to_channel=user_env.channel_id("general"))
    labels = [label for label, _ in form.cell_output.options]
    assert any("returned: 42" in label for label in labels)
    assert not any("ComposeForm" in label or "compose" in label.lower() for label in labels)
