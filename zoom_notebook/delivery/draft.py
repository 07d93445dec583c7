"""Building: ``prepare`` checks a message and turns it into a ``Draft`` — the ONLY code
that builds a payload (edits of alerts included: they go through ``prepare`` too). No token
or network work, except a channel given by name (the channel list, read once and cached)."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path
from typing import Any, Iterable, Union

from zoom_notebook.account.people import channel_name, is_channel_name, resolve_channel
from zoom_notebook.account.session import zoom_now
from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.message import (
    MAX_FILES,
    MAX_MESSAGE_LENGTH,
    Mentions,
    build_message,
    check_id,
    fit_text,
    sendable,
)
from zoom_notebook.core.secret import known_secrets, redact, redact_bytes
from zoom_notebook.delivery import state
from zoom_notebook.delivery.receipts import SentMessage

FileSpec = Union[str, "os.PathLike[str]", tuple[str, bytes]]


def _read_checked(path: Path) -> bytes:
    """A file's bytes, its size checked before it is read (SECURITY.md 35): a regular
    file within Zoom's limit, never a device or a pipe."""
    from zoom_notebook.zoom.client import file_limit

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
    from zoom_notebook.zoom.client import check_file

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
            from zoom_notebook.zoom.webhook import where

            return SentMessage(id=None, message=self.payload["message"],
                               webhook=where(self.settings))
        mention_names = [item.get("at_contact", "all")
                         for item in self.payload.get("at_items", [])]
        channel = self.target if self.kind == "to_channel" else None
        contact = self.target if self.kind == "to_contact" else None
        from zoom_notebook.core.schedule import parse_zoom_time

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
            from zoom_notebook.zoom.webhook import where

            return where(self.settings)
        name = self.kind == "to_channel" and channel_name(self.target, self.settings)
        return f"#{name}" if name else self.target


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
        from zoom_notebook.core.markdown import to_rich_text

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
        from zoom_notebook.core.schedule import due_time, zoom_time

        payload["scheduled_time"] = zoom_time(due_time(at, now=lambda: zoom_now(settings)))
    kind = "to_channel" if "to_channel" in payload else "to_contact"
    target = payload[kind]
    sender = user or settings.user
    resolved_reply = reply_to
    reply_item = None
    if reply_to == "last":
        last = state.last_in(state.conversation(settings, sender, kind, target))
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
    from zoom_notebook.zoom import webhook

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


def room(probe: Draft) -> int:
    """Characters left for the text once the mentions of ``probe`` (a draft of one
    character) are put in front of it."""
    return MAX_MESSAGE_LENGTH - (len(probe.payload["message"]) - 1)
