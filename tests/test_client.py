"""ZoomChatClient against the sandbox: every method, paging, redirects, error mapping."""

from __future__ import annotations

import pytest

from zoom_notebook import ValidationError, ZoomAPIError, ZoomChatClient
from zoom_notebook.message import build_message
from zoom_notebook.sandbox import Sandbox

from .conftest import point_at


@pytest.fixture
def client(user_env: Sandbox) -> ZoomChatClient:
    return ZoomChatClient.from_env()


def test_send_edit_and_list(client, user_env):
    channel = user_env.channel_id("general")
    grace = user_env.user("grace")
    mid = client.send_message(build_message(f"hello @{grace['email']}", to_channel=channel,
                                            mentions=[grace["email"]]))
    reply = client.send_message(build_message("a reply", to_channel=channel, reply_to=mid))
    client.edit_message(mid, "hello, edited", to_channel=channel)
    got = list(client.list_messages(to_channel=channel))
    assert [m["id"] for m in got] == [reply, mid]  # newest first
    assert got[1]["message"] == "hello, edited"
    assert got[0]["reply_main_message_id"] == mid
    thread = client.get_thread(mid, to_channel=channel)
    assert [m["msg_id"] for m in thread["messages"]] == [mid, reply]
    assert [m["is_reply"] for m in thread["messages"]] == [False, True]


def test_direct_message_by_email_and_by_id(client, user_env):
    grace = user_env.user("grace")
    client.send_message(build_message("by email", to_contact=grace["email"]))
    client.send_message(build_message("by id", to_contact=grace["id"]))
    got = [m["message"] for m in client.list_messages(to_contact=grace["email"])]
    assert got == ["by id", "by email"]  # one conversation, whichever way it was addressed


def test_file_upload_follows_redirect_keeping_authorization(client, user_env, http_recorder):
    channel = user_env.channel_id("alerts")
    mid = client.send_message(build_message("report", to_channel=channel))
    fid = client.send_file("report.csv", b"a,b\n1,2\n", to_channel=channel, reply_to=mid)
    posts = [r for r in http_recorder.api_requests() if r.method == "POST"
             and r.url.endswith("/messages/files")]
    assert [r.url.split("/")[3] for r in posts] == ["file", "file-us01"]  # redirected
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in posts)
    stored = next(m for m in user_env.messages() if m["id"] == fid)
    assert stored["files"][0]["file_name"] == "report.csv"
    assert stored["file_contents"] == [b"a,b\n1,2\n"]
    assert stored["reply_main_message_id"] == mid


def test_file_limits_checked_before_sending(client, http_recorder):
    with pytest.raises(ValidationError) as err:
        client.send_file("big.png", b"x" * (16 * 1024 * 1024 + 1), to_channel="c")
    assert err.value.field == "files" and "16 MB" in str(err.value)
    assert http_recorder.api_requests() == []


def test_paging_channels_contacts_members(monkeypatch):
    with Sandbox(extra_contacts=120) as sb:
        point_at(sb, monkeypatch)
        client = ZoomChatClient.from_env()
        contacts = list(client.list_contacts(page_size=50))
        assert len(contacts) == 129 and len({c["id"] for c in contacts}) == 129
        pages = [r for r in sb.requests() if r["path"].endswith("/contacts")]
        assert len(pages) == 3 and "next_page_token" in pages[1]["query"]
        assert len(list(client.list_channels(page_size=2))) == 5
        members = list(client.list_channel_members(sb.channel_id("general"), page_size=3))
        assert len(members) == 10
        found = list(client.search_contacts("person 000"))
        assert len(found) == 9 and all(c["display_name"].startswith("Person 000")
                                       for c in found)


def test_expired_page_token_is_an_error(client, user_env):
    user_env.configure(page_token_ttl=0.0)
    with pytest.raises(ZoomAPIError) as err:
        list(client.list_contacts(page_size=2))
    assert err.value.code == 300 and "page token" in err.value.message


def test_me(client, user_env):
    assert client.me()["email"] == user_env.me["email"]


@pytest.mark.parametrize("kwargs, status, code, hint", [
    ({"to_contact": "nobody@example.com"}, 404, 1001, "does not know this user"),
    ({"to_channel": "no-such-channel"}, 404, 4130, "does not know this channel"),
])
def test_zoom_errors_are_typed_with_hints(client, kwargs, status, code, hint):
    with pytest.raises(ZoomAPIError) as err:
        client.send_message(build_message("hi", **kwargs))
    e = err.value
    assert (e.status, e.code) == (status, code)
    assert hint in str(e) and e.tracking_id and e.tracking_id.startswith("SBX_")


def test_reply_to_a_reply_is_5402(client, user_env):
    channel = user_env.channel_id("general")
    main = client.send_message(build_message("main", to_channel=channel))
    reply = client.send_message(build_message("reply", to_channel=channel, reply_to=main))
    with pytest.raises(ZoomAPIError) as err:
        client.send_message(build_message("again", to_channel=channel, reply_to=reply))
    assert err.value.code == 5402 and "main message" in str(err.value)


def test_bad_token_is_124_with_login_hint(user_env, monkeypatch):
    monkeypatch.setenv("ZOOM_ACCESS_TOKEN", "not-a-real-token")
    client = ZoomChatClient.from_env()
    with pytest.raises(ZoomAPIError) as err:
        client.send_message(build_message("hi", to_channel=user_env.channel_id("general")))
    assert (err.value.status, err.value.code) == (401, 124)
    assert "zoomchat login" in str(err.value)
    assert "not-a-real-token" not in str(err.value) and "not-a-real-token" not in repr(client)


def test_every_call_has_connect_and_read_timeouts(client, user_env, monkeypatch):
    """SECURITY.md 17."""
    seen = []
    original = client.session.request

    def request(*args, **kwargs):
        seen.append(kwargs.get("timeout"))
        return original(*args, **kwargs)

    monkeypatch.setattr(client.session, "request", request)
    channel = user_env.channel_id("general")
    mid = client.send_message(build_message("t", to_channel=channel))
    client.send_file("a.txt", b"x", to_channel=channel)
    client.edit_message(mid, "t2", to_channel=channel)
    list(client.list_channels())
    client.me()
    assert len(seen) >= 6
    assert all(isinstance(t, tuple) and len(t) == 2 and all(x > 0 for x in t) for t in seen)
