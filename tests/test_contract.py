"""The contract check itself: it accepts what Zoom documents and flags what Zoom would
not take, so a client bug that the sandbox happens to accept still fails the suite."""

from __future__ import annotations

import json

from .contract import check_request, load_spec

H = {"Authorization": "Bearer t", "Content-Type": "application/json"}
API = "https://api.zoom.us/v2"


def test_spec_is_zooms_document():
    import hashlib

    from .contract import SPEC_PATH

    spec = load_spec()
    assert spec["info"]["title"] == "Team Chat"
    assert len(spec["paths"]) == 69  # as NOTES.md records for the captured document
    # the vendored copy is byte for byte the document tests/zoom/README.md names
    assert hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest() == (
        "a3465c5cf4fde80a1a9cccd4399aaaeac768c59f3a12a00059e9e1d9ded79b06")


def test_vendored_spec_matches_the_shared_one_when_present():
    """A checkout with the team's shared folder beside it: the copy has not drifted."""
    import pytest

    from .contract import ROOT, SPEC_PATH

    shared = ROOT.parent / "shared" / "zoom" / "team-chat-openapi.json"
    if not shared.exists():
        pytest.skip("no shared folder beside this checkout (a plain clone)")
    assert shared.read_bytes() == SPEC_PATH.read_bytes()


def test_good_message_passes():
    body = {"message": "@a@b.co hi", "to_contact": "a@b.co",
            "at_items": [{"at_type": 1, "at_contact": "a@b.co", "start_position": 0,
                          "end_position": 6}]}
    assert check_request("POST", API + "/chat/users/me/messages", H, json.dumps(body)) == []


def test_flags_what_zoom_would_reject():
    def problems(method, path, body=None, headers=H):
        return check_request(method, API + path, headers,
                             json.dumps(body) if body is not None else None)

    assert problems("POST", "/chat/users/me/messages", {"message": "x" * 1025,
                                                        "to_channel": "c"})
    assert problems("POST", "/chat/users/me/messages", {"message": "x"})  # no target
    assert problems("POST", "/chat/users/me/messages",
                    {"message": "x", "to_channel": "c", "at_items": [{"at_type": 3}]})
    assert problems("POST", "/chat/users/me/messages", {"message": 5, "to_channel": "c"})
    assert problems("GET", "/chat/users/me/contacts?page_size=500")
    assert problems("GET", "/contacts")  # search_key is required
    assert problems("GET", "/chat/users/me/messages/abc/thread?to_channel=c")  # from missing
    assert problems("GET", "/chat/users/me/channels?pagesize=10")  # misspelt parameter
    assert problems("POST", "/chat/users/me/mesages", {"message": "x", "to_channel": "c"})
    assert problems("GET", "/chat/users/me/channels?access_token=abc")
    assert problems("GET", "/chat/users/me/channels", headers={})


def test_multipart_file_send():
    import requests

    req = requests.Request("POST", "https://file.zoom.us/v2/chat/users/me/messages/files",
                           headers={"Authorization": "Bearer t"},
                           files=[("files", ("a.png", b"x", "image/png"))],
                           data={"to_channel": "c"}).prepare()
    assert check_request(req.method, req.url, dict(req.headers), req.body) == []
    two = requests.Request("POST", req.url, headers={"Authorization": "Bearer t"},
                           files=[("files", ("a.png", b"x")), ("files", ("b.png", b"y"))],
                           data={"to_channel": "c"}).prepare()
    assert check_request(two.method, two.url, dict(two.headers), two.body)
