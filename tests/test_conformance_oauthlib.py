"""The sandbox's OAuth server judged by a client we did not write: ``requests-oauthlib``
(on oauthlib). PKCE for the confidential and the public app, refresh-token rotation,
revoke, and the device authorization grant, as any OAuth 2 client would drive Zoom."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from oauthlib.oauth2 import DeviceClient, InvalidGrantError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from zoom_notebook.sandbox import Sandbox

REDIRECT = "http://127.0.0.1:9/callback"

pytestmark = pytest.mark.raw_http  # OAuth calls, not Team Chat's


@pytest.fixture
def sb(monkeypatch):
    # the sandbox is plain http on 127.0.0.1; oauthlib allows that only when told to
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with Sandbox() as sandbox:
        yield sandbox


def authorize(sb: Sandbox, session: OAuth2Session) -> str:
    url, state = session.authorization_url(sb.url + "/oauth/authorize")
    assert "code_challenge_method=S256" in url
    back = sb.approve(url)
    assert f"state={state}" in back
    return back


def send_with(sb: Sandbox, token: str) -> requests.Response:
    return requests.post(sb.api_url + "/chat/users/me/messages", timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"message": "via oauthlib",
                               "to_channel": sb.channel_id("general")})


def test_confidential_app_pkce_code_then_rotation(sb):
    # no scope, as Zoom's own SDK asks: the token carries the app's configured scopes
    session = OAuth2Session(sb.client_id, redirect_uri=REDIRECT, pkce="S256")
    back = authorize(sb, session)
    token = session.fetch_token(sb.url + "/oauth/token", authorization_response=back,
                                auth=HTTPBasicAuth(sb.client_id, sb.client_secret))
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]
    assert "team_chat:write:user_message" in token["scope"]  # oauthlib parses it to a list
    assert send_with(sb, token["access_token"]).status_code == 201
    first = token["refresh_token"]
    new = session.refresh_token(sb.url + "/oauth/token", refresh_token=first,
                                auth=HTTPBasicAuth(sb.client_id, sb.client_secret))
    assert new["refresh_token"] != first  # rotated
    assert send_with(sb, new["access_token"]).status_code == 201
    with pytest.raises(InvalidGrantError):  # the old refresh token is dead
        session.refresh_token(sb.url + "/oauth/token", refresh_token=first,
                              auth=HTTPBasicAuth(sb.client_id, sb.client_secret))


def test_public_app_pkce_without_a_secret(sb, monkeypatch):
    # A client that names classic scopes to an app made today: Zoom grants the app's own
    # (oauthlib warns "Scope has changed" unless relaxed); the sandbox records the request.
    monkeypatch.setenv("OAUTHLIB_RELAX_TOKEN_SCOPE", "1")
    session = OAuth2Session(sb.public_client_id, redirect_uri=REDIRECT, pkce="S256",
                            scope=["chat_message:write"])
    back = authorize(sb, session)
    token = session.fetch_token(sb.url + "/oauth/token", authorization_response=back,
                                include_client_id=True)
    assert token["scope"] == sb.app.config["app_scopes"].split()
    assert send_with(sb, token["access_token"]).status_code == 201
    assert sb.app.scope_requests == [{"client_id": sb.public_client_id,
                                      "lacking": ["chat_message:write"]}]


def test_a_code_without_its_verifier_is_refused(sb):
    session = OAuth2Session(sb.client_id, redirect_uri=REDIRECT, pkce="S256")
    back = authorize(sb, session)
    session._code_verifier = "x" * 64  # not the one the challenge was made from
    with pytest.raises(InvalidGrantError):
        session.fetch_token(sb.url + "/oauth/token", authorization_response=back,
                            auth=HTTPBasicAuth(sb.client_id, sb.client_secret))


def test_revoke_kills_the_token_and_refuses_tokens_in_the_url(sb):
    session = OAuth2Session(sb.client_id, redirect_uri=REDIRECT, pkce="S256")
    back = authorize(sb, session)
    token = session.fetch_token(sb.url + "/oauth/token", authorization_response=back,
                                auth=HTTPBasicAuth(sb.client_id, sb.client_secret))
    basic = HTTPBasicAuth(sb.client_id, sb.client_secret)
    in_url = requests.post(sb.url + "/oauth/revoke", params={"token": token["access_token"]},
                           auth=basic, timeout=10)
    assert in_url.status_code == 400  # refused, and nothing revoked
    assert send_with(sb, token["access_token"]).status_code == 201
    ok = requests.post(sb.url + "/oauth/revoke", data={"token": token["access_token"]},
                       auth=basic, timeout=10)
    assert ok.status_code == 200
    assert send_with(sb, token["access_token"]).status_code == 401


def test_device_authorization_grant(sb):
    sb.configure(device_interval=0.2)
    start = requests.post(sb.url + "/oauth/devicecode", data={"client_id": sb.client_id},
                          auth=HTTPBasicAuth(sb.client_id, sb.client_secret), timeout=10)
    assert start.status_code == 200, start.text
    grant = start.json()
    assert {"device_code", "user_code", "verification_uri", "interval"} <= set(grant)
    threading.Timer(0.5, sb.approve_device, args=(grant["user_code"],)).start()
    session = OAuth2Session(client=DeviceClient(sb.client_id))
    deadline = time.monotonic() + 10
    while True:
        try:
            token = session.fetch_token(sb.url + "/oauth/token",
                                        device_code=grant["device_code"],
                                        auth=HTTPBasicAuth(sb.client_id, sb.client_secret))
            break
        except Exception as exc:  # authorization_pending until the person allows it
            assert "authorization_pending" in str(exc) or "slow_down" in str(exc), exc
            assert time.monotonic() < deadline
            time.sleep(float(grant["interval"]) + 0.05)
    assert send_with(sb, token["access_token"]).status_code == 201


def test_server_to_server_parameters_in_the_query_or_the_body(sb):
    basic = HTTPBasicAuth(sb.client_id, sb.client_secret)
    args = {"grant_type": "account_credentials", "account_id": sb.account_id}
    in_query = requests.post(sb.url + "/oauth/token", params=args, auth=basic, timeout=10)
    in_body = requests.post(sb.url + "/oauth/token", data=args, auth=basic, timeout=10)
    assert in_query.status_code == 200 and in_body.status_code == 200
    assert in_query.json()["access_token"] != in_body.json()["access_token"]
