"""A local Zoom-compatible server, so everything runs and is tested with no Zoom account.

>>> from zoom_notebook.sandbox import Sandbox
>>> with Sandbox() as sb:                       # doctest: +SKIP
...     os.environ.update(sb.env())             # point zoom_notebook at it
...     zn.send("hi", to_channel=sb.channel_id("general"))

It serves Zoom's OAuth endpoints (``/oauth/...``), the Team Chat API under ``/v2``, the
file API under ``/file/v2`` (which redirects, as Zoom's does), a page at ``/`` showing
the conversations it received, and JSON for tests under ``/_sandbox/``.
"""

from __future__ import annotations

import socket
import threading
import time
import weakref
from typing import Any

from zoom_notebook.sandbox.control import SandboxApp
from zoom_notebook.sandbox.faults import Faults
from zoom_notebook.sandbox.limits import Limiter
from zoom_notebook.sandbox.oauth import install as install_user_oauth
from zoom_notebook.sandbox.routing import app_scopes as configured_scopes
from zoom_notebook.sandbox.state import World

#: What the sandbox's app has unless told otherwise: an app made today (granular scopes).
APP_TOKEN_SCOPES = configured_scopes("granular")

__all__ = ["Sandbox", "all_secrets", "approve", "login", "server_to_server_env"]

_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()
_issued: set[str] = set()


def all_secrets() -> set[str]:
    """Every secret any sandbox of this process issued or received (for audits)."""
    out = set(_issued)
    for sb in list(_live):
        out |= sb.secrets()
    return out


class Sandbox:
    """Run the sandbox on 127.0.0.1 in a background thread.

    ``port=0`` picks a free port. ``qps``/``daily`` set the account's rate limits (None:
    unlimited); ``channel_limits`` turns Zoom's per-channel flood limits on or off.
    ``extra_contacts`` seeds that many more users (for paging tests). ``app_scopes`` is
    the scopes its OAuth app is configured with: ``"granular"`` (an app made today, the
    default), ``"classic"`` (made before 2024) or the names (an app missing a scope);
    user tokens carry exactly those.
    """

    def __init__(self, port: int = 0, *, qps: int | None = None, daily: int | None = None,
                 channel_limits: bool = True, extra_contacts: int = 0, seed: int = 7,
                 token_lifetime: float = 3600.0, app_scopes: Any = "granular") -> None:
        self.world = World(seed=seed, extra_contacts=extra_contacts)
        self.limiter = Limiter(qps=qps, daily=daily, channel_limits=channel_limits)
        self.faults = Faults()
        self.app = SandboxApp(self.world, self.limiter, self.faults)
        self.app.config["token_lifetime"] = token_lifetime
        self.app.config["app_scopes"] = configured_scopes(app_scopes)
        self.oauth = install_user_oauth(self.app)
        self._requested_port = port
        self.port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._server_lock = threading.Lock()
        _live.add(self)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "Sandbox":
        self._serve(self._requested_port)
        return self

    def _serve(self, port: int) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

            def log_error(self, *args: Any, **kwargs: Any) -> None:
                pass

        with self._server_lock:
            server = make_server("127.0.0.1", port, self.app, threaded=True,
                                 request_handler=QuietHandler)
            server.daemon_threads = True  # type: ignore[attr-defined]
            self._server = server
            self.port = server.server_port
            self._thread = threading.Thread(target=server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name=f"zoom-sandbox-{self.port}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        _issued.update(self.secrets())
        with self._server_lock:
            server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def refuse_connections(self, seconds: float) -> None:
        """Stop listening for ``seconds`` (clients get "connection refused"), then
        listen on the same port again. Returns at once."""
        port = self.port
        self.stop()

        def reopen() -> None:
            time.sleep(seconds)
            for _ in range(50):
                try:
                    self._serve(port)
                    return
                except OSError:
                    time.sleep(0.05)

        threading.Thread(target=reopen, daemon=True).start()

    # ------------------------------------------------------------------ addresses
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/v2"

    @property
    def file_api_url(self) -> str:
        return self.url + "/file/v2"

    @property
    def client_id(self) -> str:
        return self.world.client_id

    @property
    def client_secret(self) -> str:
        return self.world.client_secret

    @property
    def public_client_id(self) -> str:
        return self.world.public_client_id

    @property
    def account_id(self) -> str:
        return self.world.account_id

    def env(self, *, server_to_server: bool = False, user: str | None = None
            ) -> dict[str, str]:
        """Environment variables that point zoom_notebook at this sandbox.

        With ``server_to_server`` they also hold the account id and the app's client
        id and secret (send as ``user``, default the first seeded user).
        """
        env = {"ZOOM_OAUTH_URL": self.url, "ZOOM_API_URL": self.api_url,
               "ZOOM_FILE_API_URL": self.file_api_url, "ZOOM_CLIENT_ID": self.client_id}
        if server_to_server:
            env.update({"ZOOM_ACCOUNT_ID": self.account_id,
                        "ZOOM_CLIENT_SECRET": self.client_secret,
                        "ZOOM_USER": user or self.me["email"]})
        return env

    def webhook_env(self) -> dict[str, str]:
        """``ZOOM_WEBHOOK_URL`` and ``ZOOM_WEBHOOK_TOKEN`` of the sandbox's Incoming Webhook
        (connected in #alerts): alerts with no OAuth app."""
        hook, (_, token) = next(iter(self.world.webhooks.items()))
        return {"ZOOM_WEBHOOK_URL": f"{self.url}/incoming/hook/{hook}",
                "ZOOM_WEBHOOK_TOKEN": token}

    # ------------------------------------------------------------------ test helpers
    def issue_token(self, user: str | None = None, lifetime: float = 3600.0,
                    scopes: str | None = None) -> str:
        """A user access token for ``user`` (email or id; default the signed-in user)
        with these ``scopes`` (default: the app's)."""
        found = self.world.find_user(user) if user else self.world.users[self.world.me_id]
        if found is None:
            raise KeyError(user)
        return self.world.issue_token(kind="user", user_id=found.id, client_id=self.client_id,
                                      lifetime=lifetime,
                                      scopes=scopes or self.app.config["app_scopes"]).value

    @property
    def me(self) -> dict[str, str]:
        u = self.world.users[self.world.me_id]
        return {"id": u.id, "email": u.email, "name": u.display_name}

    def user(self, key: str) -> dict[str, str]:
        """A seeded user by email, id, or first name."""
        found = self.world.find_user(key) or next(
            (u for u in self.world.users.values() if u.first_name.lower() == key.lower()), None)
        if found is None:
            raise KeyError(key)
        return {"id": found.id, "email": found.email, "name": found.display_name,
                "member_id": found.member_id}

    def channel_id(self, name: str) -> str:
        channel = self.world.channel_by_name(name)
        if channel is None:
            raise KeyError(name)
        return channel.id

    def messages(self) -> list[dict[str, Any]]:
        """Every message received, oldest first, as the ``/_sandbox/messages`` JSON."""
        return self.app.received(with_contents=True)

    def requests(self) -> list[dict[str, Any]]:
        """The API requests received (method, path, query, JSON or form; never secrets)."""
        with self.world.lock:
            return list(self.app.request_log)

    def reply(self, as_user: str, message: str, *, to_channel: str | None = None,
              to_contact: str | None = None, reply_to: str | None = None) -> str:
        """A message from another seeded user (by email, id or first name): to a channel,
        to a contact (default: to the signed-in user), optionally in a thread. Returns
        its id. Also ``POST /_sandbox/reply`` and the reply box on the sandbox page."""
        body = {"as": as_user, "message": message, "to_channel": to_channel,
                "to_contact": to_contact, "reply_main_message_id": reply_to}
        return self.app.reply_as(body).id

    def advance(self, seconds: float) -> list[str]:
        """Move the sandbox clock forward; scheduled messages that fall due are posted
        (with their scheduled time). Returns their ids. Also ``POST /_sandbox/clock``."""
        return [m.id for m in self.world.advance(seconds)]

    def drafts(self) -> list[dict[str, Any]]:
        """Scheduled messages not yet posted."""
        with self.world.lock:
            return [{"id": d.id, "due": d.due, **d.fields} for d in self.world.drafts.values()]

    def inject(self, kind: str, **options: Any) -> None:
        """Switch on a fault (see ``zoom_notebook.sandbox.faults``)."""
        self.faults.add(kind, **options)

    def configure(self, **options: Any) -> None:
        """Change limits or timings while running (see ``SandboxApp.configure``)."""
        self.app.configure(options)

    def secrets(self) -> set[str]:
        """Every secret this sandbox issued or received: client secret, access and refresh
        tokens, codes, code verifiers, device codes (for secrets audits)."""
        with self.world.lock:
            return set(self.oauth.secrets_seen) | set(self.world.tokens)

    def approve(self, authorize_url: str, allow: bool = True) -> str:
        """Act as the person at the consent page: open ``authorize_url``, click Allow
        (or Deny), and return the URL Zoom redirects the browser to."""
        return approve(authorize_url, allow=allow)

    def approve_device(self, user_code: str, allow: bool = True) -> None:
        """Act as the person entering ``user_code`` on the device verification page."""
        import requests

        resp = requests.post(self.url + "/oauth_device", timeout=10,
                             data={"user_code": user_code,
                                   "decision": "allow" if allow else "deny"})
        resp.raise_for_status()

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expire now."""
        with self.world.lock:
            for token in self.world.tokens.values():
                token.expires_at = 0.0

    @property
    def counters(self) -> dict[str, int]:
        with self.world.lock:
            return dict(self.world.counters)


def approve(authorize_url: str, allow: bool = True) -> str:
    """Click Allow (or Deny) on a sandbox consent page; return the redirect URL.

    Works from any process (a notebook kernel, too): it only speaks HTTP to the page.
    """
    import re
    from urllib.parse import urljoin

    import requests

    page = requests.get(authorize_url, timeout=10)
    page.raise_for_status()
    match = re.search(r"name='request_id' value='([^']+)'", page.text)
    if match is None:
        raise ValueError("not a sandbox consent page")
    resp = requests.post(urljoin(authorize_url, "/oauth/authorize/decision"), timeout=10,
                         data={"request_id": match.group(1),
                               "decision": "allow" if allow else "deny"},
                         allow_redirects=False)
    return str(resp.headers["Location"])


def login(*, scopes: Any = None) -> Any:
    """Log in to the sandbox the zoom_notebook settings point at, without a browser.

    The paste method, with this function playing the person who clicks Allow on the
    consent page and pastes the address. For notebooks and scripts run against the
    sandbox; with real Zoom use ``zn.login()`` / ``%zoomchat login``.
    """
    from zoom_notebook.account.login import DEFAULT_SCOPES, PASTE_REDIRECT_URI, PKCELogin
    from zoom_notebook.core.config import Settings

    attempt = PKCELogin(Settings.load(), PASTE_REDIRECT_URI, scopes or DEFAULT_SCOPES,
                        "paste")
    attempt.recorded_method = "sandbox (approved by zoom_notebook.sandbox.login)"
    return attempt.finish(approve(attempt.authorize_url))


def server_to_server_env(user: str | None = None) -> dict[str, str]:
    """The sandbox's Server-to-Server settings (account id, and the sender as ZOOM_USER),
    read from the running sandbox that ZOOM_OAUTH_URL points at."""
    import requests

    from zoom_notebook.core.config import Settings

    state = requests.get(Settings.load().oauth_url + "/_sandbox/state", timeout=10).json()
    me = next(u for u in state["users"] if u["id"] == state["me"])
    return {"ZOOM_ACCOUNT_ID": state["account_id"], "ZOOM_USER": user or me["email"]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answer_later(text: str, *, as_user: str = "grace", after: float = 15.0,
                 to_channel: str | None = None, to_contact: str | None = None,
                 containing: str = "Reply in this thread") -> Any:
    """Play a colleague who answers: ``after`` seconds from now, ``as_user`` replies
    ``text`` in the thread of the newest question (a message of yours containing
    ``containing``) in that conversation, unless someone has answered it already.

    For demos on the sandbox (``zn.ask`` waits for a person; here one answers, or you do
    first from the sandbox page's reply box). Returns the thread doing it."""
    import threading
    import time

    import requests

    from zoom_notebook.account import session
    from zoom_notebook.core.config import Settings

    settings = Settings.load()
    if to_channel and to_channel.startswith("#"):
        from zoom_notebook.account.people import resolve_channel

        to_channel = resolve_channel(to_channel, settings)

    def run() -> None:
        time.sleep(after)
        zoom = session.client(settings)
        query = {"to_channel": to_channel} if to_channel else {"to_contact": to_contact}
        for message in zoom.list_messages(page_size=20, **query):
            if containing in str(message.get("message", "")) and not message.get(
                    "reply_main_message_id"):
                thread = zoom.get_thread(str(message["id"]), **query)
                if any(m.get("is_reply") for m in thread.get("messages") or []):
                    return  # answered already (by you, from the sandbox page)
                requests.post(settings.oauth_url + "/_sandbox/reply", timeout=10, json={
                    "as": as_user, "message": text, "to_channel": to_channel,
                    # in a direct message the colleague writes back to you (the default)
                    "reply_main_message_id": message["id"]})
                return

    thread = threading.Thread(target=run, name="zoom-notebook-sandbox-colleague",
                              daemon=True)
    thread.start()
    return thread
