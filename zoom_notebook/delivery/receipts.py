"""Inline receipts: shown when a send starts, updated in place to "sent" or to the error
with what to do. HTML for the notebook, ``text/plain`` beside it. A receipt is plain
output: re-opening or re-rendering a saved notebook shows it and never sends again."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from zoom_notebook.core.config import Settings
from zoom_notebook.core.display import Card, Live, Shown, preview
from zoom_notebook.core.errors import ValidationError, ZoomAPIError

#: a receipt that can be updated in place (see ``zoom_notebook.display.Live``)
Receipt = Live


@dataclasses.dataclass(repr=False)
class Sending(Shown):
    """A message on its way."""

    target: str
    text: str
    note: str = "sending…"

    def card(self) -> Card:
        return Card(f"⏳ Zoom: {self.note} to {self.target}",
                    [("to", self.target)], body=preview(self.text), tone="pending")


@dataclasses.dataclass(repr=False)
class Failed(Shown):
    """A message that was not (or may not have been) delivered, and what to do."""

    target: str
    text: str
    error: str
    hint: str = ""
    code: int | None = None
    unknown: bool = False

    @classmethod
    def from_error(cls, exc: BaseException, target: str, text: str, kept: bool,
                   not_kept: str | None = None) -> "Failed":
        """``kept``: the outbox holds it; ``not_kept``: why it could not (receipts never
        claim "kept" for what was not written: SECURITY.md 29)."""
        from zoom_notebook.core.errors import OutcomeUnknown

        code = exc.code if isinstance(exc, ZoomAPIError) else None
        hint = ""
        if not kept and not_kept:
            hint = (f"It could NOT be kept in the outbox ({not_kept}): copy the message from "
                    "here if you need it.")
        if kept:
            hint = ("It may or may not have arrived, so it was not resent; it is kept in "
                    "the outbox: `%zoomchat outbox --unknown` resends it."
                    if isinstance(exc, OutcomeUnknown)
                    else "It is kept in the outbox: `%zoomchat outbox` retries it.")
        return cls(target, text, f"{type(exc).__name__}: {exc}", hint, code,
                   isinstance(exc, OutcomeUnknown))

    def card(self) -> Card:
        rows = [("to", self.target), ("error", self.error)]
        if self.hint:
            rows.append(("what now", self.hint))
        head = "? Zoom: outcome unknown" if self.unknown else "✗ Zoom: NOT sent"
        return Card(head, rows, body=preview(self.text),
                    tone="unknown" if self.unknown else "error")


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
        from zoom_notebook.account.session import _client_for, require
        from zoom_notebook.delivery import state

        settings = self._settings or Settings.load()
        require("schedule", settings)
        _client_for(settings).delete_scheduled(self.id, to_channel=self.to_channel,
                                               to_contact=self.to_contact)
        self.cancelled = True
        state.forget_scheduled(self.id)
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
