"""Shared fixtures: a fresh sandbox per test, an environment pointing at it, and the
contract check that validates every request the client sends against Zoom's schema."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests.adapters

from zoom_notebook import api, config, outbox
from zoom_notebook.sandbox import Sandbox

from . import contract

ZOOM_VARS = ("ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET", "ZOOM_ACCOUNT_ID", "ZOOM_USER",
             "ZOOM_ACCESS_TOKEN", "ZOOM_API_URL", "ZOOM_FILE_API_URL", "ZOOM_OAUTH_URL",
             "ZOOM_NOTEBOOK_HOME", "ZOOM_NOTEBOOK_DRY_RUN", "ZOOM_WEBHOOK_URL",
             "ZOOM_WEBHOOK_TOKEN")


class Recorder:
    """Every HTTP request any ``requests`` session sends during a test."""

    def __init__(self) -> None:
        self.requests: list[requests.PreparedRequest] = []
        #: (request, status, headers, body) of every answer received
        self.responses: list[tuple[requests.PreparedRequest, int, dict[str, str], bytes]] = []

    def api_requests(self, sandbox_url: str | None = None) -> list[requests.PreparedRequest]:
        return [r for r in self.requests
                if "/v2/" in (r.url or "") and (sandbox_url is None
                                                 or (r.url or "").startswith(sandbox_url))]


@pytest.fixture(autouse=True)
def http_recorder(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
                  ) -> Iterator[Recorder]:
    """Record every request; afterwards check the API ones against Zoom's schema.

    A test marked ``raw_http`` sends hand-made requests on purpose and is not checked.
    """
    recorder = Recorder()
    original = requests.adapters.HTTPAdapter.send

    def send(self: Any, prepared: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        recorder.requests.append(prepared)
        resp = original(self, prepared, *args, **kwargs)
        if not kwargs.get("stream"):
            recorder.responses.append((prepared, resp.status_code, dict(resp.headers),
                                       resp.content))
        return resp

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    yield recorder
    if request.node.get_closest_marker("raw_http"):
        return
    problems = []
    for prepared in recorder.api_requests():
        if "/_sandbox/" in (prepared.url or ""):
            continue
        problems += contract.check_request(prepared.method or "", prepared.url or "",
                                           dict(prepared.headers), prepared.body)
    assert not problems, "requests that break Zoom's API schema:\n" + "\n".join(problems)
    answers = []
    for prepared, status, headers, body in recorder.responses:
        if "/v2/" in (prepared.url or "") and "/_sandbox/" not in (prepared.url or ""):
            answers += contract.check_response(prepared.method or "", prepared.url or "",
                                               status, headers, body)
    assert not answers, ("sandbox answers that break Zoom's API schema:\n"
                         + "\n".join(sorted(set(answers))))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No Zoom settings leak in from the machine; a private home folder per test."""
    for var in ZOOM_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "zoom-home"
    monkeypatch.setenv("ZOOM_NOTEBOOK_HOME", str(home))
    api.forget_clients()
    api._forget_threads()
    outbox.reset_outbox()
    config._session.clear()  # %config of an earlier test's shell


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def point_at(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, credentials: str = "token"
             ) -> Sandbox:
    """Point the environment at ``sb``: its addresses and client id, and ``credentials``:
    ``"token"`` (a user access token in ZOOM_ACCESS_TOKEN), ``"s2s"`` (Server-to-Server),
    ``"secret"`` (a confidential OAuth app, no token yet) or ``"none"``. The one place
    the tests do this (every fixture below and the tests with a sandbox of their own)."""
    assert credentials in ("token", "s2s", "secret", "none"), credentials
    for key, value in sb.env(server_to_server=credentials == "s2s").items():
        monkeypatch.setenv(key, value)
    if credentials == "token":
        monkeypatch.setenv("ZOOM_ACCESS_TOKEN", sb.issue_token())
    elif credentials == "secret":
        monkeypatch.setenv("ZOOM_CLIENT_SECRET", sb.client_secret)
    return sb


@pytest.fixture
def user_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The environment points at the sandbox with a user access token (ZOOM_ACCESS_TOKEN)."""
    return point_at(sandbox, monkeypatch)


@pytest.fixture
def s2s_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The environment points at the sandbox with Server-to-Server credentials."""
    return point_at(sandbox, monkeypatch, "s2s")


def sandbox_posts(sb: Sandbox, suffix: str = "/messages") -> list[dict[str, Any]]:
    """POSTs the sandbox handled whose path ends with ``suffix``."""
    return [r for r in sb.requests() if r["method"] == "POST" and r["path"].endswith(suffix)
            and r["outcome"] == "handled"]


@pytest.fixture
def oauth_env(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """The environment points at the sandbox with a confidential OAuth app (no token)."""
    return point_at(sandbox, monkeypatch, "secret")


class FakeBrowser:
    """Stands in for the system browser: when ``webbrowser.open(url)`` is called it
    clicks Allow (or Deny) on the sandbox's consent page and follows the redirect to the
    loopback listener, as a person's browser would."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.allow = True
        self.opened: list[str] = []
        self.redirects: list[str] = []
        #: the pages the loopback listener showed (what the person reads in the tab)
        self.pages: list[str] = []
        self.follow = True

    def open(self, url: str, *args: Any, **kwargs: Any) -> bool:
        import threading

        self.opened.append(url)

        def act() -> None:
            redirect = self.sandbox.approve(url, allow=self.allow)
            self.redirects.append(redirect)
            if self.follow:
                self.pages.append(requests.get(redirect, timeout=70).text)

        threading.Thread(target=act, daemon=True).start()
        return True


@pytest.fixture
def fake_browser(oauth_env: Sandbox, monkeypatch: pytest.MonkeyPatch) -> FakeBrowser:
    import webbrowser

    browser = FakeBrowser(oauth_env)
    monkeypatch.setattr(webbrowser, "open", browser.open)
    return browser


@pytest.fixture
def shell(user_env: Sandbox) -> Iterator[Any]:
    """An IPython shell with the extension loaded, pointed at the sandbox (test modules
    with their own needs define their own ``shell``)."""
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext zoom_notebook", store_history=False)
    yield sh
    sh.run_line_magic("zoomchat", "autonotify --off")
    sh.run_cell("%unload_ext zoom_notebook", store_history=False)
    InteractiveShell.clear_instance()
