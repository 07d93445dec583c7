"""The sandbox's HTTP application (werkzeug): Zoom's Team Chat and OAuth endpoints.

Behaviour follows Zoom's OpenAPI document and NOTES.md: validation and error codes
(300 invalid parameter, 1001 unknown user, 4130 unknown channel, 5402 reply to a reply,
124 bad token — HTTP 401, or 400 on the file API), paging with expiring tokens, rate
limits (``limits.py``) and injected faults (``faults.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import socket
import time
import uuid
from typing import Any, Callable

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ..scopes import OPERATIONS, kind_of, scope_for
from .faults import Faults
from .limits import Limiter, iso
from .state import Draft, Message, Token, World

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


class SandboxApp:
    """WSGI application. ``config`` keys: token_lifetime, page_token_ttl."""

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
        with self.world.lock:
            main = self.world.messages.get(reply)
        probe = Message(id="", sender=sender, kind=kind, target=target, message="",
                        at_items=[], reply_main_message_id=None, timestamp=0)
        if main is None or main.conversation() != probe.conversation():
            raise ApiError(400, 300, f"Message does not exist: {reply}.")
        if main.reply_main_message_id is not None:
            raise ApiError(400, 5402, "Only replies to the main message are allowed.")
        return reply

    def _rate_channel(self, kind: str, target: str) -> None:
        if kind != "to_channel":
            return
        limited = self.limiter.check_channel(target)
        if limited is not None:
            raise ApiError(429, 429, "You have sent too many messages to this channel; it is "
                           "blocked for a while. Refer to the response header for details "
                           "on when you can make another request.", headers=limited)

    # ------------------------------------------------------------------ Team Chat
    def on_post_message(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "sendaChatMessage")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "Request body must be a JSON object.")
        text = body.get("message")
        file_ids = body.get("file_ids") or []
        if not isinstance(text, str) or (not text and not file_ids):
            raise invalid("message", "message is required.")
        if len(text) > MAX_MESSAGE:
            raise invalid("message", f"The message must be at most {MAX_MESSAGE} characters.")
        kind, target = self._target(body, sender)
        at_items = body.get("at_items") or []
        self._check_at_items(at_items, text, kind)
        rich_text = self._check_rich_text(body.get("rich_text") or [], text)
        cards = self._check_cards(body.get("interactive_cards") or [])
        files = self._take_files(file_ids, sender)
        reply = self._check_reply(body.get("reply_main_message_id"), kind, target, sender)
        fields: dict[str, Any] = {"sender": sender, "kind": kind, "target": target, "message": text,
                  "at_items": at_items, "reply_main_message_id": reply, "files": files,
                  "rich_text": rich_text, "interactive_cards": cards}
        when = body.get("scheduled_time")
        if when is not None:
            due = self._check_schedule(when)
            draft = Draft(id=str(uuid.uuid4()), sender=sender, due=due,
                          created=self.world.now(), fields=fields)
            with self.world.lock:
                self.world.drafts[draft.id] = draft
            self._release_files(file_ids, files)
            return json_response({"id": draft.id}, 201)  # the draft's id (the spec)
        self._rate_channel(kind, target)
        msg = self.world.add_message(**fields)
        self._release_files(file_ids, files)
        return json_response({"id": msg.id}, 201)

    def _check_schedule(self, when: Any) -> float:
        if not isinstance(when, str) or not _ISO_Z.match(when):
            raise invalid("scheduled_time", "must be yyyy-MM-dd'T'HH:mm:ss'Z'")
        due = dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc).timestamp()
        ahead = due - self.world.now()
        if not SCHEDULE_MIN < ahead <= SCHEDULE_MAX:
            raise ApiError(400, 300, "Invalid parameter: send_time. The time requirement is "
                                     "more than 30 minutes from now and within 180 days.")
        return due

    def _check_rich_text(self, items: Any, text: str) -> list[dict[str, Any]]:
        if not isinstance(items, list):
            raise invalid("rich_text", "must be an array")
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise invalid("rich_text", "each item must be an object")
            start, end = item.get("start_position"), item.get("end_position")
            kind, attr = item.get("format_type"), item.get("format_attr")
            if not (type(start) is int and type(end) is int and 0 <= start < end <= len(text)):
                raise invalid("rich_text.start_position",
                              "positions must lie within the message, start before end")
            if kind not in RICH_TYPES:
                raise invalid("rich_text.format_type", f"must be one of {', '.join(RICH_TYPES)}")
            ok: Callable[[str], bool] | None = {
                  "FontSize": lambda a: a in ("s", "m", "l"),
                  "FontColor": lambda a: bool(re.fullmatch(r"[0-9A-Fa-f]{6}", a)),
                  "BackgroundColor": lambda a: bool(re.fullmatch(r"[0-9A-Fa-f]{6}", a)),
                  "LeftIndent": lambda a: a.isdigit() and int(a) > 0,
                  "Paragraph": lambda a: a in ("h1", "h2", "h3"),
                  "AddLink": lambda a: bool(re.match(r"^https?://[^\s]+$", a))}.get(kind)
            if ok is not None and not (isinstance(attr, str) and ok(attr)):
                raise invalid("rich_text.format_attr", f"not a valid value for {kind}")
            if kind == "AddLink" and "\n" in text[start:end]:
                raise invalid("rich_text", "AddLink cannot cross lines")
            out.append({k: item[k] for k in ("start_position", "end_position", "format_type",
                                             "format_attr") if k in item})
        return out

    def _check_cards(self, cards: Any) -> list[dict[str, Any]]:
        if not isinstance(cards, list) or len(cards) > 5:
            raise invalid("interactive_cards", "at most 5 cards")
        out = []
        for card in cards:
            raw = card.get("card_json") if isinstance(card, dict) else None
            try:
                parsed = json.loads(raw) if isinstance(raw, str) else None
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("content"), dict):
                raise ApiError(400, 5405, "Failed to create interactive card.")
            out.append({"card_id": secrets.token_hex(8), "card_json": raw})
        return out

    def _take_files(self, file_ids: Any, sender: str) -> list[dict[str, Any]]:
        if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
            raise invalid("file_ids", "must be an array of file ids")
        if len(file_ids) > 6:
            raise invalid("file_ids", "At most 6 files.")
        with self.world.lock:
            missing = [f for f in file_ids if f not in self.world.uploads
                       or self.world.uploads[f]["owner"] != sender]
            if missing:
                raise ApiError(400, 5404, f"File does not exist: {', '.join(missing)}.")
            return [{k: v for k, v in self.world.uploads[f].items() if k != "owner"}
                    for f in file_ids]

    def _release_files(self, file_ids: list[str], files: list[dict[str, Any]]) -> None:
        with self.world.lock:  # an uploaded file is sent once
            for fid in file_ids:
                self.world.uploads.pop(fid, None)

    def _check_at_items(self, items: Any, text: str, kind: str) -> None:
        if not isinstance(items, list):
            raise invalid("at_items", "must be an array")
        spans: list[tuple[int, int]] = []
        for item in items:
            if not isinstance(item, dict):
                raise invalid("at_items", "each item must be an object")
            at_type, start, end = (item.get("at_type"), item.get("start_position"),
                                   item.get("end_position"))
            if at_type not in (1, 2) or isinstance(at_type, bool):
                raise invalid("at_items.at_type", "must be 1 or 2")
            if not (type(start) is int and type(end) is int and 0 <= start <= end < len(text)):
                raise invalid("at_items.start_position",
                              "positions must lie within the message")
            if text[start] != "@":
                raise invalid("at_items.start_position", "must point at '@'")
            if any(not (end < s or start > e) for s, e in spans):
                raise invalid("at_items", "mentions overlap")
            spans.append((start, end))
            if at_type == 2 and kind != "to_channel":
                raise invalid("at_items.at_type", "Mentioning all is only for channels.")
            if at_type == 1:
                contact = item.get("at_contact")
                if not isinstance(contact, str) or not contact:
                    raise invalid("at_items.at_contact", "required when at_type is 1")
                if self.world.find_user(contact) is None:
                    raise ApiError(404, 1001, f"User does not exist: {contact}.")

    def _own_message(self, mid: str, sender: str, kind: str, target: str) -> Message:
        """The message ``mid`` in this conversation, sent by ``sender`` (edit, delete)."""
        with self.world.lock:
            msg = self.world.messages.get(mid)
        probe = Message(id="", sender=sender, kind=kind, target=target, message="",
                        at_items=[], reply_main_message_id=None, timestamp=0)
        if msg is None or msg.conversation() != probe.conversation():
            raise ApiError(400, 300, f"Message does not exist: {mid}.")
        if msg.sender != sender:
            raise ApiError(400, 200, "Only the sender of this message can make updates.")
        return msg

    def on_edit_message(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "editMessage")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "Request body must be a JSON object.")
        kind, target = self._target(body, sender)
        text = body.get("message")
        if not isinstance(text, str) or not text or len(text) > MAX_MESSAGE:
            raise invalid("message", f"must be 1 to {MAX_MESSAGE} characters")
        rich_text = self._check_rich_text(body.get("rich_text") or [], text)
        with self.world.lock:
            msg = self._own_message(mid, sender, kind, target)
            msg.message = text
            msg.at_items = []
            msg.rich_text = rich_text
            msg.edited = self.world.now()
        return no_content()

    def on_get_message(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "getChatMessage")
        conv = self._conversation_for(request, sender)
        with self.world.lock:
            msg = self.world.messages.get(mid)
        if msg is None or msg.conversation() != conv:
            raise ApiError(400, 300, f"Message does not exist: {mid}.")
        out = self._message_json(msg)
        for r in out.get("reactions", []):  # this answer names ids, not senders
            users = [self.world.users[u] for u in msg.reactions[r["emoji"]]]
            r.pop("senders", None)
            r["user_ids"] = [u.id for u in users]
            r["member_ids"] = [u.member_id for u in users]
        out.pop("status", None)
        return json_response(out)

    def on_delete_message(self, request: Request, token: Token, user: str, mid: str
                          ) -> Response:
        sender = self._sender(token, user)
        self._need(token, "deleteChatMessage")
        body = {k: request.args[k] for k in ("to_contact", "to_channel") if k in request.args}
        if not body:
            raise ApiError(400, 300, 'You must provide the "to_contact" or the "to_channel" '
                                     'query parameter.')
        kind, target = self._target(body, sender)
        with self.world.lock:
            self._own_message(mid, sender, kind, target)
            self.world.delete_message(mid)
        return no_content()

    def on_react(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "reactMessage")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "Request body must be a JSON object.")
        action, emoji = body.get("action"), body.get("emoji")
        if action not in ("add", "remove"):
            raise invalid("action", "must be add or remove")
        if not isinstance(emoji, str) or not re.fullmatch(r"U\+[0-9A-Fa-f]{4,6}", emoji):
            raise invalid("emoji", "must be a unicode value such as U+1F600")
        kind, target = self._target(body, sender)
        conv = Message(id="", sender=sender, kind=kind, target=target, message="",
                       at_items=[], reply_main_message_id=None, timestamp=0).conversation()
        with self.world.lock:
            msg = self.world.messages.get(mid)
            if msg is None or msg.conversation() != conv:
                raise ApiError(400, 300, f"Message does not exist: {mid}")
            who = msg.reactions.setdefault(emoji.upper().replace("U+", "U+"), [])
            if action == "add" and sender not in who:
                who.append(sender)
            elif action == "remove" and sender in who:
                who.remove(sender)
            msg.reactions = {e: u for e, u in msg.reactions.items() if u}
        return no_content()

    def on_list_schedule(self, request: Request, token: Token) -> Response:
        me = self._sender(token, "me") if token.kind == "user" else None
        self._need(token, "listScheduledMessages")
        if not (request.args.get("to_channel") or request.args.get("to_contact")):
            # the spec: "You must provide this parameter or the to_contact parameter"
            raise ApiError(400, 300, "Must provide either to_contact or to_channel parameter.")
        probe = None
        if me is not None and (request.args.get("to_channel") or request.args.get("to_contact")):
            probe = self._conversation_for(request, me)
        channel = request.args.get("to_channel")
        if me is None and channel is not None and channel not in self.world.channels:
            raise ApiError(404, 4130, f"Channel does not exist: {channel}.")
        with self.world.lock:
            drafts = sorted(self.world.drafts.values(), key=lambda d: d.created)
        items = []
        for d in drafts:
            if me is not None and d.sender != me:
                continue
            f = d.fields
            if me is None and channel is not None and (f["kind"], f["target"]) != (
                    "to_channel", channel):
                continue
            if probe is not None and Message(id="", timestamp=0, **{
                    k: f[k] for k in ("sender", "kind", "target", "message", "at_items",
                                      "reply_main_message_id")}).conversation() != probe:
                continue
            item: dict[str, Any] = {"draft_id": d.id, "create_date": iso(d.created),
                                    "scheduled_time": iso(d.due), "message": f["message"]}
            if f["at_items"]:
                item["at_items"] = f["at_items"]
            if f["rich_text"]:  # this listing's schema requires format_attr on every item
                # (UNVERIFIED what Zoom puts there for Bold and the like: "" here)
                item["rich_text"] = [{"format_attr": "", **r} for r in f["rich_text"]]
            if f["reply_main_message_id"]:
                item["reply_main_message_id"] = f["reply_main_message_id"]
            if f["files"]:
                item["files"] = [{k: x[k] for k in ("file_id", "file_name", "file_size")}
                                 for x in f["files"]]
            items.append(item)
        return self._paged(request, "messages", items, 10, 50)

    def on_delete_schedule(self, request: Request, token: Token, draft: str) -> Response:
        me = self._sender(token, "me") if token.kind == "user" else None
        self._need(token, "deleteScheduleMessage")
        if not (request.args.get("to_channel") or request.args.get("to_contact")):
            raise ApiError(400, 300, "Must provide either to_contact or to_channel parameter.")
        with self.world.lock:
            found = self.world.drafts.get(draft)
            if found is None or (me is not None and found.sender != me):
                raise ApiError(400, 5404, f"Invalid draft id: {draft}.")
            del self.world.drafts[draft]
        return no_content()

    def _conversation_for(self, request: Request, sender: str) -> tuple[str, ...]:
        body = {k: request.args.get(k) for k in ("to_contact", "to_channel")
                if request.args.get(k) is not None}
        kind, target = self._target(body, sender)
        probe = Message(id="", sender=sender, kind=kind, target=target, message="",
                        at_items=[], reply_main_message_id=None, timestamp=0)
        return probe.conversation()

    def on_incoming_hook(self, request: Request, hook: str) -> Response:
        """Zoom's Incoming Webhook app: ``Authorization: <verification token>``, JSON
        ``{"content": {"head": {"text"}, "body": [{"type": "message", "text"}]}}`` with
        ``?format=full``, else the body is the text. Posts into the hook's channel."""
        found = self.world.webhooks.get(hook)
        if found is None:
            response = json_response({"code": 404, "message": "Webhook not found"}, 404)
        elif request.headers.get("Authorization", "") != found[1]:
            response = json_response({"code": 401, "message": "Invalid verification token"},
                                     401)
        else:
            text = self._hook_text(request)
            if isinstance(text, Response):
                response = text
            else:
                with self.world.lock:
                    self.world.add_message(sender="incoming-webhook", kind="to_channel",
                                           target=found[0], message=text, at_items=[],
                                           reply_main_message_id=None)
                response = Response(status=200)
        self._log(request, response.status_code, "handled")
        return response

    @staticmethod
    def _hook_text(request: Request) -> str | Response:
        def bad(why: str) -> Response:
            return json_response({"code": 400, "message": why}, 400)

        if request.args.get("format") != "full":
            text = request.get_data(as_text=True)
            return text if text.strip() and len(text) <= 4000 else bad("Invalid message")
        try:
            content = json.loads(request.get_data(as_text=True))["content"]
            head = str(content.get("head", {}).get("text", ""))
            parts = [str(b["text"]) for b in content["body"] if b.get("type") == "message"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return bad("Invalid request body: content.body is required")
        body = "\n".join(parts)
        if not parts or len(head) > 250 or len(body) > 4000:
            return bad("Invalid message: head at most 250 characters, body 1 to 4000")
        return head + "\n" + body if head and body != head else (head or body)

    def _message_json(self, msg: Message) -> dict[str, Any]:
        sender = self.world.sender(msg.sender)
        out: dict[str, Any] = {
            "id": msg.id, "message": msg.message, "sender": sender.email,
            # the spec's name, and the name earlier sandboxes served
            "send_member_id": sender.member_id, "sender_member_id": sender.member_id,
            "sender_display_name": sender.display_name,
            "date_time": iso_ms(msg.timestamp), "timestamp": int(msg.timestamp * 1000),
            "at_items": msg.at_items, "status": "Edited" if msg.edited else "Normal",
        }
        if msg.rich_text:
            out["rich_text"] = msg.rich_text
        if msg.interactive_cards:
            out["interactive_cards"] = msg.interactive_cards
        if msg.reactions:
            out["reactions"] = [
                {"emoji": e, "total_count": len(u), "senders": [
                    {"user_id": x, "member_id": self.world.users[x].member_id} for x in u]}
                for e, u in msg.reactions.items()]
        if msg.reply_main_message_id:
            out["reply_main_message_id"] = msg.reply_main_message_id
            main = self.world.messages.get(msg.reply_main_message_id)
            if main is not None:
                out["reply_main_message_timestamp"] = int(main.timestamp * 1000)
        if msg.files:
            out["files"] = [{k: f[k] for k in ("file_id", "file_name", "file_size")}
                            for f in msg.files]
        return out

    def on_list_messages(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "getChatMessages")
        conv = self._conversation_for(request, sender)
        start, end = self._window(request)
        msgs = [m for m in self.world.conversation_messages(conv)
                if start <= m.timestamp < end]
        if request.args.get("exclude_child_message") == "true":
            msgs = [m for m in msgs if m.reply_main_message_id is None]
        items = [self._message_json(m) for m in reversed(msgs)]
        return self._paged(request, "messages", items, 10, 50)

    def on_thread(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "retrieveThread")
        since = request.args.get("from")
        if not since:
            raise ApiError(400, 4233, "The `from` cannot be blank.")
        if not _ISO_Z.match(since):
            raise invalid("from", "must be yyyy-MM-dd'T'HH:mm:ss'Z'")
        raw_limit = request.args.get("limit", "10")
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise invalid("limit", "must be an integer from 1 to 100")
        if int(raw_limit) > 100:
            raise ApiError(400, 4231, "The 'limit' cannot exceed 100.")
        sort = request.args.get("sort", "desc")
        if sort not in ("asc", "desc"):
            raise ApiError(400, 4232, "The `sort` can only be passed `asc` or `desc`.")
        if "to_channel" in request.args and not request.args["to_channel"]:
            raise ApiError(400, 4234, "The `to_channel` cannot be blank.")
        conv = self._conversation_for(request, sender)
        with self.world.lock:
            main = self.world.messages.get(mid)
        if main is None or main.conversation() != conv:
            raise ApiError(404, 4131, f"Message does not exist: {mid}.")
        if main.reply_main_message_id:
            main = self.world.messages[main.reply_main_message_id]
        since_ts = self._time_arg(request, "from") or 0.0
        until_ts = self._time_arg(request, "to")
        until_ts = self.world.now() + 1.0 if until_ts is None else until_ts + 1.0
        thread = [m for m in self.world.conversation_messages(conv)
                  if (m.id == main.id or m.reply_main_message_id == main.id)
                  and since_ts <= m.timestamp < until_ts]
        thread.sort(key=lambda m: m.timestamp)  # "sorted by the reply time"
        if sort == "desc":
            thread.reverse()
        out = []
        for m in thread[:int(raw_limit)]:
            u = self.world.sender(m.sender)
            out.append({"msg_id": m.id, "message": m.message,
                        "is_reply": m.reply_main_message_id is not None,
                        "timestamp": int(m.timestamp * 1000), "sender_user_id": u.id,
                        "sender_email": u.email, "sender_display_name": u.display_name,
                        "files": [{k: f[k] for k in ("file_id", "file_name", "file_size")}
                                  for f in m.files]})
        return json_response({"total": len(thread), "messages": out})

    def on_my_channels(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "getChannels")
        items = [{"id": c.id, "jid": c.jid, "name": c.name, "type": c.type}
                 for c in self.world.channels.values() if sender in c.members]
        return self._paged(request, "channels", items, 10, 1000, total=True)

    def on_members(self, request: Request, token: Token, cid: str) -> Response:
        self._need(token, "listUserLevelChannelMembers")
        channel = self.world.channels.get(cid)
        if channel is None:
            raise ApiError(404, 4130, f"Channel does not exist: {cid}.")
        items = []
        for i, uid in enumerate(channel.members):
            u = self.world.users[uid]
            items.append({"id": u.id, "email": u.email, "first_name": u.first_name,
                          "last_name": u.last_name, "member_id": u.member_id,
                          "name": u.display_name, "role": "owner" if i == 0 else "member"})
        return self._paged(request, "members", items, 30, 100, total=True)

    def _contact_json(self, u: Any) -> dict[str, Any]:
        return {"id": u.id, "email": u.email, "first_name": u.first_name,
                "last_name": u.last_name, "member_id": u.member_id}

    def on_my_contacts(self, request: Request, token: Token) -> Response:
        me = self._sender(token, "me")
        self._need(token, "getUserContacts")
        items = [self._contact_json(u) for u in self.world.users.values() if u.id != me]
        return self._paged(request, "contacts", items, 10, 50)

    def on_search_contacts(self, request: Request, token: Token) -> Response:
        self._need(token, "searchCompanyContacts")
        key = (request.args.get("search_key") or "").strip().lower()
        if not key:
            raise invalid("search_key", "search_key is required.")
        items = []
        for u in self.world.users.values():
            if key in u.email or key in u.display_name.lower():
                items.append({**self._contact_json(u), "display_name": u.display_name,
                              "contact_type": 1, "user_status": "active"})
        return self._paged(request, "contacts", items, 1, 25)

    def on_users_me(self, request: Request, token: Token, user: str) -> Response:
        me = self._sender(token, user)
        self._need(token, "getUser")
        u = self.world.users[me]
        return json_response({"id": u.id, "email": u.email, "first_name": u.first_name,
                              "last_name": u.last_name, "display_name": u.display_name,
                              "account_id": self.world.account_id, "type": 2,
                              "status": "active"})

    # ------------------------------------------------------------------ files
    def on_file_redirect(self, request: Request, user: str) -> Response:
        # Zoom's file API hands uploads to a regional file server.
        location = request.url.replace("/file/v2/", "/file-us01/v2/", 1)
        return Response(status=307, headers={"Location": location})

    def on_post_file(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "sendChatFile")
        uploads = request.files.getlist("files")
        if len(uploads) != 1:
            raise invalid("files", "Send exactly one file.")
        upload = uploads[0]
        content = upload.read()
        name = upload.filename or "file"
        kind_limit = "image" if name.lower().endswith((".png", ".jpg", ".jpeg", ".gif")) \
            else "other"
        if len(content) > FILE_LIMITS[kind_limit]:
            raise ApiError(400, 300, "The file is too large.")
        form = {k: v for k, v in request.form.items()}
        contact = form.get("to_contact")
        if contact is not None and "@" in contact:
            raise invalid("to_contact", "The file API takes a user id or member id, not an "
                                        "email.")
        kind, target = self._target(form, sender)
        reply = self._check_reply(form.get("reply_main_message_id"), kind, target, sender)
        self._rate_channel(kind, target)
        file_id = secrets.token_urlsafe(16)
        with self.world.lock:
            self.world.files[file_id] = content
        msg = self.world.add_message(sender=sender, kind=kind, target=target, message="",
                                     at_items=[], reply_main_message_id=reply,
                                     files=[{"file_id": file_id, "file_name": name,
                                             "file_size": len(content),
                                             "content_type": upload.mimetype}])
        return json_response({"id": msg.id}, 201)

    def on_upload_file(self, request: Request, token: Token, user: str) -> Response:
        """Upload a file to send later in a message's ``file_ids`` (at most 6)."""
        sender = self._sender(token, user)
        self._need(token, "uploadAChatFile")
        uploads = request.files.getlist("file")
        if len(uploads) != 1:
            raise invalid("file", "Send exactly one file, in the form field 'file'.")
        upload = uploads[0]
        content = upload.read()
        name = upload.filename or "file"
        limit = FILE_LIMITS["image" if name.lower().endswith((".png", ".jpg", ".jpeg",
                                                              ".gif")) else "other"]
        if len(content) > limit:
            raise ApiError(400, 300, f"Maximum file size exceeded: {limit}")
        file_id = secrets.token_urlsafe(16)
        with self.world.lock:
            self.world.files[file_id] = content
            self.world.uploads[file_id] = {"file_id": file_id, "file_name": name,
                                           "file_size": len(content),
                                           "content_type": upload.mimetype, "owner": sender}
        return json_response({"id": file_id}, 201)

    # ------------------------------------------------------------------ OAuth
    def on_oauth_token(self, request: Request) -> Response:
        from werkzeug.datastructures import Authorization

        self.world.count("token_requests")
        # Zoom takes the parameters in the query string or the form body
        grant = request.form.get("grant_type") or request.args.get("grant_type")
        auth = Authorization.from_header(request.headers.get("Authorization"))
        handler = self.extra_grants.get(grant or "")
        if grant == "account_credentials":
            if (auth is None or auth.type != "basic" or auth.username != self.world.client_id
                    or auth.password != self.world.client_secret):
                return json_response({"reason": "Invalid client_id or client_secret",
                                      "error": "invalid_client"}, 401)
            if (request.form.get("account_id") or request.args.get("account_id")
                    ) != self.world.account_id:
                return json_response({"reason": "Invalid account_id",
                                      "error": "invalid_request"}, 400)
            token = self.world.issue_token(kind="account", user_id=None,
                                           client_id=auth.username,
                                           lifetime=self.config["token_lifetime"],
                                           scopes=S2S_SCOPES)
            self.world.count("account_credentials")
            return json_response({"access_token": token.value, "token_type": "bearer",
                                  "expires_in": int(self.config["token_lifetime"]),
                                  "scope": token.scopes, "api_url": request.host_url
                                  .rstrip("/")})
        if handler is not None:
            return handler(request, auth)
        return json_response({"reason": "Unsupported grant type",
                              "error": "unsupported_grant_type"}, 400)

    # ------------------------------------------------------------------ the page and JSON
    def on_page(self, request: Request) -> Response:
        from .page import render

        return Response(render(self.world), mimetype="text/html")

    def on_sb_state(self, request: Request) -> Response:
        w = self.world
        return json_response({
            "account_id": w.account_id, "me": w.me_id,
            "users": [self._contact_json(u) | {"display_name": u.display_name}
                      for u in w.users.values()],
            "channels": [{"id": c.id, "name": c.name, "members": c.members}
                         for c in w.channels.values()],
            "counters": dict(w.counters), "faults_fired": dict(self.faults.fired),
            "rate_limited": self.limiter.rejected,
            "app_scopes": self.config["app_scopes"].split(),
            "scope_requests": list(self.scope_requests),
        })

    def received(self, *, with_contents: bool = False) -> list[dict[str, Any]]:
        """Every message received, oldest first (with file bytes if asked)."""
        with self.world.lock:
            msgs = [self.world.messages[mid] for mid in self.world.order]
        out = []
        for m in msgs:
            item = self._message_json(m)
            item.update({"kind": m.kind, "target": m.target, "sender_id": m.sender,
                         "edited": m.edited is not None})
            if with_contents:
                item["file_contents"] = [self.world.files[f["file_id"]] for f in m.files]
            out.append(item)
        return out

    def configure(self, options: dict[str, Any]) -> None:
        """Change limits (``qps``, ``daily``, ``channel_limits``) or timings
        (``token_lifetime``, ``page_token_ttl``, ``device_interval``,
        ``device_expires_in``) or the app's scopes (``app_scopes``: tokens issued from
        then on carry them, as after changing an app's scopes and logging in again)
        while running."""
        options = dict(options)
        if "app_scopes" in options:
            from .oauth import app_scopes

            self.config["app_scopes"] = app_scopes(options.pop("app_scopes"))
        for key in ("qps", "daily", "channel_limits"):
            if key in options:
                setattr(self.limiter, key, options.pop(key))
        for key in ("token_lifetime", "page_token_ttl", "device_interval",
                    "device_expires_in"):
            if key in options:
                self.config[key] = float(options.pop(key))
        if options:
            raise TypeError(f"unknown option(s): {', '.join(options)}")

    def reply_as(self, body: dict[str, Any]) -> Message:
        """A message from another seeded user (``as``: email, id or first name), to a
        channel or to a contact, optionally in a thread: how a colleague answers."""
        who = str(body.get("as") or "")
        user = self.world.find_user(who) or next(
            (u for u in self.world.users.values() if u.first_name.lower() == who.lower()),
            None)
        if user is None:
            raise ApiError(404, 1001, f"User does not exist: {who}.")
        text = body.get("message")
        if not isinstance(text, str) or not text or len(text) > MAX_MESSAGE:
            raise invalid("message", f"must be 1 to {MAX_MESSAGE} characters")
        target_body = {k: body[k] for k in ("to_channel", "to_contact") if body.get(k)}
        if "to_contact" not in target_body and "to_channel" not in target_body:
            target_body["to_contact"] = self.world.me_id
        kind, target = self._target(target_body, user.id)
        reply = self._check_reply(body.get("reply_main_message_id") or None, kind, target,
                                  user.id)
        return self.world.add_message(sender=user.id, kind=kind, target=target, message=text,
                                      at_items=[], reply_main_message_id=reply)

    def on_sb_reply(self, request: Request) -> Response:
        try:
            msg = self.reply_as(request.get_json(silent=True) or {})
        except ApiError as err:
            return json_response({"code": err.code, "message": err.message}, err.status)
        return json_response({"id": msg.id}, 201)

    def on_sb_reply_form(self, request: Request) -> Response:
        """The reply box on the sandbox page (a person answering as a colleague)."""
        form = request.form
        body: dict[str, Any] = {"as": form.get("as"), "message": form.get("message"),
                                "reply_main_message_id": form.get("reply_main_message_id")}
        conv = form.get("conversation", "")
        kind, _, target = conv.partition(":")
        if kind == "channel":
            body["to_channel"] = target
        elif kind == "contact":
            body["to_contact"] = target
        try:
            self.reply_as(body)
        except ApiError as err:
            from html import escape

            return Response(f"<p>Not sent: {escape(err.message)}</p><a href='/'>back</a>",
                            status=400, mimetype="text/html")
        return Response(status=303, headers={"Location": "/"})

    def on_sb_clock(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        try:
            posted = self.world.advance(float(body.get("advance", 0)))
        except (TypeError, ValueError):
            return json_response({"error": "advance: a number of seconds"}, 400)
        return json_response({"now": iso(self.world.now()),
                              "posted": [m.id for m in posted]})

    def on_sb_file(self, request: Request, fid: str) -> Response:
        with self.world.lock:
            content = self.world.files.get(fid)
            meta = next((f for m in self.world.messages.values() for f in m.files
                         if f["file_id"] == fid), None)
        if content is None or meta is None:
            return json_response({"code": 404, "message": "Not Found"}, 404)
        kind = meta.get("content_type") or "application/octet-stream"
        if not kind.startswith("image/"):
            kind = "application/octet-stream"
        return Response(content, mimetype=kind,
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Disposition": "inline" if kind.startswith(
                                     "image/") else "attachment"})

    def on_sb_messages(self, request: Request) -> Response:
        return json_response({"messages": self.received()})

    def on_sb_requests(self, request: Request) -> Response:
        with self.world.lock:
            return json_response({"requests": list(self.request_log)})

    def on_sb_faults(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("clear"):
            self.faults.clear()
            return json_response({"ok": True})
        kind = body.pop("kind", None)
        try:
            self.faults.add(kind, **body)
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"ok": True})

    def on_sb_config(self, request: Request) -> Response:
        try:
            self.configure(request.get_json(silent=True) or {})
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"ok": True})
