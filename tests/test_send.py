"""zn.send: validation first, mentions, reply_to="last", files, dry run, credentials."""

from __future__ import annotations

import time

import pytest

import zoom_notebook as zn
from zoom_notebook import AuthError, ValidationError
from zoom_notebook.config import Settings
from zoom_notebook.errors import RateLimited

from .conftest import point_at, sandbox_posts


def test_send_with_mentions_returns_a_receipt(user_env):
    channel = user_env.channel_id("data-science")
    grace = user_env.user("grace")
    sent = zn.send("Training done 🎉 @Grace Hopper please review", to_channel=channel,
                   mentions={"Grace Hopper": grace["email"]})
    (stored,) = user_env.messages()
    assert stored["id"] == sent.id and stored["message"] == sent.message
    assert stored["at_items"] == [{"at_type": 1, "at_contact": grace["email"],
                                   "start_position": 16, "end_position": 28}]
    text, page = repr(sent), sent._repr_html_()
    for expected in (channel, sent.id, grace["email"]):
        assert expected in text and expected in page


def test_reply_to_last_targets_the_main_message_never_a_reply(user_env):
    channel = user_env.channel_id("general")
    main = zn.send("main", to_channel=channel)
    r1 = zn.send("reply 1", to_channel=channel, reply_to="last")
    r2 = zn.send("reply 2", to_channel=channel, reply_to="last")
    assert r1.reply_to == main.id and r2.reply_to == main.id
    msgs = {m["id"]: m for m in user_env.messages()}
    assert msgs[r2.id]["reply_main_message_id"] == main.id
    # Replying in a thread started elsewhere moves "last" to that thread's main message.
    other = zn.send("other main", to_channel=channel)
    zn.send("reply to first", to_channel=channel, reply_to=main.id)
    x = zn.send("x", to_channel=channel, reply_to="last")
    assert x.reply_to == main.id
    after = user_env.messages()
    assert next(m for m in after if m["id"] == x.id)["reply_main_message_id"] == main.id
    assert not [m for m in after if m.get("reply_main_message_id") == other.id]  # not there


def test_reply_to_last_without_history_is_a_validation_error(user_env, http_recorder):
    zn.send("to general", to_channel=user_env.channel_id("general"))
    before = len(http_recorder.requests)
    with pytest.raises(ValidationError) as err:
        zn.send("x", to_channel=user_env.channel_id("random"), reply_to="last")
    assert err.value.field == "reply_to"
    assert len(http_recorder.requests) == before


def test_files_arrive_inside_the_one_message(user_env, tmp_path):
    channel = user_env.channel_id("alerts")
    path = tmp_path / "plot.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    sent = zn.send("with files", to_channel=channel, files=[path, ("data.csv", b"a,b\n")])
    assert [a.name for a in sent.attachments] == ["plot.png", "data.csv"]
    (msg,) = user_env.messages()  # one message: the text and both files
    assert msg["id"] == sent.id and msg["message"] == "with files"
    assert [f["file_name"] for f in msg["files"]] == ["plot.png", "data.csv"]
    assert msg["file_contents"] == [path.read_bytes(), b"a,b\n"]
    assert [f["file_id"] for f in msg["files"]] == [a.id for a in sent.attachments]
    uploads = [r for r in sandbox_posts(user_env, "/files") if "/file-us01/" in r["path"]]
    assert len(uploads) == 2 and all(u["files"] == {"file": [n]} for u, n in
                                     zip(uploads, ["plot.png", "data.csv"], strict=True))
    assert "plot.png" in repr(sent)


def test_seven_files_are_refused_before_any_request(user_env, http_recorder):
    files = [(f"f{i}.txt", b"x") for i in range(7)]
    with pytest.raises(ValidationError) as err:
        zn.send("too many", to_channel=user_env.channel_id("alerts"), files=files)
    assert err.value.field == "files" and "at most 6" in str(err.value)
    assert http_recorder.requests == [] and user_env.messages() == []


def test_a_failed_upload_sends_nothing_and_says_why(user_env):
    user_env.inject("status", status=429, retry_after=3600, method="POST", path="/files")
    with pytest.raises(RateLimited) as err:
        zn.send("with a file", to_channel=user_env.channel_id("alerts"),
                files=[("a.csv", b"1")])
    assert err.value.status == 429 and err.value.retry_at is not None  # says when
    assert user_env.messages() == []  # not a text without the file it describes
    posts = [r["path"] for r in user_env.requests() if r["method"] == "POST"]
    assert posts and all(p.endswith("/files") for p in posts)  # no message was POSTed


def test_a_file_to_a_contact_by_email_needs_no_lookup(user_env, http_recorder):
    grace = user_env.user("grace")
    sent = zn.send("see file", to_contact=grace["email"], files=[("a.txt", b"hi")])
    (msg,) = user_env.messages()
    assert msg["id"] == sent.id and msg["files"][0]["file_name"] == "a.txt"
    assert not [r for r in http_recorder.requests if "/contacts" in r.url]


def test_dry_run_sends_nothing(user_env, monkeypatch, http_recorder):
    monkeypatch.setenv("ZOOM_NOTEBOOK_DRY_RUN", "1")
    sent = zn.send("hello", to_channel="abc", mentions=["all"])
    assert sent.dry_run and sent.id is None
    assert sent.request["json"]["at_items"][0]["at_type"] == 2
    assert "Dry run" in repr(sent) and '"message": "@all hello"' in repr(sent)
    assert http_recorder.requests == []
    assert user_env.messages() == []


BAD_INPUTS = [
    ({"message": "hi"}, "to_contact/to_channel"),
    ({"message": "hi", "to_channel": "c", "to_contact": "a@example.com"},
     "to_contact/to_channel"),
    ({"message": "", "to_channel": "c"}, "message"),
    ({"message": "x" * 1025, "to_channel": "c"}, "message"),
    ({"message": "hi", "to_channel": "c", "mentions": ["nope"]}, "mentions"),
    ({"message": "hi", "to_contact": "a@example.com", "mentions": ["all"]}, "mentions"),
    ({"message": "hi", "to_channel": "c", "reply_to": ""}, "reply_to"),
    ({"message": "hi", "to_channel": "c", "reply_to": "last"}, "reply_to"),
    ({"message": "hi", "to_channel": "c", "files": ["/no/such/file"]}, "files"),
    ({"message": "hi", "to_channel": "c", "files": [("x.bin", b"0" * (20 * 2**20 + 1))]},
     "files"),
    ({"message": "hi", "to_channel": "c", "files": [("a", b"1")] * 7}, "files"),
    ({"message": "hi", "to_channel": "c", "user": ""}, "user"),
]


@pytest.mark.parametrize("kwargs, field", BAD_INPUTS)
def test_bad_input_makes_no_request_at_all(s2s_env, http_recorder, kwargs, field):
    """SECURITY.md 23: validation before any token or network work (S2S would fetch one)."""
    message = kwargs.pop("message")
    with pytest.raises(ValidationError) as err:
        zn.send(message, **kwargs)
    assert err.value.field == field
    assert http_recorder.requests == []
    assert s2s_env.counters.get("token_requests", 0) == 0


def test_server_to_server_token_is_cached_and_renewed_before_expiry(s2s_env):
    s2s_env.configure(token_lifetime=2.0)  # renew when < min(60, 1) s remain
    channel = s2s_env.channel_id("general")
    zn.send("one", to_channel=channel)
    zn.send("two", to_channel=channel)
    assert s2s_env.counters["account_credentials"] == 1
    time.sleep(1.2)
    zn.send("three", to_channel=channel)
    assert s2s_env.counters["account_credentials"] == 2
    # renewed ahead of time: Zoom never had to reject a token
    assert all(r["status"] == 201 for r in sandbox_posts(s2s_env))
    assert [m["sender"] for m in s2s_env.messages()] == [s2s_env.me["email"]] * 3


def test_server_to_server_cannot_send_as_me(s2s_env, monkeypatch, http_recorder):
    monkeypatch.setenv("ZOOM_USER", "me")
    with pytest.raises(ValidationError) as err:
        zn.send("x", to_channel=s2s_env.channel_id("general"))
    assert err.value.field == "ZOOM_USER"
    assert http_recorder.requests == []


def test_wrong_server_to_server_secret_is_a_clear_auth_error(s2s_env, monkeypatch):
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "wrong-secret-value")
    with pytest.raises(AuthError) as err:
        zn.send("x", to_channel=s2s_env.channel_id("general"))
    assert "ZOOM_CLIENT_SECRET" in str(err.value)
    assert "wrong-secret-value" not in str(err.value)


def test_no_credentials_says_what_to_do(sandbox, monkeypatch):
    point_at(sandbox, monkeypatch, "none")
    with pytest.raises(AuthError, match="zoomchat login"):
        zn.send("x", to_channel=sandbox.channel_id("general"))


def test_reprs_hide_secrets(s2s_env, monkeypatch):
    """SECURITY.md 22 for the objects of this layer."""
    monkeypatch.setenv("ZOOM_ACCESS_TOKEN", "tok-SECRET-123")
    settings = Settings.load()
    from zoom_notebook.credentials import from_settings

    s2s = from_settings(Settings.load(environ={k: v for k, v in
                                              s2s_env.env(server_to_server=True).items()}))
    client = zn.api.client()
    texts = [repr(settings), str(settings), repr(client), repr(client.credentials), repr(s2s)]
    for text in texts:
        assert "tok-SECRET-123" not in text and s2s_env.client_secret not in text


def test_issue25_item_9_settings_read_config_json_only_when_it_changed(tmp_path,
                                                                       monkeypatch):
    import json
    import os
    from pathlib import Path

    from zoom_notebook.config import Settings

    monkeypatch.setenv("ZOOM_NOTEBOOK_HOME", str(tmp_path))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"default_channel": "C1"}))
    reads = []
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self.name)
                        or real(self, *a, **k))
    for _ in range(5):
        assert Settings.load().default_channel == "C1"
    assert reads.count("config.json") == 1
    config.write_text(json.dumps({"default_channel": "C2 "}))
    os.utime(config, ns=(1, 1))  # a change even where the clock is coarse
    assert Settings.load().default_channel.strip() == "C2"
    assert reads.count("config.json") == 2
