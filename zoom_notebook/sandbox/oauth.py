"""The sandbox's user OAuth: authorize (consent page), code + PKCE, rotating refresh tokens,
revoke, and the device authorization grant (RFC 8628), as NOTES.md describes Zoom's.

- Codes are single-use and expire after 5 minutes; PKCE is verified (S256 and plain).
- ``redirect_uri`` must be a loopback URL on 127.0.0.1 (any port: Zoom ignores it).
- Each refresh returns a new refresh token and invalidates the old one, which then fails
  with HTTP 400 ``{"reason": "Invalid Token!", "error": "invalid_grant"}``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from werkzeug.wrappers import Request, Response

from zoom_notebook.sandbox.routing import Routing as SandboxApp
from zoom_notebook.sandbox.routing import json_response

CODE_TTL = 300.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"



@dataclasses.dataclass
class Pending:
    client_id: str
    redirect_uri: str
    state: str | None
    challenge: str | None
    method: str
    scope: str


@dataclasses.dataclass
class Code:
    pending: Pending
    expires_at: float
    used: bool = False


@dataclasses.dataclass
class DeviceGrant:
    client_id: str
    device_code: str
    user_code: str
    expires_at: float
    interval: float
    status: str = "pending"  # pending | allowed | denied | done
    last_poll: float = 0.0
    polls: list[float] = dataclasses.field(default_factory=list)


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def loopback_ok(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname == "127.0.0.1" and not parts.fragment


def invalid_grant() -> Response:
    return json_response({"reason": "Invalid Token!", "error": "invalid_grant"}, 400)


class UserOAuth:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.world = app.world
        self.pending: dict[str, Pending] = {}
        self.codes: dict[str, Code] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}  # value -> {client, scope, alive}
        self.devices: dict[str, DeviceGrant] = {}
        #: every secret value issued or received, for the secrets audits in tests
        self.secrets_seen: set[str] = {self.world.client_secret}
        app.config.setdefault("device_interval", 5.0)
        app.config.setdefault("device_expires_in", 900.0)
        app.extra_routes.update({
            "/oauth/authorize": self.on_authorize,
            "/oauth/authorize/decision": self.on_decision,
            "/oauth/revoke": self.on_revoke,
            "/oauth/devicecode": self.on_devicecode,
            "/oauth_device": self.on_device_page,
        })
        app.extra_grants.update({
            "authorization_code": self.grant_code,
            "refresh_token": self.grant_refresh,
            DEVICE_GRANT: self.grant_device,
        })

    # ------------------------------------------------------------------ clients
    def _client_ok(self, request: Request, auth: Any, *, need_secret: bool = False) -> str | None:
        """The authenticated client id, or None. Confidential clients use HTTP Basic;
        the public client sends only its id (PKCE stands in for the secret)."""
        if auth is not None and auth.type == "basic":
            if auth.username == self.world.client_id and auth.password == self.world.client_secret:
                return str(auth.username)
            return None
        client_id = request.form.get("client_id")
        if not need_secret and client_id == self.world.public_client_id:
            return client_id
        return None

    # ------------------------------------------------------------------ authorize
    def on_authorize(self, request: Request) -> Response:
        args = request.args
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri", "")
        if client_id not in (self.world.client_id, self.world.public_client_id):
            return self._page("Unknown app", "<p>This app (client_id) is not registered.</p>",
                              400)
        if not loopback_ok(redirect_uri):
            return self._page("Invalid redirect URL", "<p>The redirect URL must be "
                              "http://127.0.0.1:&lt;port&gt;/&lt;path&gt;.</p>", 400)
        if args.get("response_type") != "code":
            return self._page("Unsupported response type", "", 400)
        method = args.get("code_challenge_method", "plain")  # Zoom's default is plain
        if method not in ("S256", "plain"):
            return self._page("Unsupported code_challenge_method", "", 400)
        # Zoom gives a token the scopes configured on the app, whatever ``scope`` says; a
        # ``scope`` naming scopes the app lacks is recorded and shown (a forum user met
        # "invalid scope" then: UNVERIFIED, docs/zoom-facts.md)
        scope = self.app.config["app_scopes"]
        lacking = [s for s in args.get("scope", "").split() if s not in scope.split()]
        if lacking:
            self.app.scope_requests.append({"client_id": client_id, "lacking": lacking})
        rid = secrets.token_urlsafe(16)
        self.pending[rid] = Pending(client_id, redirect_uri, args.get("state"),
                                    args.get("code_challenge"), method, scope)
        me = self.world.users[self.world.me_id]
        scopes = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scope.split())
        body = (
            f"<p><b>zoom-notebook</b> would like to act for <b>{html.escape(me.display_name)}"
            f"</b> ({html.escape(me.email)}) with these permissions:</p><ul>{scopes}</ul>"
            + (("<p class='lacking'>It also asked for scopes this app does not have "
                "(not granted): " + html.escape(", ".join(lacking)) + "</p>") if lacking
               else "") +
            "<form method='post' action='/oauth/authorize/decision'>"
            f"<input type='hidden' name='request_id' value='{rid}'>"
            "<button name='decision' value='allow' id='allow'>Allow</button> "
            "<button name='decision' value='deny' id='deny'>Deny</button></form>"
        )
        return self._page("Authorize zoom-notebook", body)

    def on_decision(self, request: Request) -> Response:
        if request.method != "POST":
            return self._page("Method not allowed", "", 405)
        pending = self.pending.pop(request.form.get("request_id", ""), None)
        if pending is None:
            return self._page("This request has expired", "<p>Start the login again.</p>",
                              400)
        params: dict[str, str] = {}
        if request.form.get("decision") == "allow":
            code = secrets.token_urlsafe(24)
            self.codes[code] = Code(pending, time.time() + CODE_TTL)
            self.secrets_seen.add(code)
            params["code"] = code
        else:
            params["error"] = "access_denied"
        if pending.state is not None:
            params["state"] = pending.state
        sep = "&" if "?" in pending.redirect_uri else "?"
        return Response(status=302, headers={
            "Location": pending.redirect_uri + sep + urlencode(params)})

    def _page(self, title: str, body: str, status: int = 200) -> Response:
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                "<style>body{font-family:system-ui,sans-serif;margin:3em;max-width:36em}"
                "button{font-size:1.1em;padding:.4em 1.2em;margin-right:.6em}</style>"
                f"</head><body><h1>{title}</h1>{body}</body></html>")
        return Response(page, status=status, mimetype="text/html")

    # ------------------------------------------------------------------ tokens
    def _issue(self, request: Request, client_id: str, scope: str) -> Response:
        lifetime = float(self.app.config["token_lifetime"])
        token = self.world.issue_token(kind="user", user_id=self.world.me_id,
                                       client_id=client_id, lifetime=lifetime, scopes=scope)
        body: dict[str, Any] = {"access_token": token.value, "token_type": "bearer",
                                "expires_in": int(lifetime), "scope": scope,
                                "api_url": request.host_url.rstrip("/")}
        refresh = secrets.token_urlsafe(32)
        with self.world.lock:
            self.refresh_tokens[refresh] = {"client_id": client_id, "scope": scope,
                                            "alive": True}
            self.secrets_seen.update((token.value, refresh))
        body["refresh_token"] = refresh
        return json_response(body)

    def grant_code(self, request: Request, auth: Any) -> Response:
        client_id = self._client_ok(request, auth)
        if client_id is None:
            return json_response({"reason": "Invalid client", "error": "invalid_client"}, 401)
        self.world.count("authorization_code")
        form = request.form
        verifier = form.get("code_verifier")
        if verifier:
            self.secrets_seen.add(verifier)
        code = self.codes.get(form.get("code", ""))
        if code is None or code.used or code.expires_at <= time.time():
            return invalid_grant()
        code.used = True  # single use, even if the rest fails
        pending = code.pending
        if pending.client_id != client_id or form.get("redirect_uri") != pending.redirect_uri:
            return invalid_grant()
        if pending.challenge is not None:
            expected = s256(verifier) if (verifier and pending.method == "S256") else verifier
            if not verifier or expected != pending.challenge:
                return invalid_grant()
        return self._issue(request, client_id, pending.scope)

    def grant_refresh(self, request: Request, auth: Any) -> Response:
        client_id = self._client_ok(request, auth)
        if client_id is None:
            return json_response({"reason": "Invalid client", "error": "invalid_client"}, 401)
        self.world.count("refresh_token")
        with self.world.lock:
            entry = self.refresh_tokens.get(request.form.get("refresh_token", ""))
            if entry is None or not entry["alive"] or entry["client_id"] != client_id:
                self.world.counters["invalid_grant"] = (
                    self.world.counters.get("invalid_grant", 0) + 1)
                return invalid_grant()
            entry["alive"] = False  # rotation: the old refresh token dies now
        return self._issue(request, client_id, entry["scope"])

    def on_revoke(self, request: Request) -> Response:
        from werkzeug.datastructures import Authorization

        if request.method != "POST":
            return json_response({"error": "invalid_request"}, 405)
        auth = Authorization.from_header(request.headers.get("Authorization"))
        if self._client_ok(request, auth) is None:
            return json_response({"reason": "Invalid client", "error": "invalid_client"}, 401)
        if "token" in request.args:  # Zoom refuses token values in URLs: nothing revoked
            return json_response({"reason": "The token must be sent in the request body, "
                                            "not the URL", "error": "invalid_request"}, 400)
        value = request.form.get("token", "")
        self.world.count("revoke")
        with self.world.lock:
            if value in self.refresh_tokens:
                self.refresh_tokens[value]["alive"] = False
            self.world.tokens.pop(value, None)
        return json_response({"status": "success"})

    # ------------------------------------------------------------------ device flow
    def on_devicecode(self, request: Request) -> Response:
        from werkzeug.datastructures import Authorization

        if request.method != "POST":
            return json_response({"error": "invalid_request"}, 405)
        auth = Authorization.from_header(request.headers.get("Authorization"))
        client_id = self._client_ok(request, auth, need_secret=True)
        if client_id is None:
            return json_response({"reason": "Invalid client", "error": "invalid_client"}, 401)
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(8))
        grant = DeviceGrant(client_id, device_code, user_code,
                            time.time() + float(self.app.config["device_expires_in"]),
                            float(self.app.config["device_interval"]))
        self.devices[device_code] = grant
        self.secrets_seen.add(device_code)
        verify = request.host_url.rstrip("/") + "/oauth_device"
        return json_response({
            "device_code": device_code, "user_code": user_code, "verification_uri": verify,
            "verification_uri_complete": f"{verify}?user_code={user_code}",
            "expires_in": int(self.app.config["device_expires_in"]),
            "interval": int(grant.interval) if grant.interval >= 1 else grant.interval,
        })

    def on_device_page(self, request: Request) -> Response:
        if request.method == "POST":
            code = request.form.get("user_code", "").strip().upper()
            grant = next((g for g in self.devices.values() if g.user_code == code), None)
            if grant is None or grant.expires_at <= time.time():
                return self._page("Unknown or expired code", "<p>Check the code.</p>", 400)
            grant.status = "allowed" if request.form.get("decision") == "allow" else "denied"
            return self._page("Done", "<p>You can return to your notebook.</p>")
        prefill = html.escape(request.args.get("user_code", ""))
        body = ("<form method='post'><label>Code: <input name='user_code' "
                f"value='{prefill}'></label> "
                "<button name='decision' value='allow' id='allow'>Allow</button> "
                "<button name='decision' value='deny' id='deny'>Deny</button></form>")
        return self._page("Connect a device to Zoom", body)

    def grant_device(self, request: Request, auth: Any) -> Response:
        client_id = self._client_ok(request, auth, need_secret=True)
        if client_id is None:
            return json_response({"reason": "Invalid client", "error": "invalid_client"}, 401)
        grant = self.devices.get(request.form.get("device_code", ""))
        if grant is None or grant.client_id != client_id:
            return json_response({"error": "invalid_grant"}, 400)
        now = time.time()
        grant.polls.append(now)
        too_fast = grant.last_poll and now - grant.last_poll < grant.interval - 0.05
        grant.last_poll = now
        if grant.expires_at <= now:
            return json_response({"error": "expired_token"}, 400)
        if grant.status == "denied":
            return json_response({"error": "access_denied"}, 400)
        if too_fast:
            grant.interval += 5
            return json_response({"error": "slow_down"}, 400)
        if grant.status == "pending":
            return json_response({"error": "authorization_pending"}, 400)
        if grant.status == "done":
            return json_response({"error": "invalid_grant"}, 400)
        grant.status = "done"
        return self._issue(request, client_id, self.app.config["app_scopes"])


def install(app: SandboxApp) -> UserOAuth:
    oauth = UserOAuth(app)
    app.user_oauth = oauth
    return oauth
