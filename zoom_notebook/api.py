"""``send()``: the one way a message leaves this package (scripts, magics, form, alerts)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Union

from .config import Settings
from .display import Card, Shown, preview
from .errors import ValidationError, ZoomNotebookError
from .message import MAX_FILES, MAX_MESSAGE_LENGTH, Mentions, build_message, check_id, sendable
from .people import channel_name, is_channel_name, resolve_channel
from .secret import known_secrets, redact, redact_bytes

FileSpec = Union[str, "os.PathLike[str]", tuple[str, bytes]]

_lock = threading.Lock()
#: one client per credential source and sender (not per settings value: changing
#: ``%config ZoomChat.default_channel`` must not make a second client and token)
_clients: dict[tuple[Any, ...], Any] = {}
#: (api_url, sender, "to_channel"|"to_contact", target) -> main message id of the thread
#: this process last sent to in that conversation.
#: conversation -> what "last" replies to there: the main message id of the thread this
#: process last sent to, or the outbox item it last queued there (an alert not out yet:
#: "last" is then decided when that item is delivered)
_last_main: dict[tuple[str, str, str, str], Any] = {}
#: seconds a direct send replying to a still-queued alert waits for it
LAST_WAIT = 30.0
#: draft id -> (kind, target) of scheduled messages this process made (Zoom lists drafts
#: without their conversation, and needs it to cancel one)
_scheduled_where: dict[str, tuple[str, str]] = {}


@dataclasses.dataclass
class Attachment:
    """A file sent with a message: its id, or why it could not be sent."""

    name: str
    id: str | None = None
    error: str | None = None


@dataclasses.dataclass(repr=False)
class SentMessage(Shown):
    """A delivered message (or, with ``dry_run``, the one that would have been sent)."""

    id: str | None
    message: str
    to_channel: str | None = None
    to_contact: str | None = None
    reply_to: str | None = None
    mentions: list[str] = dataclasses.field(default_factory=list)
    attachments: list[Attachment] = dataclasses.field(default_factory=list)
    user: str = "me"
    dry_run: bool = False
    request: dict[str, Any] | None = None
    #: the channel's name, when this kernel knows it (no call to Zoom is made for it)
    channel_name: str | None = None
    #: the person's name, when known (the compose form knows it)
    contact_name: str | None = None
    #: sent through Zoom's Incoming Webhook app (how the receipt names it)
    webhook: str | None = None
    #: a scheduled message: when Zoom will post it (aware UTC); ``id`` is then its draft id
    scheduled_for: dt.datetime | None = None
    #: a scheduled message cancelled with ``cancel``
    cancelled: bool = False
    _settings: Settings | None = dataclasses.field(default=None, compare=False)

    @property
    def target(self) -> str:
        if self.webhook:
            return self.webhook
        if self.to_channel:
            return (f"channel #{self.channel_name} ({self.to_channel})" if self.channel_name
                    else f"channel {self.to_channel}")
        if self.contact_name and self.contact_name != self.to_contact:
            return f"{self.contact_name} ({self.to_contact})"
        return f"contact {self.to_contact}"

    def cancel(self) -> "SentMessage":
        """Cancel a scheduled message before it is due (``DELETE /chat/messages/schedule/
        {draftId}``). Cancelling twice is harmless; a message already posted cannot be
        cancelled (delete it in Zoom)."""
        if self.scheduled_for is None:
            raise ValidationError("cancel", "only a scheduled message (sent with at=) can be "
                                            "cancelled; this one was posted at once")
        if self.cancelled or self.dry_run:
            self.cancelled = True
            return self
        if not self.id:
            raise ValidationError("cancel", "Zoom gave no draft id for this message; cancel "
                                            "it in Zoom, or find it with zn.scheduled()")
        if not (self.to_channel or self.to_contact):
            raise ValidationError("cancel", "Zoom needs the conversation to cancel a scheduled "
                                            "message: list it with zn.scheduled(to_channel=...) "
                                            "or zn.scheduled(to_contact=...)")
        settings = self._settings or Settings.load()
        require("schedule", settings)
        _client_for(settings).delete_scheduled(self.id, to_channel=self.to_channel,
                                               to_contact=self.to_contact)
        self.cancelled = True
        with _lock:
            _scheduled_where.pop(self.id, None)
        return self

    @property
    def thread_id(self) -> str | None:
        """The main message of the thread this message belongs to."""
        return self.reply_to or self.id

    def card(self) -> Card:
        rows = [("to", self.target)]
        if self.scheduled_for is not None:
            rows.append(("scheduled", _local_time(self.scheduled_for)
                         + (" — CANCELLED" if self.cancelled else "")))
        if self.reply_to:
            rows.append(("thread", f"reply to {self.reply_to}"))
        if self.mentions:
            rows.append(("mentions", ", ".join(self.mentions)))
        for att in self.attachments:
            rows.append(("file", f"{att.name} ({att.id})" if att.id
                         else f"{att.name} — NOT SENT: {att.error}"))
        if self.webhook:
            rows.append(("note", "an Incoming Webhook post has no id: it cannot be edited, "
                                 "replied to or read back"))
        else:
            rows.append(("id", self.id or ("(dry run: nothing sent)" if self.dry_run
                                           else "(delivered; Zoom gave no message id)")))
        if self.dry_run:
            import json

            body = preview(self.message) if self.request is None else (
                "the exact request:\n" + json.dumps(self.request, ensure_ascii=False,
                                                    indent=2))
            return Card(f"Dry run — would send to {self.target} (nothing sent)", rows,
                        body=body, tone="info")
        if self.scheduled_for is not None:
            if self.cancelled:
                return Card(f"Cancelled: the message to {self.target}", rows,
                            body=preview(self.message), tone="info")
            return Card(f"✓ Scheduled for {self.target}, {_local_time(self.scheduled_for)}",
                        rows, body=preview(self.message))
        return Card(f"✓ Sent to {self.target}", rows, body=preview(self.message))


def _local_time(when: dt.datetime) -> str:
    """``when`` as this machine's local time, with the UTC time beside it."""
    local = when.astimezone()
    shown = local.strftime("%a %d %b %Y %H:%M %Z").strip()
    if local.utcoffset() == dt.timedelta(0):
        return shown if shown.endswith(("UTC", "GMT")) else shown + " (UTC)"
    return shown + " (" + when.astimezone(dt.timezone.utc).strftime("%H:%M UTC") + ")"


def credential_key(settings: Settings) -> tuple[Any, ...]:
    """What identifies a client: where it sends, and the credential source it uses."""
    urls = (settings.api_url, settings.file_api_url, settings.user)
    if settings.access_token:
        return ("access-token", settings.access_token, *urls)
    if settings.account_id:
        return ("server-to-server", settings.oauth_url, settings.account_id,
                settings.client_id, settings.client_secret, *urls)
    return ("user", str(settings.home_dir), settings.oauth_url, settings.client_id,
            settings.client_secret, *urls)


def zoom_now(settings: Settings) -> float:
    """Zoom's clock, as far as this process knows it: ours plus the skew its client saw
    in Zoom's ``Date`` header (a kernel whose clock is 2 minutes behind would otherwise
    ask for "30 minutes" that Zoom counts as 28). Ours before any answer from Zoom."""
    with _lock:
        client = _clients.get(credential_key(settings))
    skew = getattr(client, "skew", None)
    return time.time() + (skew if isinstance(skew, (int, float)) else 0.0)


def _client_for(settings: Settings) -> Any:
    from .client import ZoomChatClient

    key = credential_key(settings)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = ZoomChatClient.from_settings(settings)
            _clients[key] = client
        return client


def client(settings: Settings | None = None) -> Any:
    """The shared ``ZoomChatClient`` for the current settings."""
    return _client_for(settings or Settings.load())


def require(feature: str, settings: Settings | None = None) -> None:
    """Raise ``MissingScope`` before any request when the login
    is known not to allow ``feature`` (``scopes.FEATURES``). Nothing is said when there is
    no login yet (sending says that) or in a dry run."""
    from .errors import AuthError, ConnectFailed, MissingScope

    settings = settings or Settings.load()
    if settings.dry_run:
        return
    try:
        _client_for(settings).require(feature)
    except MissingScope:
        raise
    except (AuthError, ConnectFailed):
        # no login, or its scopes cannot be learned now (a Server-to-Server token endpoint
        # out of reach): not known, so not blocked; the send says what is wrong, or keeps
        # an alert in the outbox
        return


def forget_clients() -> None:
    """Drop the shared clients (after login or logout, and in tests)."""
    from . import people

    with _lock:
        _clients.clear()
    people.forget()


def _read_checked(path: Path) -> bytes:
    """A file's bytes, its size checked before it is read (SECURITY.md 35): a regular
    file within Zoom's limit, never a device or a pipe."""
    from .client import file_limit

    try:
        st = os.stat(path)
    except OSError as exc:
        raise ValidationError("files", f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError("files", f"{path} is not a regular file (a device, a pipe or "
                                       "a folder cannot be sent)")
    limit = file_limit(path.name)
    if st.st_size > limit:
        raise ValidationError("files", f"{path.name} is {st.st_size} bytes; Zoom allows "
                                       f"{limit // (1024 * 1024)} MB for this kind of file")
    try:
        with open(path, "rb") as fh:
            content = fh.read(limit + 1)  # it may have grown since
    except OSError as exc:
        raise ValidationError("files", f"cannot read {path}: {exc.strerror}") from None
    return content


def _read_files(files: Iterable[FileSpec]) -> list[tuple[str, bytes]]:
    from .client import check_file

    out = []
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    if isinstance(files, (bytes, bytearray)) or not hasattr(files, "__iter__"):
        raise ValidationError("files", f"give a list of paths or (name, bytes) pairs, not "
                                       f"{type(files).__name__}")
    for spec in files:
        if isinstance(spec, tuple):
            if len(spec) != 2 or not isinstance(spec[0], str) or not isinstance(
                    spec[1], (bytes, bytearray, memoryview)):
                raise ValidationError("files", "a file is a path or a (name, bytes) pair")
            name, content = spec
        elif isinstance(spec, (str, os.PathLike)):
            path = Path(spec)
            content = _read_checked(path)
            name = path.name
        else:
            raise ValidationError("files", f"a file is a path or a (name, bytes) pair, not "
                                           f"{type(spec).__name__}")
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("files", f"the file name {name!r} is not valid text: "
                                           "rename the file") from None
        check_file(name, content)
        out.append((name, bytes(content)))
    if len(out) > MAX_FILES:
        raise ValidationError("files", f"{len(out)} files: Zoom takes at most {MAX_FILES} in "
                                       "one message (file_ids); send the others in a "
                                       "second message, or zip them into one")
    return out


def _conversation(settings: Settings, user: str, kind: str, target: str
                  ) -> tuple[str, str, str, str]:
    return (settings.api_url, user, kind, target)


@dataclasses.dataclass
class Draft:
    """A checked message, ready to deliver (what ``prepare`` returns)."""

    payload: dict[str, Any]
    files: list[tuple[str, bytes]]
    kind: str
    target: str
    sender: str
    user: str | None
    reply_to: str | None
    settings: Settings
    #: "last" is an alert still in the outbox: the reply goes into its thread once it is
    #: out (the outbox links them; ``deliver`` waits for it, bounded)
    reply_item: Any = None

    def receipt(self) -> SentMessage:
        if self.kind == "to_webhook":
            from .webhook import where

            return SentMessage(id=None, message=self.payload["message"],
                               webhook=where(self.settings))
        mention_names = [item.get("at_contact", "all")
                         for item in self.payload.get("at_items", [])]
        channel = self.target if self.kind == "to_channel" else None
        contact = self.target if self.kind == "to_contact" else None
        from .schedule import parse_zoom_time

        when = self.payload.get("scheduled_time")
        return SentMessage(id=None, message=self.payload["message"], to_channel=channel,
                           to_contact=contact, reply_to=self.reply_to,
                           mentions=mention_names, user=self.sender,
                           channel_name=channel and channel_name(channel, self.settings),
                           scheduled_for=parse_zoom_time(when) if when else None,
                           _settings=self.settings)

    @property
    def where(self) -> str:
        """The target as a person reads it: ``#name`` when known, else the id or email."""
        if self.kind == "to_webhook":
            from .webhook import where

            return where(self.settings)
        name = self.kind == "to_channel" and channel_name(self.target, self.settings)
        return f"#{name}" if name else self.target


def fit_text(text: str, budget: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut ``text`` to ``budget`` characters, keeping its first line (what happened) and
    the end of the rest (the latest output, the error)."""
    if len(text) <= budget:
        return text
    first, _, rest = text.partition("\n")
    first = first[: budget // 2]
    room = budget - len(first) - 2
    return first + "\n…" + (rest[-room:] if room > 0 else "")


def _build(message: str, fit: bool, **fields: Any) -> dict[str, Any]:
    """``build_message``; with ``fit``, a text too long for Zoom (mentions put in front
    included) is cut to fit instead of refused."""
    if not fit:
        return build_message(message, **fields)
    text = fit_text(message) if isinstance(message, str) else message
    for _ in range(4):
        try:
            return build_message(text, **fields)
        except ValidationError as exc:
            if exc.field != "message" or not isinstance(text, str) or len(text) < 2:
                raise
            built = build_message(text[:1], **fields)  # what the mentions in front take
            over = len(built["message"]) - 1
            text = fit_text(message, max(1, MAX_MESSAGE_LENGTH - over))
    return build_message(text, **fields)


def prepare(
    message: str,
    *,
    to_contact: str | None = None,
    to_channel: str | None = None,
    reply_to: str | None = None,
    mentions: Mentions = None,
    files: Iterable[FileSpec] = (),
    user: str | None = None,
    settings: Settings | None = None,
    fit: bool = False,
    via: str | None = None,
    markdown: bool = False,
    at: Any = None,
    headline: str | None = None,
) -> Draft:
    """Check everything and build the request, with no token or network work (except a
    channel given by name, ``"#data-science"``: the channel list is read once and cached).

    ``at``: schedule it (see ``zoom_notebook.schedule``): an aware datetime, a
    timedelta, ``"2h"``, ``"90m"`` or an ISO time, 30 min to 180 days ahead.

    ``headline``: ``"ok"`` or ``"failed"``: the first line is bold, green or red (the
    status colour of alerts; the one place this package adds ``FontColor``).

    ``markdown``: ``message`` is Markdown the user wrote, sent as Zoom rich text
    (``zoom_notebook.markdown``); text this package made (captured output, alerts)
    is never parsed.

    This is the one place a message is built, for every entry point: ``zn.send``, the
    magics, the form, the CLI, alerts, ``notify`` and ``progress``. ``fit``: cut a text
    that is too long (alerts) instead of raising ``ValidationError``.
    """
    settings = settings or Settings.load()
    if user is not None:
        check_id("user", user)
    # what the package posts or attaches never carries a secret it knows (SECURITY.md 36):
    # a cell or a batch run that printed its environment is redacted here, for every entry
    secrets = known_secrets(settings)
    if secrets and isinstance(message, str):
        message = redact(message, secrets)
    if secrets and files:
        files = [(name, redact_bytes(blob, secrets)) for name, blob in _read_files(files)]
    if via is not None:
        return _prepare_webhook(message, via, settings, fit=fit, to_contact=to_contact,
                                to_channel=to_channel, reply_to=reply_to, mentions=mentions,
                                files=files, at=at)
    if fit and isinstance(message, str):  # an alert's text is made, not typed: never refused
        message = sendable(message)
    if is_channel_name(to_channel):  # the one network call prepare may make (cached)
        to_channel = resolve_channel(str(to_channel), settings)
    rich: list[dict[str, Any]] = []
    if markdown and isinstance(message, str):
        from .markdown import to_rich_text

        message, rich = to_rich_text(message)
    if headline is not None and isinstance(message, str):
        # styled as it will be cut (a first line over half of Zoom's limit is shortened):
        # the colour never runs past the headline into the "…" (issue 24 finding 13)
        rich += headline_style(fit_text(message) if fit else message, headline)
    payload = _build(message, fit, to_contact=to_contact, to_channel=to_channel,
                     reply_to=None if reply_to == "last" else reply_to, mentions=mentions,
                     rich_text=rich or None)
    blobs = _read_files(files)
    if at is not None:
        from .schedule import due_time, zoom_time

        payload["scheduled_time"] = zoom_time(due_time(at, now=lambda: zoom_now(settings)))
    kind = "to_channel" if "to_channel" in payload else "to_contact"
    target = payload[kind]
    sender = user or settings.user
    resolved_reply = reply_to
    reply_item = None
    if reply_to == "last":
        with _lock:
            last = _last_main.get(_conversation(settings, sender, kind, target))
        if not isinstance(last, str) and last is not None:  # an alert this process queued
            if last.status == "sent" and last.message_id:
                last = last.request_payload().get("reply_main_message_id") or last.message_id
            elif last.status in ("queued", "inflight"):
                reply_item, last = last, None
            else:
                raise ValidationError("reply_to", f"'last' is the thread of an alert to "
                                                  f"{target} that was not delivered "
                                                  f"({last.status}): pass a message id, or "
                                                  "send it again first")
        if last is None and reply_item is None:
            raise ValidationError("reply_to", f"'last' replies in the thread this kernel last "
                                              f"sent to in {target}, and nothing was sent "
                                              "there yet: send one message first (it starts "
                                              "the thread), or pass a message id")
        if last is not None:
            payload["reply_main_message_id"] = last
        resolved_reply = last
    return Draft(payload, blobs, kind, target, sender, user, resolved_reply, settings,
                 reply_item)


#: the status colours of alert headlines (Zoom's FontColor takes RGB without '#')
STATUS_COLOURS = {"ok": "1A7F37", "failed": "CF222E"}


def headline_style(text: str, tone: str) -> list[dict[str, Any]]:
    """Bold and the status colour over the first line of ``text`` (positions in code
    points, end exclusive: see ``zoom_notebook.markdown``)."""
    if tone not in STATUS_COLOURS:
        raise ValidationError("headline", "'ok' or 'failed'")
    end = len(text.split("\n", 1)[0])
    if not end:
        return []
    return [{"start_position": 0, "end_position": end, "format_type": "Bold"},
            {"start_position": 0, "end_position": end, "format_type": "FontColor",
             "format_attr": STATUS_COLOURS[tone]}]


def _prepare_webhook(message: str, via: str, settings: Settings, *, fit: bool,
                     **cannot: Any) -> Draft:
    """A draft for Zoom's Incoming Webhook: text only (see ``zoom_notebook.webhook``)."""
    from . import webhook

    if via != "webhook":
        raise ValidationError("via", "'webhook' (Zoom's Incoming Webhook app) or None "
                                     "(your login)")
    for field, value in cannot.items():
        if value:
            raise ValidationError(field, webhook.CANNOT[field])
    webhook.check_settings(settings)
    text = webhook.check_text(sendable(message) if fit and isinstance(message, str)
                              else message, fit)
    return Draft({"message": text, "to_webhook": webhook.TARGET}, [], "to_webhook",
                 webhook.TARGET, settings.user, None, None, settings)


def latest_thread(*, to_channel: str | None = None, to_contact: str | None = None,
                  settings: Settings | None = None) -> str:
    """The thread of your newest message in a conversation, read back from Zoom (its main
    message id): what ``-r last`` means where nothing was sent before in this process,
    as in a shell command. Needs ``team_chat:read:list_user_messages``."""
    from .resolve import sender_matches

    settings = settings or Settings.load()
    if is_channel_name(to_channel):
        to_channel = resolve_channel(str(to_channel), settings)
    zoom = client(settings)
    try:
        me = zoom.me()
    except ZoomNotebookError:  # no user:read:user: the newest message is taken, as in resolve
        me = None
    for count, msg in enumerate(zoom.list_messages(to_channel=to_channel,
                                                   to_contact=to_contact)):
        if count >= 50:
            break
        if msg.get("id") and sender_matches(msg, me):
            return str(msg.get("reply_main_message_id") or msg["id"])
    raise ValidationError("reply_to", "'last': you have no recent message in "
                                      f"{to_channel or to_contact} to reply to; send one "
                                      "first, or pass a message id")


def deliver(draft: Draft) -> SentMessage:
    """Send a prepared message (and its files) now; return the receipt.

    An unknown outcome is resolved by reading the conversation back (see
    ``zoom_notebook.resolve``) before ``OutcomeUnknown`` is raised: found, it
    is delivered; provably absent, it is sent again; unreadable, it is raised.
    """
    from .resolve import send_resolved

    sent = draft.receipt()
    if draft.kind == "to_webhook":  # no id, no files, nothing to read back
        from . import webhook

        if draft.settings.dry_run:
            sent.dry_run = True
            sent.request = {"method": "POST", "url": "ZOOM_WEBHOOK_URL?format=full",
                            "json": webhook.body(draft.payload["message"])}
        else:
            webhook.post(draft.payload["message"], draft.settings)
        return sent
    settings = draft.settings
    if settings.dry_run:
        sent.dry_run = True
        payload = dict(draft.payload)
        if draft.files:
            payload["file_ids"] = [f"<file id of {name}>" for name, _ in draft.files]
        sent.request = {"method": "POST", "url": f"{settings.api_url}/chat/users/"
                        f"{draft.sender}/messages", "json": payload}
        if draft.files:
            sent.request["uploads_first"] = [
                {"method": "POST", "url": f"{settings.file_api_url}/chat/users/"
                 f"{draft.sender}/files", "file": name, "bytes": len(blob)}
                for name, blob in draft.files]
        sent.attachments = [Attachment(name) for name, _ in draft.files]
        return sent
    client = _client_for(settings)
    _recover_once()
    sent.user = draft.user or client.user
    payload = draft.payload
    if draft.reply_item is not None:  # "last" is an alert still on its way: wait for it
        main = _wait_for_thread(draft.reply_item, draft.target)
        payload = {**payload, "reply_main_message_id": main}
        sent.reply_to = main
    if draft.files:  # uploaded first, then ONE message refers to them (file_ids)
        sent.attachments = upload_files(client, draft.files, user=draft.user)
        payload = {**payload, "file_ids": [att.id for att in sent.attachments]}
    outcome = send_resolved(client, payload, user=draft.user)
    if outcome.state != "sent":
        assert outcome.error is not None
        raise outcome.error
    sent.id = outcome.message_id
    if sent.scheduled_for is not None:
        if sent.id:
            with _lock:
                _scheduled_where[sent.id] = (draft.kind, draft.target)
            _remember_place(settings, draft.kind, draft.target)
    elif sent.id is not None:
        remember_thread(draft, sent.id)
    return sent


def upload_files(client: Any, files: list[tuple[str, bytes]], *, user: str | None
                 ) -> list[Attachment]:
    """Upload each file for ``file_ids``. Any failure is raised before the message is
    sent: it arrives whole (text and files) or not at all, and the error says why
    (``%%zoomchat`` then keeps the text in the outbox and says the files are not kept)."""
    if files:
        client.require("files")
    return [Attachment(name, client.upload_file(name, content, user=user))
            for name, content in files]


#: The conversations this home scheduled messages in (``zn.scheduled()`` with no target
#: lists these: Zoom lists scheduled messages of one conversation at a time).
PLACES_FILE = "scheduled-places.json"
MAX_PLACES = 50


def _places(settings: Settings) -> list[tuple[str, str]]:
    import json

    path = settings.home_dir / PLACES_FILE
    try:
        with open(path, "rb") as fh:
            raw = json.loads(fh.read(64 * 1024))  # bounded (SECURITY.md 39)
    except (OSError, ValueError):
        raw = []
    with _lock:
        mine = list(_scheduled_where.values())
    out: list[tuple[str, str]] = []
    for kind, target in [*mine, *(tuple(p) for p in raw if isinstance(p, list)
                                  and len(p) == 2)]:
        if kind in ("to_channel", "to_contact") and isinstance(target, str) and (
                (kind, target) not in out):
            out.append((kind, target))
    return out[-MAX_PLACES:]


def _remember_place(settings: Settings, kind: str, target: str) -> None:
    import json

    from .store import atomic_write

    places = [p for p in _places(settings) if p != (kind, target)] + [(kind, target)]
    try:
        settings.home_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(settings.home_dir / PLACES_FILE,
                     json.dumps([list(p) for p in places[-MAX_PLACES:]]).encode("utf-8"))
    except OSError:  # only a convenience for zn.scheduled(): the message is scheduled
        pass


def scheduled(*, to_channel: str | None = None, to_contact: str | None = None,
              settings: Settings | None = None) -> list[SentMessage]:
    """This user's scheduled messages, soonest first (``GET /chat/messages/schedule``).

    Zoom lists them one conversation at a time: name it with ``to_channel`` or
    ``to_contact``; with neither, the conversations this home folder has scheduled
    messages in are listed (a ValidationError when there are none). Each has
    ``.scheduled_for`` and ``.cancel()``."""
    settings = settings or Settings.load()
    if to_channel and to_contact:
        raise ValidationError("to_channel", "name one conversation: to_channel or to_contact")
    if to_channel or to_contact:
        return _scheduled_in(settings, to_channel, to_contact)
    places = _places(settings)
    if not places:
        raise ValidationError("to_channel", "Zoom lists scheduled messages one conversation "
                                            "at a time, and this home has scheduled none: "
                                            "name it with to_channel= or to_contact=")
    require("schedule", settings)
    out: dict[str | None, SentMessage] = {}
    for kind, target in places:
        for sent in _scheduled_in(settings, *((target, None) if kind == "to_channel"
                                               else (None, target))):
            out.setdefault(sent.id, sent)
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return sorted(out.values(), key=lambda m: m.scheduled_for or far)


def _scheduled_in(settings: Settings, to_channel: str | None, to_contact: str | None
                  ) -> list[SentMessage]:
    from .schedule import parse_zoom_time

    if is_channel_name(to_channel):
        to_channel = resolve_channel(str(to_channel), settings)
    require("schedule", settings)
    zoom = _client_for(settings)
    out = []
    for item in zoom.list_scheduled(to_channel=to_channel, to_contact=to_contact):
        did = str(item.get("draft_id") or "")
        with _lock:
            known = _scheduled_where.get(did)
        kind, target = known or (("to_channel", to_channel) if to_channel else
                                 ("to_contact", to_contact))
        channel = target if kind == "to_channel" else None
        out.append(SentMessage(
            id=did or None, message=str(item.get("message", "")), to_channel=channel,
            to_contact=target if kind == "to_contact" else None,
            reply_to=item.get("reply_main_message_id"), user=zoom.user,
            channel_name=channel and channel_name(channel, settings),
            scheduled_for=parse_zoom_time(str(item.get("scheduled_time", ""))),
            attachments=[Attachment(str(f.get("file_name")), str(f.get("file_id")))
                         for f in item.get("files") or []],
            _settings=settings))
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    return sorted(out, key=lambda m: m.scheduled_for or far)


def room(probe: Draft) -> int:
    """Characters left for the text once the mentions of ``probe`` (a draft of one
    character) are put in front of it."""
    return MAX_MESSAGE_LENGTH - (len(probe.payload["message"]) - 1)


_recovering = False


def _recover_once() -> None:
    """The first send of a process also delivers what a dead one left (in the
    background; see ``zoom_notebook.outbox``)."""
    global _recovering
    if not _recovering:
        _recovering = True
        from .outbox import recover_soon

        recover_soon()


def thread_key(draft: Draft) -> tuple[str, str, str, str]:
    """The conversation key ``reply_to="last"`` looks up for this draft."""
    return _conversation(draft.settings, draft.sender, draft.kind, draft.target)


def remember_thread(draft: Draft, message_id: str) -> None:
    """Record the thread of a delivered message for ``reply_to="last"``."""
    note_thread(thread_key(draft), draft.reply_to or message_id)
    if draft.reply_to:
        note_posted_reply(draft.settings.home_dir, message_id)


#: Replies this package posted (ids), in this process and, for the other processes of
#: this home folder, in ``posted-replies``: ``zn.ask`` never takes one for an answer.
POSTED_FILE = "posted-replies"
_posted: set[str] = set()


def note_posted_reply(home: Path, message_id: str) -> None:
    with _lock:
        _posted.add(message_id)
    try:
        fd = os.open(home / POSTED_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                     | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            os.write(fd, f"{message_id}\n".encode())  # one short line: whole or nothing
        finally:
            os.close(fd)
    except OSError:  # only shared with other processes when the folder allows it
        pass


def posted_replies(settings: Settings) -> set[str]:
    """The ids of replies this package posted: this process's, and the newest of this
    home's (the file's tail, bounded)."""
    from .store import read_regular

    with _lock:
        out = set(_posted)
    try:
        tail = read_regular(settings.home_dir / POSTED_FILE, 64 * 1024, tail=True)
    except OSError:
        return out
    return out | {line for line in tail.decode("utf-8", "replace").split() if line}


def note_thread(key: Iterable[str], main_id: str) -> None:
    """``key`` (see ``thread_key``) last sent into the thread of ``main_id``."""
    a, b, c, d = key
    with _lock:
        _last_main[(a, b, c, d)] = main_id


def note_queued(key: Iterable[str], item: Any) -> None:
    """An alert the user started was queued for ``key``: "last" there follows it (into
    its thread once it is out), whatever is delivered before it."""
    a, b, c, d = key
    with _lock:
        _last_main[(a, b, c, d)] = item


def settle_thread(key: Iterable[str], item: Any, main_id: str) -> None:
    """The outbox delivered ``item`` into the thread of ``main_id``: if "last" there
    still follows it, it now names that thread (a later send is not overwritten)."""
    a, b, c, d = key
    with _lock:
        if _last_main.get((a, b, c, d)) is item:
            _last_main[(a, b, c, d)] = main_id


def _wait_for_thread(item: Any, target: str) -> str:
    """The thread of a queued alert once it is out (at most ``LAST_WAIT`` seconds)."""
    deadline = time.monotonic() + LAST_WAIT
    while item.status in ("queued", "inflight") and time.monotonic() < deadline:
        time.sleep(0.02)
    if item.status != "sent" or not item.message_id:
        state = ("still on its way" if item.status in ("queued", "inflight")
                 else item.status)
        raise ValidationError("reply_to", f"'last' is an alert to {target} that is {state} "
                                          "(not delivered): nothing was sent; pass a "
                                          "message id, or try again once it is out")
    return str(item.request_payload().get("reply_main_message_id") or item.message_id)


def send(
    message: str,
    *,
    to_contact: str | None = None,
    to_channel: str | None = None,
    reply_to: str | None = None,
    mentions: Mentions = None,
    files: Iterable[FileSpec] = (),
    user: str | None = None,
    settings: Settings | None = None,
    via: str | None = None,
    markdown: bool = True,
    at: Any = None,
) -> SentMessage:
    """Send a Team Chat message and return its ``SentMessage`` once delivered.

    Exactly one of ``to_contact`` (email or user id) / ``to_channel`` (channel id).
    ``reply_to`` is a message id, or ``"last"`` for the thread this process last sent
    to in that conversation. ``mentions``: emails, ``"all"``, or a dict of display name
    -> email. ``files``: paths or ``(name, bytes)`` pairs, sent into the same thread.
    Everything is validated before any token or network work. ``via="webhook"`` posts
    through Zoom's Incoming Webhook app (``ZOOM_WEBHOOK_URL``/``ZOOM_WEBHOOK_TOKEN``) to
    the channel it was connected in: text only, no target, mentions, thread or files.
    ``markdown`` (default): ``**bold**``, ``*italic*``, ``~~struck~~``, ``#`` headings,
    lists, quotes and links are sent as Zoom rich text; ``markdown=False`` sends the text
    as is. ``files`` are uploaded first and arrive in the same message (at most 6).
    ``at``: schedule it instead of posting now — an aware ``datetime``, a ``timedelta``,
    ``"2h"``, ``"90m"`` or ``"2026-12-24T09:00Z"``, 30 min to 180 days ahead; the
    receipt has ``.scheduled_for`` and ``.cancel()``.
    """
    return deliver(prepare(message, to_contact=to_contact, to_channel=to_channel,
                           reply_to=reply_to, mentions=mentions, files=files, user=user,
                           settings=settings, via=via, markdown=markdown, at=at))


def _forget_threads() -> None:
    """Forget which thread was last sent to (tests)."""
    with _lock:
        _last_main.clear()
        _scheduled_where.clear()
