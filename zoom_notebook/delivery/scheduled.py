"""``zn.scheduled()``: this user's scheduled messages, read from Zoom one conversation at a
time (the conversations this home scheduled in are remembered in ``delivery.state``)."""

from __future__ import annotations

import datetime as dt

from zoom_notebook.account.people import channel_name, is_channel_name, resolve_channel
from zoom_notebook.account.session import _client_for, require
from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.delivery import state
from zoom_notebook.delivery.receipts import Attachment, SentMessage


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
    places = state.places(settings)
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
    from zoom_notebook.core.schedule import parse_zoom_time

    if is_channel_name(to_channel):
        to_channel = resolve_channel(str(to_channel), settings)
    require("schedule", settings)
    zoom = _client_for(settings)
    out = []
    for item in zoom.list_scheduled(to_channel=to_channel, to_contact=to_contact):
        did = str(item.get("draft_id") or "")
        known = state.scheduled_where(did)
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
