"""Delivering: the ONLY code that sends a draft now (``deliver``), and the one entry for a
message from code (``send``). An unknown outcome is settled by reading Zoom back
(``zoom.resolve``); queueing is the outbox's (``delivery.outbox``)."""

from __future__ import annotations

import time
from typing import Any, Iterable

from zoom_notebook.account.people import is_channel_name, resolve_channel
from zoom_notebook.account.session import _client_for, client
from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError, ZoomNotebookError
from zoom_notebook.core.message import Mentions
from zoom_notebook.delivery import state
from zoom_notebook.delivery.draft import Draft, FileSpec, prepare
from zoom_notebook.delivery.receipts import Attachment, SentMessage

#: seconds a direct send replying to a still-queued alert waits for it
LAST_WAIT = 30.0


def latest_thread(*, to_channel: str | None = None, to_contact: str | None = None,
                  settings: Settings | None = None) -> str:
    """The thread of your newest message in a conversation, read back from Zoom (its main
    message id): what ``-r last`` means where nothing was sent before in this process,
    as in a shell command. Needs ``team_chat:read:list_user_messages``."""
    from zoom_notebook.zoom.resolve import sender_matches

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
    from zoom_notebook.zoom.resolve import send_resolved

    sent = draft.receipt()
    if draft.kind == "to_webhook":  # no id, no files, nothing to read back
        from zoom_notebook.zoom import webhook

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
            state.note_scheduled(settings, sent.id, draft.kind, draft.target)
    elif sent.id is not None:
        state.remember_thread(draft, sent.id)
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


_recovering = False


def _recover_once() -> None:
    """The first send of a process also delivers what a dead one left (in the
    background; see ``zoom_notebook.outbox``)."""
    global _recovering
    if not _recovering:
        _recovering = True
        from zoom_notebook.delivery.outbox import recover_soon

        recover_soon()


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
