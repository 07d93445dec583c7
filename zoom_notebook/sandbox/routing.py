"""The sandbox's plumbing: the WSGI entry, the URL map, faults and rate limits,
tokens and scopes (every endpoint checks its operation's documented scopes), paging and
the checks every Team Chat endpoint shares. The endpoints are in ``chat.py``; the
control routes and the page in ``control.py``; ``SandboxApp`` is all three."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import socket
import time
from typing import Any, Callable

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from zoom_notebook.core.scopes import OPERATIONS, kind_of, scope_for
from zoom_notebook.sandbox.faults import Faults
from zoom_notebook.sandbox.limits import Limiter, iso
from zoom_notebook.sandbox.state import Message, Token, World

MAX_MESSAGE = 1024
#: What a Server-to-Server token carries: the granular admin scope of every call the
#: sandbox serves that has one (the scheduled-message calls and "my contacts" have none in
#: Zoom's document, so a Server-to-Server token cannot make them).
S2S_SCOPES = " ".join(dict.fromkeys(
    s for s in (scope_for(op, "admin") for op in OPERATIONS) if s is not None))
RICH_TYPES = ("Bold", "Italic", "Strikethrough", "BulletedList", "NumberedList", "Underline",
              "FontSize", "FontColor", "BackgroundColor", "LeftIndent", "Paragraph", "Quote",
              "AddLink")
SCHEDULE_MIN, SCHEDULE_MAX = 30 * 60.0, 180 * 86400.0
FILE_LIMITS = {"image": 16 * 1024 * 1024, "other": 20 * 1024 * 1024}


def file_limit(name: str) -> int:
    """Zoom's size limit for a file of this name (images have their own)."""
    image = name.lower().endswith((".png", ".jpg", ".jpeg", ".gif"))
    return FILE_LIMITS["image" if image else "other"]
_ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class ApiError(Exception):
    def __init__(self, status: int, code: int, message: str,
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.status, self.code, self.message = status, code, message
        self.errors = errors
        self.headers = headers or {}


def invalid(field: str, message: str) -> ApiError:
    return ApiError(400, 300, "Validation Failed.", [{"field": field, "message": message}])


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    resp = Response(json.dumps(body), status=status, mimetype="application/json")
    resp.headers["x-zm-trackingid"] = "SBX_" + secrets.token_hex(8)
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def no_content() -> Response:
    """Zoom's 204: no body, and no Content-Type."""
    resp = Response(status=204)
    del resp.headers["Content-Type"]
    resp.headers["x-zm-trackingid"] = "SBX_" + secrets.token_hex(8)
    return resp


def _zoom_code(response: Response) -> int | None:
    try:
        code = json.loads(response.get_data()).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def iso_ms(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")



def app_scopes(value: Any = "granular") -> str:
    """The scopes the sandbox's OAuth app is configured with, as Zoom keeps them on an app:
    ``"granular"`` (an app made today: every feature's granular user scopes),
    ``"classic"`` (an app made before 2024), or the names themselves (a string or a list),
    e.g. an app missing a scope."""
    from zoom_notebook.core.scopes import scopes_for

    if value in ("granular", "classic"):
        return " ".join(scopes_for(kind=value))
    names = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    return " ".join(dict.fromkeys(str(n) for n in names))


class Routing:
    """The WSGI application's plumbing. ``config`` keys: token_lifetime, page_token_ttl."""

    def __init__(self, world: World, limiter: Limiter, faults: Faults) -> None:
        self.world = world
        self.limiter = limiter
        self.faults = faults
        self.config: dict[str, Any] = {"token_lifetime": 3600.0, "page_token_ttl": 900.0}
        self.request_log: list[dict[str, Any]] = []
        #: authorize requests whose ``scope`` named scopes the app does not have
        self.scope_requests: list[dict[str, Any]] = []
        #: with ``capture``: every API exchange as (method, url, request headers, request
        #: body, status, response headers, response body), for conformance checks
        self.capture = False
        self.exchanges: list[tuple[str, str, dict[str, str], bytes, int, dict[str, str],
                                   bytes]] = []
        # Hooks for the OAuth user flows (``oauth.py``): path -> handler, grant -> handler.
        self.extra_routes: dict[str, Callable[[Request], Response]] = {}
        self.extra_grants: dict[str, Callable[[Request, Any], Response]] = {}
        self.user_oauth: Any = None  # set by oauth.install()
        api = "/v2"
        self.url_map = Map([
            Rule("/", endpoint="page"),
            Rule("/oauth/token", endpoint="oauth_token", methods=["POST"]),
            Rule(f"{api}/users/<user>", endpoint="users_me", methods=["GET"]),
            Rule(f"{api}/chat/users/me/contacts", endpoint="my_contacts", methods=["GET"]),
            Rule(f"{api}/chat/users/<user>/messages", endpoint="post_message",
                 methods=["POST"]),
            Rule(f"{api}/chat/users/<user>/messages", endpoint="list_messages",
                 methods=["GET"]),
            Rule(f"{api}/chat/users/<user>/messages/<mid>", endpoint="edit_message",
                 methods=["PUT"]),
            Rule(f"{api}/chat/users/<user>/messages/<mid>", endpoint="get_message",
                 methods=["GET"]),
            Rule(f"{api}/chat/users/<user>/messages/<mid>", endpoint="delete_message",
                 methods=["DELETE"]),
            Rule(f"{api}/chat/users/<user>/messages/<mid>/emoji_reactions",
                 endpoint="react", methods=["PATCH"]),
            Rule(f"{api}/chat/messages/schedule", endpoint="list_schedule", methods=["GET"]),
            Rule(f"{api}/chat/messages/schedule/<draft>", endpoint="delete_schedule",
                 methods=["DELETE"]),
            Rule(f"{api}/chat/users/<user>/messages/<mid>/thread", endpoint="thread",
                 methods=["GET"]),
            Rule(f"{api}/chat/users/<user>/channels", endpoint="my_channels", methods=["GET"]),
            Rule(f"{api}/chat/channels/<cid>/members", endpoint="members", methods=["GET"]),
            Rule(f"{api}/contacts", endpoint="search_contacts", methods=["GET"]),
            Rule("/file/v2/chat/users/<user>/messages/files", endpoint="file_redirect",
                 methods=["POST"]),
            Rule("/file-us01/v2/chat/users/<user>/messages/files", endpoint="post_file",
                 methods=["POST"]),
            Rule("/file/v2/chat/users/<user>/files", endpoint="file_redirect",
                 methods=["POST"]),
            Rule("/file-us01/v2/chat/users/<user>/files", endpoint="upload_file",
                 methods=["POST"]),
            Rule("/incoming/hook/<hook>", endpoint="incoming_hook", methods=["POST"]),
            Rule("/_sandbox/reply", endpoint="sb_reply", methods=["POST"]),
            Rule("/_sandbox/reply_form", endpoint="sb_reply_form", methods=["POST"]),
            Rule("/_sandbox/clock", endpoint="sb_clock", methods=["POST"]),
            Rule("/_sandbox/files/<fid>", endpoint="sb_file", methods=["GET"]),
            Rule("/_sandbox/state", endpoint="sb_state", methods=["GET"]),
            Rule("/_sandbox/messages", endpoint="sb_messages", methods=["GET"]),
            Rule("/_sandbox/requests", endpoint="sb_requests", methods=["GET"]),
            Rule("/_sandbox/faults", endpoint="sb_faults", methods=["POST"]),
            Rule("/_sandbox/config", endpoint="sb_config", methods=["POST"]),
        ])

    # ------------------------------------------------------------------ plumbing
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        finally:
            request.close()  # uploaded files are spooled to temporary files: close them
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        host = (request.host or "").lower().rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost", "[::1]"):
            # another name for this address (DNS rebinding): not a client of ours
            return Response("Bad Host", status=400, mimetype="text/plain")
        response = self._dispatch(request)
        # its pages (consent, the conversations) are never shown inside another site
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        if self.capture and request.path.startswith(("/v2/", "/file/v2/", "/file-us01/v2/")):
            with self.world.lock:
                self.exchanges.append((request.method, request.url, dict(request.headers),
                                       request.get_data(cache=True), response.status_code,
                                       dict(response.headers), response.get_data()))
        return response

    def _dispatch(self, request: Request) -> Response:
        path = request.path
        is_api = path.startswith(("/v2/", "/file/v2/", "/file-us01/v2/"))
        if self.capture and is_api:
            request.get_data(cache=True, parse_form_data=False)  # kept for the check
        fault = self.faults.take(request.method, path) if (
            is_api or path.startswith(("/oauth/", "/incoming/"))) else None
        if fault is not None:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault.kind == "expire":
                header = request.headers.get("Authorization", "")
                token = self.world.check_token(header[7:].strip() or None)
                if token is not None:
                    token.expires_at = 0.0
            elif fault.kind == "drop_before":
                self._log(request, None, "dropped before reading")
                return self._drop(request)
            elif fault.kind == "status" and not fault.handled:
                self._log(request, fault.status, "fault")
                return self._fault_response(fault)
        try:
            adapter = self.url_map.bind_to_environ(request.environ)
            endpoint, args = adapter.match()
        except NotFound:
            endpoint, args = None, {}
        except HTTPException as exc:
            return json_response({"code": exc.code, "message": exc.description},
                                 exc.code or 400)
        if endpoint is None:
            handler = self.extra_routes.get(path)
            if handler is None:
                return json_response({"code": 404, "message": "Not Found"}, 404)
            response = handler(request)
        else:
            try:
                if is_api and not path.startswith("/file/v2/"):
                    response = self._api_call(request, endpoint, args)
                else:
                    response = getattr(self, "on_" + endpoint)(request, **args)
            except ApiError as err:
                body: dict[str, Any] = {"code": err.code, "message": err.message}
                if err.errors:
                    body["errors"] = err.errors
                response = json_response(body, err.status, err.headers)
        if is_api:
            self._log(request, response.status_code, "handled",
                      code=response.status_code >= 400 and _zoom_code(response))
        if fault is not None and fault.kind == "drop_after":
            return self._drop(request)
        if fault is not None and fault.kind == "status":
            return self._fault_response(fault)
        if fault is not None and fault.kind == "no_id" and response.status_code == 201:
            return json_response({}, 201)  # delivered, but the answer names no id
        return response

    def _fault_response(self, fault: Any) -> Response:
        headers = {}
        if fault.retry_after is not None:
            when = (f"{fault.retry_after:g}" if fault.retry_after_format == "seconds"
                    else iso(time.time() + fault.retry_after))
            headers = {"Retry-After": when, "X-RateLimit-Type": "QPS",
                       "X-RateLimit-Category": "Medium"}
        message = ("You have reached the maximum per-second rate limit for this API."
                   if fault.status == 429 else "Internal Error")
        return json_response({"code": fault.status, "message": message}, fault.status,
                             headers)

    def _drop(self, request: Request) -> Response:
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return Response(b"", status=500)

    def _log(self, request: Request, status: int | None, outcome: str,
             code: Any = None) -> None:
        entry: dict[str, Any] = {
            "time": time.time(), "method": request.method, "path": request.path,
            "query": {k: request.args.getlist(k) for k in request.args},
            "status": status, "outcome": outcome,
        }
        if code:
            entry["code"] = code  # Zoom's error code of the answer
        if request.path.startswith("/oauth/"):
            pass  # OAuth bodies hold secrets and codes: never logged
        elif request.mimetype == "application/json" and outcome != "dropped before reading":
            entry["json"] = request.get_json(silent=True)
        elif request.mimetype == "multipart/form-data" and outcome != "dropped before reading":
            entry["form"] = {k: request.form.getlist(k) for k in request.form}
            entry["files"] = {k: [f.filename for f in request.files.getlist(k)]
                              for k in request.files}
        with self.world.lock:
            self.request_log.append(entry)

    def _api_call(self, request: Request, endpoint: str, args: Any) -> Response:
        file_api = request.path.startswith("/file-us01/")
        token = self._auth(request, file_api=file_api)
        headers, limited = self.limiter.check_account()
        if limited is not None:
            daily = limited.get("X-RateLimit-Type") == "Daily-limit"
            raise ApiError(429, 429, "You have reached the maximum "
                           + ("daily" if daily else "per-second")
                           + " rate limit for this API. Refer to the response header for "
                           "details on when you can make another request.", headers=limited)
        self.world.post_due()  # scheduled messages whose time has come
        response: Response = getattr(self, "on_" + endpoint)(request, token=token, **args)
        for key, value in headers.items():
            response.headers[key] = value
        return response

    def _auth(self, request: Request, *, file_api: bool = False) -> Token:
        status = 400 if file_api else 401
        if "access_token" in request.args:
            raise ApiError(status, 124, "Invalid access token. Access tokens are not "
                                        "accepted in the query string.")
        header = request.headers.get("Authorization", "")
        value = header[7:].strip() if header.startswith("Bearer ") else None
        token = self.world.check_token(value)
        if token is None:
            raise ApiError(status, 124, "Invalid access token.")
        return token

    def _sender(self, token: Token, user: str) -> str:
        if user == "me":
            if token.kind == "account" or token.user_id is None:
                raise ApiError(404, 1001, "User does not exist: me.")
            return token.user_id
        found = self.world.find_user(user)
        if found is None:
            raise ApiError(404, 1001, f"User does not exist: {user}.")
        if token.kind == "user" and found.id != token.user_id:
            raise ApiError(401, 124, "Invalid access token. User-level apps must use 'me'.")
        return found.id

    def _need(self, token: Token, operation: str) -> None:
        """Zoom's check: the token holds one of the scopes Zoom's document lists for the
        operation (``security[0].openapi_oauth``), else 4711 naming the scopes an app of
        the token's kind would need (granular names, user and admin, for a granular app;
        classic for a classic one: UNVERIFIED which Zoom lists, see docs/zoom-facts.md)."""
        granted = token.scopes.split()
        _, _, accepted, classic, granular = OPERATIONS[operation]
        if set(granted) & set(accepted):
            return
        names = classic if kind_of(granted).startswith("classic") else granular
        raise ApiError(400, 4711, "Invalid access token, does not contain scopes:"
                                  f"[{', '.join(names)}].")

    def _time_arg(self, request: Request, name: str) -> float | None:
        raw = request.args.get(name)
        if raw is None:
            return None
        if not _ISO_Z.match(raw):
            raise invalid(name, "must be yyyy-MM-dd'T'HH:mm:ss'Z'")
        return dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc).timestamp()

    def _window(self, request: Request) -> tuple[float, float]:
        """The spec's ``date`` / ``from`` / ``to``: ``date`` (a UTC day, default today)
        wins; else ``from`` to ``to`` (default now)."""
        raw_date = request.args.get("date")
        now = dt.datetime.fromtimestamp(self.world.now(), dt.timezone.utc)
        since = self._time_arg(request, "from")
        until = self._time_arg(request, "to")
        if raw_date is not None or since is None:
            try:
                day = (dt.datetime.strptime(raw_date, "%Y-%m-%d") if raw_date else
                       now.replace(tzinfo=None)).date()
            except ValueError:
                raise invalid("date", "must be yyyy-MM-dd") from None
            start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
            return start.timestamp(), start.timestamp() + 86400.0
        # ``to`` is inclusive to the second it names
        return since, (until + 1.0) if until is not None else self.world.now() + 1.0

    def _page_args(self, request: Request, default: int, maximum: int) -> tuple[int, str]:
        raw = request.args.get("page_size", str(default))
        if not raw.isdigit() or not 1 <= int(raw) <= maximum:
            raise invalid("page_size", f"must be an integer from 1 to {maximum}")
        return int(raw), request.args.get("next_page_token", "")

    def _paged(self, request: Request, key: str, items: list[Any], default: int,
               maximum: int, *, total: bool = False) -> Response:
        """One page; ``total``: the answer has ``total_records`` (where the spec has)."""
        size, token = self._page_args(request, default, maximum)
        page = self.world.page(items, size, token or None, self.config["page_token_ttl"])
        if page is None:
            raise ApiError(400, 300, "The next page token is invalid or expired.")
        chunk, nxt = page
        return json_response({key: chunk, "page_size": size, "next_page_token": nxt,
                              **({"total_records": len(items)} if total else {})})

    def _target(self, body: dict[str, Any], sender: str) -> tuple[str, str]:
        contact, channel = body.get("to_contact"), body.get("to_channel")
        if (contact is None) == (channel is None) or not (contact or channel):
            raise invalid("to_contact", "Provide exactly one of to_contact or to_channel.")
        if channel is not None:
            if not isinstance(channel, str) or channel not in self.world.channels:
                raise ApiError(404, 4130, f"Channel does not exist: {channel}.")
            if sender not in self.world.channels[channel].members:
                raise ApiError(400, 300, "You are not a member of this channel.")
            return "to_channel", channel
        if not isinstance(contact, str):
            raise invalid("to_contact", "must be a string")
        user = self.world.find_user(contact)
        if user is None:
            raise ApiError(404, 1001, f"User does not exist: {contact}.")
        return "to_contact", user.id

    def _check_reply(self, reply: Any, kind: str, target: str, sender: str) -> str | None:
        if reply is None:
            return None
        if not isinstance(reply, str) or not reply:
            raise invalid("reply_main_message_id", "must be a message id")
        main = self._message_in(reply, sender, kind, target)
        if main.reply_main_message_id is not None:
            raise ApiError(400, 5402, "Only replies to the main message are allowed.")
        return reply

    def _message_in(self, mid: str, sender: str, kind: str, target: str) -> Message:
        """The message ``mid`` if it is in this conversation (as ``sender`` sees it);
        else Zoom's 400/300 "Message does not exist"."""
        with self.world.lock:
            msg = self.world.messages.get(mid)
        probe = Message(id="", sender=sender, kind=kind, target=target, message="",
                        at_items=[], reply_main_message_id=None, timestamp=0)
        if msg is None or msg.conversation() != probe.conversation():
            raise ApiError(400, 300, f"Message does not exist: {mid}.")
        return msg

    def _rate_channel(self, kind: str, target: str) -> None:
        if kind != "to_channel":
            return
        limited = self.limiter.check_channel(target)
        if limited is not None:
            raise ApiError(429, 429, "You have sent too many messages to this channel; it is "
                           "blocked for a while. Refer to the response header for details "
                           "on when you can make another request.", headers=limited)

