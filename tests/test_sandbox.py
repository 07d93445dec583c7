"""The sandbox behaves like Zoom for hand-made requests (so it cannot pass a client bug
by being lenient), shows what it received, and stops cleanly."""

from __future__ import annotations

import socket

import pytest
import requests

from zoom_notebook.sandbox import Sandbox

pytestmark = pytest.mark.raw_http


@pytest.fixture
def sb():
    with Sandbox() as sandbox:
        yield sandbox


def post(sb, body, token=None, path="/chat/users/me/messages"):
    token = token or sb.issue_token()
    return requests.post(sb.api_url + path, json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})


def error(resp):
    return resp.status_code, resp.json()["code"]


def test_exactly_one_target(sb):
    assert error(post(sb, {"message": "hi"})) == (400, 300)
    both = {"message": "hi", "to_channel": sb.channel_id("general"),
            "to_contact": sb.user("grace")["email"]}
    assert error(post(sb, both)) == (400, 300)


def test_message_length_and_unknown_targets(sb):
    channel = sb.channel_id("general")
    assert post(sb, {"message": "x" * 1024, "to_channel": channel}).status_code == 201
    assert error(post(sb, {"message": "x" * 1025, "to_channel": channel})) == (400, 300)
    assert error(post(sb, {"message": "x", "to_channel": "nope"})) == (404, 4130)
    assert error(post(sb, {"message": "x", "to_contact": "no@example.com"})) == (404, 1001)


@pytest.mark.parametrize("item", [
    {"at_type": 1, "at_contact": "grace.hopper@example.com", "start_position": 1,
     "end_position": 3},
    {"at_type": 1, "at_contact": "grace.hopper@example.com", "start_position": 0,
     "end_position": 50},
    {"at_type": 1, "start_position": 0, "end_position": 3},
    {"at_type": 5, "start_position": 0, "end_position": 3},
])
def test_at_items_rules(sb, item):
    body = {"message": "@Grace hi", "to_channel": sb.channel_id("general"), "at_items": [item]}
    assert error(post(sb, body)) == (400, 300)


def test_mention_all_only_in_channels(sb):
    item = {"at_type": 2, "start_position": 0, "end_position": 3}
    body = {"message": "@all hi", "to_contact": sb.user("grace")["email"], "at_items": [item]}
    assert error(post(sb, body)) == (400, 300)
    body = {"message": "@all hi", "to_channel": sb.channel_id("general"), "at_items": [item]}
    assert post(sb, body).status_code == 201


def test_reply_to_reply_is_5402(sb):
    channel = sb.channel_id("general")
    main = post(sb, {"message": "m", "to_channel": channel}).json()["id"]
    reply = post(sb, {"message": "r", "to_channel": channel,
                      "reply_main_message_id": main}).json()["id"]
    assert error(post(sb, {"message": "r2", "to_channel": channel,
                           "reply_main_message_id": reply})) == (400, 5402)


def test_bad_expired_or_query_tokens_are_124(sb):
    channel = sb.channel_id("general")
    assert error(post(sb, {"message": "x", "to_channel": channel}, token="junk")) == (401, 124)
    expired = sb.issue_token(lifetime=-1)
    assert error(post(sb, {"message": "x", "to_channel": channel}, token=expired)) == (401, 124)
    resp = requests.get(sb.api_url + "/users/me", params={"access_token": sb.issue_token()},
                        timeout=5)
    assert error(resp) == (401, 124)


def test_user_level_tokens_must_use_me(sb):
    grace = sb.user("grace")
    resp = post(sb, {"message": "x", "to_channel": sb.channel_id("general")},
                path=f"/chat/users/{grace['id']}/messages")
    assert error(resp) == (401, 124)


def test_file_api_redirects_and_rejects_bad_token_with_400(sb):
    url = sb.file_api_url + "/chat/users/me/messages/files"
    resp = requests.post(url, files={"files": ("a.txt", b"x")},
                         data={"to_channel": sb.channel_id("general")},
                         headers={"Authorization": "Bearer junk"}, allow_redirects=False,
                         timeout=5)
    assert resp.status_code == 307 and "/file-us01/" in resp.headers["Location"]
    resp = requests.post(resp.headers["Location"], files={"files": ("a.txt", b"x")},
                         data={"to_channel": sb.channel_id("general")},
                         headers={"Authorization": "Bearer junk"}, timeout=5)
    assert error(resp) == (400, 124)


def test_channel_flood_limit_429_with_headers(sb):
    channel = sb.channel_id("general")
    token = sb.issue_token()
    codes = [post(sb, {"message": f"{i}", "to_channel": channel}, token).status_code
             for i in range(11)]
    assert codes == [201] * 10 + [429]
    resp = post(sb, {"message": "again", "to_channel": channel}, token)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"].endswith("Z") and "T" in resp.headers["Retry-After"]
    assert resp.headers["X-RateLimit-Category"] == "Medium"


def test_account_qps_limit(sb):
    sb.configure(qps=3, channel_limits=False)
    token = sb.issue_token()
    resps = [requests.get(sb.api_url + "/users/me", timeout=5,
                          headers={"Authorization": f"Bearer {token}"}) for _ in range(8)]
    limited = [r for r in resps if r.status_code == 429]
    assert limited, "a burst above the limit must be refused"
    r = limited[0]
    assert r.headers["X-RateLimit-Type"] == "QPS" and r.headers["X-RateLimit-Remaining"] == "0"
    assert "per-second" in r.json()["message"]


def test_page_shows_threads_mentions_and_files(sb):
    channel = sb.channel_id("data-science")
    grace = sb.user("grace")
    main = post(sb, {"message": "@Grace look <b>here</b>", "to_channel": channel,
                     "at_items": [{"at_type": 1, "at_contact": grace["email"],
                                   "start_position": 0, "end_position": 5}]}).json()["id"]
    post(sb, {"message": "a reply", "to_channel": channel, "reply_main_message_id": main})
    page = requests.get(sb.url + "/", timeout=5).text
    assert "# data-science" in page
    assert "<mark class='mention' title='grace.hopper@example.com'>@Grace</mark>" in page
    assert "&lt;b&gt;here&lt;/b&gt;" in page  # escaped, never injected
    assert page.index("a reply") > page.index("<div class='thread'>")


def test_account_credentials_grant(sb):
    resp = requests.post(sb.url + "/oauth/token", auth=(sb.client_id, sb.client_secret),
                         data={"grant_type": "account_credentials",
                               "account_id": sb.account_id}, timeout=5)
    body = resp.json()
    assert resp.status_code == 200 and body["expires_in"] == 3600 and body["access_token"]
    resp = requests.post(sb.url + "/oauth/token", auth=(sb.client_id, "wrong"),
                         data={"grant_type": "account_credentials",
                               "account_id": sb.account_id}, timeout=5)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_request_log_never_holds_secrets(sb):
    token = sb.issue_token()
    post(sb, {"message": "x", "to_channel": sb.channel_id("general")}, token)
    requests.post(sb.url + "/oauth/token", auth=(sb.client_id, sb.client_secret),
                  data={"grant_type": "account_credentials", "account_id": sb.account_id},
                  timeout=5)
    text = requests.get(sb.url + "/_sandbox/requests", timeout=5).text
    assert token not in text and sb.client_secret not in text


def test_stops_cleanly_and_frees_the_port():
    sb = Sandbox().start()
    port = sb.port
    assert requests.get(sb.url + "/", timeout=5).status_code == 200
    sb.stop()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
        s2 = socket.socket()
        s2.bind(("127.0.0.1", port))  # free again
        s2.close()
