"""``ZoomChatClient``: the typed Team Chat REST client.

Every HTTP call goes through ``ZoomChatClient.request``, which alone owns base URLs,
timeouts, the auth header, error mapping, pacing and retries. Retries follow
SECURITY.md 17-19: automatic only when the request cannot have been delivered
(connect-phase errors; 429/503 within a time budget; one 401 after a forced token
refresh). A read timeout, a reset after sending, or 500/502/504 on a request that
changes something raises ``OutcomeUnknown`` and is never re-sent automatically.
"""

from __future__ import annotations

import datetime as dt
import functools
import mimetypes
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping
from urllib.parse import quote, urljoin, urlsplit

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import (
    ConnectFailed,
    OutcomeUnknown,
    RateLimited,
    ValidationError,
    ZoomAPIError,
)
from zoom_notebook.core.message import check_id, check_target
from zoom_notebook.core.retry import POLICY, is_connect_error, server_time
from zoom_notebook.core.secret import Secret
from zoom_notebook.zoom.credentials import Credentials
from zoom_notebook.zoom.http import exchange

if TYPE_CHECKING:  # pragma: no cover
    import requests

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (seconds)
DEFAULT_RETRY_BUDGET = 30.0  # seconds a call may spend waiting to retry
#: seconds a call keeps trying when Zoom cannot even be connected to: nothing was sent,
#: so a person waiting on a cell or a form hears it soon (the outbox retries alerts)
CONNECT_BUDGET = 8.0
MAX_REDIRECTS = 5
MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_FILE_BYTES = 20 * 1024 * 1024
#: pages read of one listing at most (a listing that keeps answering a next page stops)
MAX_PAGES = 100
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif")
_UNKNOWN_STATUSES = (500, 502, 504)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ZoomChatClient:
    """Team Chat over a ``requests.Session``.

    ``credentials`` supplies access tokens (see ``zoom_notebook.credentials``).
    ``user`` is the sender path segment (``me`` for user OAuth; a user id or email for
    Server-to-Server); it defaults to the credentials' user.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        api_url: str = "https://api.zoom.us/v2",
        file_api_url: str = "https://file.zoom.us/v2",
        user: str | None = None,
        session: "requests.Session | None" = None,
        timeout: tuple[float, float] | None = None,
        retry_budget: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credentials = credentials
        self.api_url = api_url.rstrip("/")
        self.file_api_url = file_api_url.rstrip("/")
        self.user = user or credentials.default_user
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        # Read at construction so a program (or a test) can lower it for all clients.
        self.retry_budget = DEFAULT_RETRY_BUDGET if retry_budget is None else retry_budget
        #: Zoom's clock minus ours, from the last answer's ``Date`` (None before one)
        self.skew: float | None = None
        self._sleep = sleep
        self._clock = clock  # wall clock (only compared with Zoom's own Date header)
        self._session = session
        self._session_lock = threading.Lock()
        self._pause_until = 0.0  # monotonic time before which no request starts
        self._identities: dict[str, dict[str, str] | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> "ZoomChatClient":
        """A client for these settings, with the credential source they call for."""
        from zoom_notebook.zoom.credentials import from_settings

        return cls(from_settings(settings), api_url=settings.api_url,
                   file_api_url=settings.file_api_url, **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> "ZoomChatClient":
        """A client configured from the environment and the config file."""
        return cls.from_settings(Settings.load(), **kwargs)

    def granted(self) -> tuple[str, ...] | None:
        """The scopes Zoom granted this client's login (None: not known)."""
        return self.credentials.granted()

    def require(self, feature: str) -> None:
        """Raise ``MissingScope`` before any request of ``feature`` when this login is
        known not to have what it needs: from the scopes Zoom granted it, or, for
        Server-to-Server, from what Zoom offers such apps at all. With a bare
        ``ZOOM_ACCESS_TOKEN`` nothing is known and nothing is blocked."""
        from zoom_notebook.core.errors import MissingScope
        from zoom_notebook.core.scopes import (
            impossible_for,
            impossible_sentence,
            needed_sentence,
            to_add,
        )

        s2s = self.credentials.kind == "server-to-server"
        who = "A Server-to-Server login" if s2s else "This login"
        granted = self.granted()
        if granted is None:
            if s2s and impossible_for(feature, "admin"):
                raise MissingScope(feature, [], impossible_sentence(feature, "admin", who=who))
            return
        add, possible = to_add(feature, granted)
        if add or not possible:
            raise MissingScope(feature, add, needed_sentence(feature, granted, who=who))

    def __repr__(self) -> str:
        return (f"ZoomChatClient(api_url={self.api_url!r}, user={self.user!r}, "
                f"credentials={self.credentials.kind})")

    @property
    def session(self) -> "requests.Session":
        if self._session is None:
            with self._session_lock:
                if self._session is None:
                    import requests

                    session = requests.Session()
                    session.headers["User-Agent"] = "zoom-notebook"
                    session.trust_env = True
                    self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    # ------------------------------------------------------------------ the one path
    def request(
        self,
        method: str,
        path: str,
        *,
        base: str = "api",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Any = None,
        idempotent: bool | None = None,
        describe: tuple[str | None, str | None] = (None, None),
        budget: float | None = None,
    ) -> "requests.Response":
        """Send one API call; return the successful response or raise a typed error.

        ``base`` is ``"api"`` or ``"file"``. ``idempotent`` defaults to True for GET
        and PUT: those may be retried after an unknown outcome; a POST never is.
        ``describe`` is ``(target, text)`` for an ``OutcomeUnknown``. ``budget``: the
        caller's own deadline, in seconds from now: retries, waits and each read stop
        within it (a ``zn.ask(timeout=3)`` never waits the client's whole budget).
        """
        import requests

        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        url = (self.file_api_url if base == "file" else self.api_url) + path
        total = self.retry_budget if budget is None else max(0.0, min(self.retry_budget,
                                                                      budget))
        deadline = time.monotonic() + total
        connect_deadline = time.monotonic() + min(total, CONNECT_BUDGET)
        timeout = self.timeout if budget is None else (
            min(self.timeout[0], max(0.5, total)), min(self.timeout[1], max(0.5, total)))
        attempt = 0
        refreshed = False
        while True:
            self._wait_for_pace()
            token = self.credentials.access_token()
            try:
                resp = self._send(method, url, token, params=params, json=json,
                                  data=data, files=files, timeout=timeout)
            except requests.RequestException as exc:
                if is_connect_error(exc):
                    if self._backoff(attempt, connect_deadline):
                        attempt += 1
                        continue
                    host = urlsplit(url).netloc
                    raise ConnectFailed(
                        f"Could not connect to {host} ({type(exc).__name__}); nothing was "
                        "sent. Check your network and ZOOM_API_URL, then try again."
                    ) from None
                if idempotent and self._backoff(attempt, deadline):
                    attempt += 1
                    continue
                raise OutcomeUnknown(method, path, _reason(exc), target=describe[0],
                                     text=describe[1]) from None

            self._note_rate_headers(resp)
            status = resp.status_code
            if 200 <= status < 300:
                return resp
            body = _json_or_empty(resp)
            code = body.get("code") if isinstance(body.get("code"), int) else None
            if status in (429, 503):
                wait = POLICY.after_answer(resp.headers, body.get("message", ""), attempt,
                                           self._clock)
                if not wait.daily and time.monotonic() + wait.seconds <= deadline:
                    self._sleep(wait.seconds)
                    attempt += 1
                    continue
                if status == 429:
                    raise RateLimited(status, code, str(body.get("message") or "Rate limited"),
                                      _tracking_id(resp), retry_at=wait.retry_at,
                                      limit_type=wait.limit_type)
            if (status == 401 or code == 124) and not refreshed:
                refreshed = True
                if self.credentials.force_refresh(token):
                    continue
            if status in _UNKNOWN_STATUSES:
                if idempotent and self._backoff(attempt, deadline):
                    attempt += 1
                    continue
                if not idempotent:
                    raise OutcomeUnknown(method, path, f"Zoom answered HTTP {status}",
                                         target=describe[0], text=describe[1])
            raise ZoomAPIError(status, code, str(body.get("message") or resp.reason or ""),
                               _tracking_id(resp), errors=body.get("errors") or None)

    def _send(self, method: str, url: str, token: str, *,
              timeout: tuple[float, float] | None = None, **kwargs: Any
              ) -> "requests.Response":
        """One HTTP exchange, following redirects by hand so Authorization is kept
        (``requests`` drops it when the host changes; Zoom's file API redirects)."""
        origin = urlsplit(url)
        for _ in range(MAX_REDIRECTS + 1):
            headers = {}
            if self.may_carry_token(origin.geturl(), url):
                headers["Authorization"] = Secret(f"Bearer {token}")
            resp: requests.Response = exchange(functools.partial(
                self.session.request, method, url, headers=headers,
                timeout=timeout or self.timeout,
                allow_redirects=False, **kwargs), "talking to Zoom")
            if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                url = urljoin(url, resp.headers["Location"])
                kwargs["params"] = None  # the Location has the query already
                resp.close()
                continue
            return resp
        raise ZoomAPIError(310, None, "Too many redirects", None)

    def may_carry_token(self, origin: str, url: str) -> bool:
        """May the bearer token go to ``url`` (first asked for at ``origin``)? SECURITY.md
        32: the origin itself; Zoom's own hosts over https (the file API redirects to
        another one); the configured bases' hosts with their scheme; a loopback host to a
        loopback host (the sandbox: 127.0.0.1 -> localhost). Nowhere else."""
        target, first = urlsplit(url), urlsplit(origin)
        host = (target.hostname or "").lower()
        if (target.scheme, target.netloc) == (first.scheme, first.netloc):
            return True
        if target.scheme == "https" and (host == "zoom.us" or host.endswith(".zoom.us")):
            return True
        for base in (self.api_url, self.file_api_url):
            b = urlsplit(base)
            if (target.scheme, host, target.port) == (b.scheme, (b.hostname or "").lower(),
                                                       b.port):
                return True
        loopback = ("127.0.0.1", "localhost", "::1")
        return (first.hostname or "").lower() in loopback and host in loopback and (
            target.scheme in ("http", "https"))

    def _backoff(self, attempt: int, deadline: float) -> bool:
        delay = POLICY.backoff(attempt)
        if time.monotonic() + delay > deadline:
            return False
        self._sleep(delay)
        return True

    def _wait_for_pace(self) -> None:
        wait = self._pause_until - time.monotonic()
        if wait > 0:
            self._sleep(wait)

    def _note_rate_headers(self, resp: "requests.Response") -> None:
        when = server_time(resp.headers.get("Date"))
        if when is not None:  # how far Zoom's clock is from ours (read-back windows)
            self.skew = when.timestamp() - self._clock()
        # Zoom says how many calls remain in this second; at zero, wait for the next one.
        if resp.headers.get("X-RateLimit-Remaining") == "0" and (
                resp.headers.get("X-RateLimit-Type", "QPS").upper() == "QPS"):
            now = time.time()
            self._pause_until = time.monotonic() + (1.0 - (now % 1.0))

    # ------------------------------------------------------------------ helpers
    def _user_path(self, user: str | None) -> str:
        return quote(check_id("user", user or self.user), safe="@")

    def _pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        # Zoom's booleans are "true"/"false" in a query (requests would send "True").
        params = {k: (("true" if v else "false") if isinstance(v, bool) else v)
                  for k, v in params.items() if v is not None}
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self.request("GET", path, params=params).json()
            yield from body.get(key) or []
            token = body.get("next_page_token")
            if not token or not isinstance(token, str) or token in seen:
                return  # the end, or a server that would page forever
            seen.add(token)
            params = {**params, "next_page_token": token}

    # ------------------------------------------------------------------ Team Chat
    def send_message(self, payload: Mapping[str, Any], *, user: str | None = None
                     ) -> str | None:
        """POST a message body (see ``zoom_notebook.message.build_message``); return its
        id, or None when Zoom answered 201 without one (delivered, id unknown)."""
        target = payload.get("to_channel") or payload.get("to_contact")
        resp = self.request("POST", f"/chat/users/{self._user_path(user)}/messages",
                            json=dict(payload), describe=(target, payload.get("message")))
        return _new_id(resp)

    def edit_message(self, message_id: str, message: str, *, to_channel: str | None = None,
                     to_contact: str | None = None, user: str | None = None) -> None:
        """Replace the text of a message this user sent (PUT; Zoom answers 204)."""
        kind, target = check_target(to_contact, to_channel)
        mid = quote(check_id("message_id", message_id), safe="")
        self.request("PUT", f"/chat/users/{self._user_path(user)}/messages/{mid}",
                     json={"message": message, kind: target}, describe=(target, message))

    def send_file(self, name: str, content: bytes, *, to_channel: str | None = None,
                  to_contact: str | None = None, reply_to: str | None = None,
                  user: str | None = None) -> str:
        """Send one file into a conversation (and thread); return the message id."""
        kind, target = check_target(to_contact, to_channel)
        check_file(name, content)
        data = {kind: target}
        if reply_to is not None:
            data["reply_main_message_id"] = check_id("reply_to", reply_to)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        resp = self.request(
            "POST", f"/chat/users/{self._user_path(user)}/messages/files", base="file",
            data=data, files=[("files", (name, content, mime))], describe=(target, name),
        )
        return _new_id(resp) or ""

    def upload_file(self, name: str, content: bytes, *, user: str | None = None) -> str:
        """Upload one file for a message's ``file_ids`` (``POST /chat/users/{userId}/files``
        on the file API, not posted anywhere by itself); return its file id.

        Retried like a GET after an unknown outcome: a second upload makes at most an
        unused file on Zoom's side, never a second message."""
        check_file(name, content)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        resp = self.request(
            "POST", f"/chat/users/{self._user_path(user)}/files", base="file",
            params={"postToPersonalChat": "false"}, files=[("file", (name, content, mime))],
            idempotent=True, describe=(None, name),
        )
        file_id = _json_or_empty(resp).get("id")
        if not isinstance(file_id, str) or not file_id:
            raise ZoomAPIError(resp.status_code, None, f"Zoom accepted {name} but gave no "
                               "file id", None)
        return file_id

    def list_scheduled(self, *, to_channel: str | None = None, to_contact: str | None = None
                       ) -> Iterator[dict[str, Any]]:
        """This user's scheduled messages (``GET /chat/messages/schedule``, all pages),
        of one conversation when a target is given."""
        params: dict[str, Any] = {"page_size": 50}
        if to_channel is not None or to_contact is not None:
            kind, target = check_target(to_contact, to_channel)
            params[kind] = target
        return self._pages("/chat/messages/schedule", "messages", params)

    def delete_scheduled(self, draft_id: str, *, to_channel: str | None = None,
                         to_contact: str | None = None) -> None:
        """Cancel a scheduled message before it is due (Zoom answers 204)."""
        kind, target = check_target(to_contact, to_channel)
        did = quote(check_id("draft_id", draft_id), safe="")
        self.request("DELETE", f"/chat/messages/schedule/{did}", params={kind: target})

    def identity(self, user: str | None = None) -> dict[str, str] | None:
        """Who sends as ``user`` (``email``, ``id``, ``member_id``), to recognise our own
        messages when reading a conversation back; None if Zoom will not say (no
        ``user:read:user`` scope, classic ``user:read``). Looked up once per user."""
        who = user or self.user
        if who in self._identities:
            return self._identities[who]
        found: dict[str, str] | None
        if who != "me":
            found = {"email": who} if "@" in who else {"id": who}
        else:
            try:
                body = self.me()
                found = {k: str(body[k]) for k in ("email", "id", "member_id") if body.get(k)}
            except (ZoomAPIError, ConnectFailed, OutcomeUnknown, RateLimited):
                found = None
        self._identities[who] = found
        return found

    def me(self) -> dict[str, Any]:
        """The sending user (``GET /users/me``, or ``/users/{user}`` for a
        Server-to-Server sender)."""
        return dict(self.request("GET", f"/users/{self._user_path(None)}").json())

    def list_channels(self, *, user: str | None = None, page_size: int = 50
                      ) -> Iterator[dict[str, Any]]:
        """The channels the user belongs to (all pages)."""
        return self._pages(f"/chat/users/{self._user_path(user)}/channels", "channels",
                           {"page_size": page_size})

    def list_contacts(self, *, type: str = "company", page_size: int = 50
                      ) -> Iterator[dict[str, Any]]:
        """My contacts (``type`` company or external; user-managed apps only)."""
        return self._pages("/chat/users/me/contacts", "contacts",
                           {"type": type, "page_size": min(page_size, 50)})

    def search_contacts(self, search_key: str, *, page_size: int = 25
                        ) -> Iterator[dict[str, Any]]:
        """Company contacts matching ``search_key`` (name or email)."""
        key = check_text_nonempty("search_key", search_key)
        return self._pages("/contacts", "contacts",
                           {"search_key": key, "page_size": min(page_size, 25)})

    def list_channel_members(self, channel_id: str, *, page_size: int = 100
                             ) -> Iterator[dict[str, Any]]:
        """Members of a channel (for mention autocomplete)."""
        cid = quote(check_id("channel_id", channel_id), safe="")
        return self._pages(f"/chat/channels/{cid}/members", "members",
                           {"page_size": min(page_size, 100)})

    def list_messages(self, *, to_channel: str | None = None, to_contact: str | None = None,
                      page_size: int = 50, user: str | None = None,
                      **query: Any) -> Iterator[dict[str, Any]]:
        """Messages of one conversation, newest first (all pages)."""
        kind, target = check_target(to_contact, to_channel)
        return self._pages(f"/chat/users/{self._user_path(user)}/messages", "messages",
                           {kind: target, "page_size": min(page_size, 50), **query})

    def get_thread(self, message_id: str, *, to_channel: str | None = None,
                   to_contact: str | None = None, since: dt.datetime | None = None,
                   limit: int = 100, user: str | None = None) -> dict[str, Any]:
        """One thread: its main message and replies (``from`` defaults to 7 days ago)."""
        return dict(self.thread_response(message_id, to_channel=to_channel,
                                         to_contact=to_contact, since=since, limit=limit,
                                         user=user).json())

    def thread_response(self, message_id: str, *, to_channel: str | None = None,
                        to_contact: str | None = None, since: dt.datetime | None = None,
                        limit: int = 100, user: str | None = None, sort: str = "asc",
                        budget: float | None = None) -> "requests.Response":
        """``get_thread``'s response itself, with its rate-limit headers (the poller
        of ``zn.ask`` paces itself by them). ``sort="desc"``: the newest replies."""
        kind, target = check_target(to_contact, to_channel)
        mid = quote(check_id("message_id", message_id), safe="")
        since = since or (_utcnow() - dt.timedelta(days=7))
        params = {kind: target, "from": since.astimezone(dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"), "limit": limit, "sort": sort}
        return self.request(
            "GET", f"/chat/users/{self._user_path(user)}/messages/{mid}/thread",
            params=params, budget=budget)


def check_text_nonempty(field: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be non-empty text")
    return value.strip()


def file_limit(name: str) -> int:
    """Zoom's size limit for a file of this name: 16 MB for images, 20 MB for others."""
    return MAX_IMAGE_BYTES if name.lower().endswith(IMAGE_EXTENSIONS) else MAX_FILE_BYTES


def check_file(name: str, content: bytes) -> None:
    """Zoom's file limits: 16 MB for images, 20 MB for other files; a name is required."""
    if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name:
        raise ValidationError("files", "each file needs a plain file name (no folders)")
    if not isinstance(content, (bytes, bytearray)):
        raise ValidationError("files", f"{name}: content must be bytes")
    limit = file_limit(name)
    if len(content) > limit:
        raise ValidationError("files", f"{name} is {len(content)} bytes; Zoom allows "
                                       f"{limit // (1024 * 1024)} MB for this kind of file")


def _new_id(resp: "requests.Response") -> str | None:
    """The ``id`` of a 201 answer, or None when the body has none."""
    value = _json_or_empty(resp).get("id")
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def _json_or_empty(resp: "requests.Response") -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _tracking_id(resp: "requests.Response") -> str | None:
    return resp.headers.get("x-zm-trackingid") or resp.headers.get("X-Zm-Trackingid")


def _reason(exc: BaseException) -> str:
    import requests

    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer before the read timeout"
    return f"the connection failed after the request was sent ({type(exc).__name__})"
