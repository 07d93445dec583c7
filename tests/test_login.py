"""Logging in: PKCE, state, denial, the loopback listener, paste, device flow, scopes
(SECURITY.md 1-8), against the sandbox's OAuth endpoints."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

import zoom_notebook as zn
from zoom_notebook import AuthError, LoginDenied, ValidationError, auth, display
from zoom_notebook.config import Settings
from zoom_notebook.loopback import LoopbackListener
from zoom_notebook.sandbox.oauth import s256


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def token_calls(sb):
    return sb.counters.get("token_requests", 0)


def test_browser_login_then_send(fake_browser):
    sb = fake_browser.sandbox
    st = zn.login(method="browser")
    assert st.logged_in and st.user_email == sb.me["email"] and st.method == "browser"
    sent = zn.send("after login", to_channel=sb.channel_id("general"))
    assert sb.messages()[0]["id"] == sent.id


def test_1_authorize_url_always_has_s256_pkce(fake_browser):
    """SECURITY.md 1: code_challenge = S256 of a fresh 43-128 char verifier, method S256."""
    zn.login(method="browser")
    zn.login(method="browser")
    sb = fake_browser.sandbox
    first, second = (query(u) for u in fake_browser.opened)
    for q in (first, second):
        assert q["code_challenge_method"] == "S256"
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"])
    assert first["code_challenge"] != second["code_challenge"]  # fresh verifier each time
    # The verifier the sandbox received at the token endpoint hashes to the challenge.
    verifiers = [s for s in sb.secrets() if s256(s) in (first["code_challenge"],
                                                       second["code_challenge"])]
    assert len(verifiers) == 2 and all(43 <= len(v) <= 128 for v in verifiers)


def test_2_fresh_state_and_wrong_state_refused_without_token_request(oauth_env):
    """SECURITY.md 2: >= 128 bits of fresh state; a wrong or missing state is refused."""
    settings = Settings.load()
    a = auth.PKCELogin(settings, auth.PASTE_REDIRECT_URI, auth.SEND_SCOPES, "paste")
    b = auth.PKCELogin(settings, auth.PASTE_REDIRECT_URI, auth.SEND_SCOPES, "paste")
    state_a, state_b = query(a.authorize_url)["state"], query(b.authorize_url)["state"]
    assert state_a != state_b and len(state_a) * 5.9 >= 128  # base62-ish alphabet
    redirect = oauth_env.approve(a.authorize_url)
    before = token_calls(oauth_env)
    wrong = redirect.replace(state_a, "x" * len(state_a))
    missing = re.sub(r"[&?]state=[^&]*", "", redirect)
    for bad in (wrong, missing):
        with pytest.raises(AuthError, match="state"):
            a.finish(bad)
    with pytest.raises(AuthError, match="state"):
        b.finish(redirect)  # another attempt's answer
    assert token_calls(oauth_env) == before
    assert a.finish(redirect).logged_in


def test_3_denied_raises_login_denied_without_token_request(fake_browser):
    """SECURITY.md 3."""
    fake_browser.allow = False
    before = token_calls(fake_browser.sandbox)
    with pytest.raises(LoginDenied, match="denied"):
        zn.login(method="browser")
    assert token_calls(fake_browser.sandbox) == before


def _port_free(port):
    """Nothing listens on the port any more, and a new listener could take it."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_4_loopback_listener_one_request_localhost_only_and_closed():
    """SECURITY.md 4: 127.0.0.1 only, one request on the path, no echo, closed after."""
    listener = LoopbackListener()
    assert listener._server.server_address[0] == "127.0.0.1"
    port = listener.port
    results = {}

    def browser():
        time.sleep(0.2)
        results["other"] = requests.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
        results["cb"] = requests.get(listener.redirect_uri + "?code=SECRETCODE&state=S1",
                                     timeout=5)

    t = threading.Thread(target=browser)
    t.start()
    url = listener.wait(10)
    listener.report(True)  # the token exchange succeeded: the page may say so
    t.join()
    assert results["other"].status_code == 404
    assert "Logged in" in results["cb"].text
    assert url.endswith("/callback?code=SECRETCODE&state=S1")
    assert "SECRETCODE" not in results["cb"].text and "S1" not in results["cb"].text
    assert _port_free(port)


def test_4_loopback_listener_times_out_and_frees_port():
    listener = LoopbackListener()
    port = listener.port
    start = time.monotonic()
    with pytest.raises(AuthError, match="timed out"):
        listener.wait(0.5)
    assert time.monotonic() - start < 3
    assert _port_free(port)


def test_4_listener_closed_after_error_and_interrupt(fake_browser, monkeypatch):
    ports = []
    real_init = LoopbackListener.__init__

    def spy(self, *args):
        real_init(self, *args)
        ports.append(self.port)

    monkeypatch.setattr(LoopbackListener, "__init__", spy)
    fake_browser.allow = False
    with pytest.raises(LoginDenied):
        zn.login(method="browser")

    real_wait = LoopbackListener.wait

    def interrupted_wait(self, timeout=300):
        def interrupt():  # Ctrl-C arrives while the listener waits
            raise KeyboardInterrupt

        self._server.handle_request = interrupt
        return real_wait(self, timeout)

    monkeypatch.setattr(LoopbackListener, "wait", interrupted_wait)
    with pytest.raises(KeyboardInterrupt):
        zn.login(method="browser", open_browser=False)
    assert len(ports) == 2 and all(_port_free(p) for p in ports)


def test_5_remote_kernel_uses_paste_without_a_listener(oauth_env, monkeypatch):
    """SECURITY.md 5: no loopback listener on JupyterHub; the pasted URL is read without
    echo and must match the redirect URI and carry code and state."""
    monkeypatch.setenv("JUPYTERHUB_USER", "ada")
    monkeypatch.setattr(LoopbackListener, "__init__", lambda self: pytest.fail("listener"))
    shown = []
    monkeypatch.setattr(auth, "show", lambda card: shown.append(display.text(card)))
    prompts = []

    def getpass(prompt):
        prompts.append(prompt)
        url = re.search(r"(http://\S+/oauth/authorize\S+)", shown[-1]).group(1)
        return oauth_env.approve(url)

    monkeypatch.setattr("getpass.getpass", getpass)
    st = zn.login()
    assert st.logged_in and st.method == "paste" and prompts


@pytest.mark.parametrize("mangle", [
    lambda u: u.replace("127.0.0.1:8976", "evil.example.com:8976"),
    lambda u: u.replace("/callback", "/other"),
    lambda u: re.sub(r"code=[^&]*&?", "", u),
])
def test_5_pasted_url_must_match(oauth_env, mangle):
    attempt = auth.PKCELogin(Settings.load(), auth.PASTE_REDIRECT_URI, auth.SEND_SCOPES,
                             "paste")
    redirect = oauth_env.approve(attempt.authorize_url)
    before = token_calls(oauth_env)
    with pytest.raises(AuthError):
        attempt.finish(mangle(redirect))
    assert token_calls(oauth_env) == before


def _device_login(sb, monkeypatch, *, approve=True, delay=0.4, **kwargs):
    def show(card):
        code = re.search(r"code ([A-Z]{8})", display.text(card)).group(1)
        if delay is not None:  # None: nobody ever approves
            threading.Timer(delay, lambda: sb.approve_device(code, allow=approve)).start()

    monkeypatch.setattr(auth, "show", show)
    return auth.device_login(Settings.load(), **kwargs)


def test_6_device_flow_polls_at_interval(oauth_env, monkeypatch):
    """SECURITY.md 6: no faster than interval; success after approval."""
    oauth_env.configure(device_interval=0.5)
    st = _device_login(oauth_env, monkeypatch, delay=1.2)
    assert st.logged_in and st.method == "device"
    (grant,) = oauth_env.oauth.devices.values()
    gaps = [b - a for a, b in zip(grant.polls, grant.polls[1:], strict=False)]
    assert len(grant.polls) >= 2 and all(g >= 0.45 for g in gaps)


def test_6_device_flow_slow_down_adds_five_seconds(oauth_env, monkeypatch):
    oauth_env.configure(device_interval=0.3)
    delays = []

    def sleep(seconds):
        delays.append(seconds)
        if len(delays) == 3:
            raise KeyboardInterrupt  # enough seen; stop instead of waiting 5 s
        time.sleep(0.35 if len(delays) == 1 else 0.01)  # the second poll comes too fast

    with pytest.raises(KeyboardInterrupt):
        _device_login(oauth_env, monkeypatch, delay=None, sleep=sleep)
    assert delays == [pytest.approx(0.3), pytest.approx(0.3), pytest.approx(5.3)]


def test_6_device_flow_denied_expired_and_interrupted(oauth_env, monkeypatch):
    oauth_env.configure(device_interval=0.2)
    with pytest.raises(LoginDenied):
        _device_login(oauth_env, monkeypatch, approve=False, delay=0.1)
    oauth_env.configure(device_expires_in=0.5)
    with pytest.raises(AuthError, match="expired"):
        _device_login(oauth_env, monkeypatch, delay=None)
    oauth_env.configure(device_expires_in=900)
    polls = []

    def interrupt(seconds):
        polls.append(seconds)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _device_login(oauth_env, monkeypatch, delay=None, sleep=interrupt)
    assert len(polls) == 1


def test_6_device_flow_stops_at_expires_in_by_its_own_clock(oauth_env, monkeypatch):
    oauth_env.configure(device_interval=0.1)
    now = [0.0]

    def sleep(seconds):
        now[0] += 1000.0  # past the 900 s expires_in

    with pytest.raises(AuthError, match="expired"):
        _device_login(oauth_env, monkeypatch, delay=None, sleep=sleep, clock=lambda: now[0])
    (grant,) = oauth_env.oauth.devices.values()
    assert grant.polls == []  # it stopped before polling past the expiry


def test_7_minimum_scope(fake_browser):
    """SECURITY.md 7 and 41: by default the authorize request carries no ``scope`` (as
    Zoom's own SDK): Zoom applies the app's configured scopes, so a login never asks for a
    scope the app lacks. Naming features asks for theirs only, in granular names (no
    admin scope, nothing beyond the features named)."""
    zn.login(method="browser")
    assert "scope" not in query(fake_browser.opened[0])
    zn.login(method="browser", scopes=auth.scopes_for("send", "read back", "status"))
    assert query(fake_browser.opened[1])["scope"].split() == [
        "team_chat:write:user_message", "team_chat:read:list_user_messages", "user:read:user"]
    with pytest.raises(ValidationError, match="scopes"):
        auth.scopes_for("meetings")


def test_8_no_client_secret_in_the_package():
    """SECURITY.md 8: the package holds no client secret (the sandbox makes one per run)."""
    package = Path(zn.__file__).parent
    text = "\n".join(p.read_text() for p in package.rglob("*.py"))
    assert not re.search(r"client_secret\s*=\s*['\"][A-Za-z0-9_\-]{16,}['\"]", text)
    from zoom_notebook.sandbox import Sandbox

    a, b = Sandbox(), Sandbox()
    assert a.client_secret != b.client_secret and a.client_secret not in text


def test_public_client_logs_in_with_pkce_only(fake_browser, monkeypatch):
    sb = fake_browser.sandbox
    monkeypatch.setenv("ZOOM_CLIENT_ID", sb.public_client_id)
    monkeypatch.delenv("ZOOM_CLIENT_SECRET")
    st = zn.login(method="browser")
    assert st.logged_in
    sb.expire_access_tokens()
    zn.send("public client refresh works", to_channel=sb.channel_id("general"))
    assert sb.counters["refresh_token"] == 1


def test_pkce_is_enforced_by_the_sandbox(oauth_env):
    """The sandbox refuses a code exchange without the right verifier (so the PKCE tests
    above cannot pass by accident)."""
    attempt = auth.PKCELogin(Settings.load(), auth.PASTE_REDIRECT_URI, auth.SEND_SCOPES,
                             "paste")
    code = query(oauth_env.approve(attempt.authorize_url))["code"]
    resp = requests.post(oauth_env.url + "/oauth/token",
                         auth=(oauth_env.client_id, oauth_env.client_secret), timeout=5,
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": auth.PASTE_REDIRECT_URI,
                               "code_verifier": "w" * 64})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    resp2 = requests.post(oauth_env.url + "/oauth/token",
                          auth=(oauth_env.client_id, oauth_env.client_secret), timeout=5,
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": auth.PASTE_REDIRECT_URI,
                                "code_verifier": attempt._verifier})
    assert resp2.json()["error"] == "invalid_grant"  # codes are single-use


def test_plain_pkce_supported_by_sandbox(oauth_env):
    verifier = "v" * 50
    url = (oauth_env.url + "/oauth/authorize?response_type=code&client_id="
           f"{oauth_env.client_id}&redirect_uri=http://127.0.0.1:9/cb&state=s&"
           f"code_challenge={verifier}&code_challenge_method=plain")
    code = query(oauth_env.approve(url))["code"]
    resp = requests.post(oauth_env.url + "/oauth/token", timeout=5,
                         auth=(oauth_env.client_id, oauth_env.client_secret),
                         data={"grant_type": "authorization_code", "code": code,
                               "redirect_uri": "http://127.0.0.1:9/cb",
                               "code_verifier": verifier})
    assert resp.status_code == 200


def test_sandbox_refuses_non_loopback_redirects(oauth_env):
    url = (oauth_env.url + "/oauth/authorize?response_type=code&client_id="
           f"{oauth_env.client_id}&redirect_uri=http://evil.example.com/cb&state=s")
    assert requests.get(url, timeout=5).status_code == 400


def test_login_needs_a_client_id(sandbox, monkeypatch):
    monkeypatch.setenv("ZOOM_OAUTH_URL", sandbox.url)
    with pytest.raises(ValidationError) as err:
        zn.login(method="paste")
    assert err.value.field == "ZOOM_CLIENT_ID"


def test_server_to_server_login(s2s_env):
    st = zn.login()
    assert st.logged_in and st.method.startswith("Server-to-Server")
    assert st.store is None and "memory only" in repr(st)


def test_sandbox_s256_agrees_with_authlib():
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    for verifier in ("a" * 43, "dBjftJeZ4CVP-mB92K2uhbUhTu0Ay1ChkIqHpqG8p7cJ", "Z" * 128):
        assert s256(verifier) == create_s256_code_challenge(verifier)
        digest = hashlib.sha256(verifier.encode()).digest()
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == s256(verifier)


def test_issue12_finding_9_a_dropped_poll_and_a_negative_interval(oauth_env, monkeypatch):
    oauth_env.configure(device_interval=-3)  # nonsense from the server: use the default
    oauth_env.inject("drop_before", method="POST", path="/oauth/token")  # the 1st poll
    delays = []

    def sleep(seconds):
        delays.append(seconds)
        time.sleep(0.3)

    st = _device_login(oauth_env, monkeypatch, delay=0.2, sleep=sleep)
    assert st.logged_in and st.method == "device"
    assert oauth_env.faults.fired.get("drop_before") == 1
    assert delays[0] == 5.0 and len(delays) >= 2  # the dropped poll was simply tried again


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_browser_tab_says_logged_in_only_after_the_token_exchange(fake_browser,
                                                                       monkeypatch):
    """Issue 23 item 2: the loopback page waits for the code exchange: "Logged in" when it
    worked, "Login failed" with the reason when Zoom refused it; "terminal" outside a
    notebook."""
    zn.login(method="browser")
    wait_for(lambda: fake_browser.pages)
    assert "Logged in" in fake_browser.pages[0] and "your terminal" in fake_browser.pages[0]
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(AuthError, match="invalid_client"):
        zn.login(method="browser")
    wait_for(lambda: len(fake_browser.pages) == 2)
    assert "Login failed" in fake_browser.pages[1] and "invalid_client" in fake_browser.pages[1]
    assert "Logged in" not in fake_browser.pages[1]
