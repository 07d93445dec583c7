"""Issue 10 findings, each reproduced: the delivery pipeline, the journal and retries."""

from __future__ import annotations

import datetime as dt
import email.utils
import time

import pytest

import zoom_notebook as zn
from zoom_notebook import retry
from zoom_notebook.outbox import Outbox, _line, get_outbox


def test_finding_3_retry_after_zero_or_past_still_waits_a_floor():
    for value in ("0", "2000-01-01T00:00:00Z"):
        wait = retry.wait_for({"Retry-After": value}, "", 0)
        assert wait.seconds >= retry.FLOOR


def test_finding_3_retry_after_is_measured_against_the_servers_date():
    server_now = time.time()
    headers = {"Date": email.utils.formatdate(server_now, usegmt=True),
               "Retry-After": dt.datetime.fromtimestamp(server_now + 10, dt.timezone.utc)
               .strftime("%Y-%m-%dT%H:%M:%SZ")}
    skewed = retry.wait_for(headers, "", 0, clock=lambda: server_now + 90)  # clock ahead
    assert 8.5 <= skewed.seconds <= 11.5


def test_finding_7_damaged_lines_are_skipped_and_a_torn_line_hides_nothing(tmp_path):
    box = Outbox(tmp_path, lambda: None)
    rec = {"id": "a", "payload": {"message": "one", "to_channel": "C"}, "status": "failed"}
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "outbox.jsonl").write_text(
        _line({"keep": rec}) + "5\n" + "{not json\n" + '{"keep": 1}\t00000000\n'
        + '{"keep": {"id": "torn"')  # a writer killed mid-line
    box._append([{"keep": {**rec, "id": "b", "payload": {"message": "two",
                                                          "to_channel": "C"}}}])
    journal = box._replay()
    assert sorted(journal.records) == ["a", "b"]
    assert len(journal.damaged) == 4
    assert [r["id"] for r in box.saved()] == ["a", "b"]


def test_finding_9_a_201_with_no_id_is_delivered_not_failed(user_env):
    ch = user_env.channel_id("general")
    user_env.inject("no_id", method="POST")
    sent = zn.send("no id here", to_channel=ch)
    (msg,) = user_env.messages()
    assert sent.id == msg["id"]  # learnt by reading the conversation back
    assert get_outbox().saved() == []


def test_finding_10_notify_reply_to_last_replies_in_the_thread(user_env):
    ch = user_env.channel_id("general")
    first = zn.send("thread root", to_channel=ch)
    with zn.notify("job", to_channel=ch, reply_to="last", show=False):
        pass
    assert get_outbox().flush(10)
    _root, reply = user_env.messages()
    assert reply.get("reply_main_message_id") == first.id


def test_finding_10_ten_mentions_still_fit(user_env):
    ch = user_env.channel_id("general")
    people = {f"Person {i}": f"p{i}@example.com" for i in range(10)}
    draft = zn.api.prepare("x" * 2000, to_channel=ch, mentions=people, fit=True)
    assert len(draft.payload["message"]) <= 1024
    assert len(draft.payload["at_items"]) == 10


def test_finding_11_one_client_per_credential_source(s2s_env):
    ch = s2s_env.channel_id("general")
    from zoom_notebook.config import Settings

    zn.send("a", to_channel=ch, settings=Settings.load({"default_channel": "X"}))
    zn.send("b", to_channel=ch, settings=Settings.load({"default_channel": "Y"}))
    from zoom_notebook.account import session

    assert len(session._clients) == 1
    assert s2s_env.counters.get("account_credentials") == 1


def test_unknown_outcome_is_resolved_by_reading_back_not_resent(user_env):
    ch = user_env.channel_id("general")
    user_env.inject("drop_after", method="POST")  # delivered, but no answer came
    sent = zn.send("arrived once", to_channel=ch)
    (msg,) = user_env.messages()
    assert sent.id == msg["id"]


def test_unknown_outcome_without_read_scope_is_raised_not_resent(user_env, monkeypatch):
    monkeypatch.setenv("ZOOM_ACCESS_TOKEN",
                       user_env.issue_token(scopes="team_chat:write:user_message"))
    ch = user_env.channel_id("general")
    user_env.inject("drop_after", method="POST")
    try:
        zn.send("maybe", to_channel=ch)
    except zn.OutcomeUnknown as exc:
        assert "chat_message:read" in str(exc)
    else:
        raise AssertionError("expected OutcomeUnknown")
    assert len(user_env.messages()) == 1


def test_finding_4_progress_stays_one_message_after_an_unknown_first_post(user_env):
    ch = user_env.channel_id("general")
    # the first post reaches Zoom but its answer is lost: an unknown outcome
    user_env.inject("drop_after", method="POST", path="/messages")
    for _ in zn.progress(range(30), desc="sweep", every=0, to_channel=ch):
        pass
    assert get_outbox().flush(30)
    (msg,) = user_env.messages()  # one message, edited in place, never a second one
    assert msg["message"].startswith("✅ sweep: done, 30/30")
    assert get_outbox().saved() == []


def test_a_long_queue_does_not_rewrite_the_journal_on_every_line(tmp_path, monkeypatch):
    box = Outbox(tmp_path, lambda: None)
    calls = []
    original = Outbox._compact
    monkeypatch.setattr(Outbox, "_compact", lambda self: calls.append(1) or original(self))
    for i in range(6000):  # 6,000 alerts queued while Zoom is out of reach
        box._append([{"keep": {"id": f"r{i}", "payload": {"message": "m", "to_channel": "C"},
                               "status": "queued"}}])
    assert len(calls) <= 3  # amortized: once per doubling, not once per line
    assert len(box._replay().records) == 6000


def _record(i):
    return {"keep": {"id": f"r{i}", "payload": {"message": f"m{i}", "to_channel": "C"},
                     "status": "failed"}}


def test_issue24_finding_2_a_short_write_is_finished_or_undone_and_raised(tmp_path,
                                                                        monkeypatch):
    """SECURITY.md 37: os.write may write less than asked (a disk nearly full): the rest is
    written; when the disk is full, the partial record is removed and ENOSPC raised, so
    nothing is reported kept that a later read would skip."""
    import errno
    import os

    from zoom_notebook.delivery import journal as outbox_module  # where the journal writes

    box = Outbox(tmp_path, lambda: None)
    box._append([_record(0)])
    real = os.write
    monkeypatch.setattr(outbox_module.os, "write",
                        lambda fd, data: real(fd, bytes(data)[:7]))  # 7 bytes at a time
    box._append([_record(1)])
    assert sorted(box._replay().records) == ["r0", "r1"] and not box._replay().damaged

    calls = [0]

    def full(fd, data):
        calls[0] += 1
        if calls[0] == 1:
            return real(fd, bytes(data)[:20])  # part of it, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outbox_module.os, "write", full)
    with pytest.raises(OSError) as err:
        box._append([_record(2)])
    assert err.value.errno == errno.ENOSPC
    journal = box._replay()
    assert sorted(journal.records) == ["r0", "r1"] and not journal.damaged  # nothing torn


def test_issue24_finding_14_a_symlink_in_place_of_the_journal_is_not_written_through(
        tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("do not touch\n")
    box = Outbox(tmp_path / "home", lambda: None)
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "outbox.jsonl").symlink_to(target)
    with pytest.raises(OSError):
        box._append([_record(0)])
    assert target.read_text() == "do not touch\n"


@pytest.mark.parametrize("plant", ["wrong types", "directory", "fifo", "device"])
def test_issue24_finding_14_what_is_in_place_of_the_journal_never_breaks_the_report(
        tmp_path, plant):
    """SECURITY.md 39: a line with a valid checksum but wrong types is damaged (counted,
    skipped); a directory, a FIFO or /dev/zero in place of the journal is refused at once
    (no crash, no hang, no gigabytes read), and the report says the journal is damaged."""
    import os
    import threading

    from zoom_notebook.outbox import outbox_report

    home = tmp_path / "home"
    home.mkdir()
    journal = home / "outbox.jsonl"
    if plant == "wrong types":
        journal.write_text(_line({"keep": {"id": "x", "payload": {"message": "m",
                                                                  "to_channel": "C"},
                                           "created": "yesterday", "status": "failed"}})
                           + _line(_record(1)))
    elif plant == "directory":
        journal.mkdir()
    elif plant == "fifo":
        os.mkfifo(journal)
    else:
        journal.symlink_to("/dev/zero")
    box = Outbox(home, lambda: None)
    done = []
    reader = threading.Thread(target=lambda: done.append(outbox_report(box, list_only=True)),
                              daemon=True)
    reader.start()
    reader.join(10)
    assert done, "the report hung"
    lines, _ = done[0]
    assert box.damaged
    if plant == "wrong types":
        assert [r["id"] for r in box.saved()] == ["r1"]
    assert any("damaged" in line for line in lines)


def _main_of(sb, first_line_has):
    """(the thread it replies in, its id) of the message whose first line has the text."""
    (m,) = [m for m in sb.messages() if first_line_has in m["message"].split("\n")[0]]
    return m.get("reply_main_message_id"), m["id"]


def test_issue25_item_4_last_is_decided_at_delivery(user_env):
    """reply_to="last" means one thing everywhere: the thread this kernel last sent (or
    queued) to in that conversation, as the user wrote it."""
    ch = user_env.channel_id("general")
    # an alert, then at once an alert replying to "last": it replies to the first
    with zn.notify("A", to_channel=ch):
        pass
    with zn.notify("B", to_channel=ch, reply_to="last"):
        pass
    # after C is delivered, D then at once E: E replies to D, not C
    zn.send("C", to_channel=ch)
    with zn.notify("D", to_channel=ch):
        pass
    with zn.notify("E", to_channel=ch, reply_to="last"):
        pass
    # an alert, then at once a direct send replying to "last": it waits, then replies
    with zn.notify("H", to_channel=ch):
        pass
    sent = zn.send("I", to_channel=ch, reply_to="last")
    assert get_outbox().flush(20)
    assert _main_of(user_env, "✅ B")[0] == _main_of(user_env, "✅ A")[1]
    assert _main_of(user_env, "✅ E")[0] == _main_of(user_env, "✅ D")[1]
    assert _main_of(user_env, "I")[0] == _main_of(user_env, "✅ H")[1] == sent.reply_to


def test_issue25_item_4_send_then_alert_replies_in_the_sent_thread(user_env):
    """A direct send, then at once an alert replying to "last": the alert goes into the
    thread of the send (and a reply to a reply goes to the thread's main message)."""
    ch = user_env.channel_id("general")
    first = zn.send("S", to_channel=ch)
    with zn.notify("T", to_channel=ch, reply_to="last"):
        pass
    reply = zn.send("U", to_channel=ch, reply_to="last")
    assert get_outbox().flush(20)
    assert _main_of(user_env, "✅ T")[0] == first.id
    assert reply.reply_to == first.id  # the alert replied in S's thread: still S


def test_issue25_item_4_autonotify_does_not_steal_last(user_env, shell):
    """An autonotify alert posted between two of the user's sends: "last" still means the
    user's own thread (the rule: automatic alerts do not claim "last")."""
    ch = user_env.channel_id("general")
    first = zn.send("my thread", to_channel=ch)
    shell.run_line_magic("zoomchat", f"autonotify -c {ch} --after 0 --batch-gap 0")
    shell.run_cell("import time; time.sleep(0.05)")
    shell.run_line_magic("zoomchat", "autonotify --off")
    assert get_outbox().flush(20)
    assert any("finished" in m["message"] for m in user_env.messages())  # it was posted
    reply = zn.send("in my thread", to_channel=ch, reply_to="last")
    assert reply.reply_to == first.id
