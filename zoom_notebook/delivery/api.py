"""``zoom_notebook.api``: the names of the delivery layer as 0.x had them in one module.
Nothing inside the package imports this (tests/test_layers.py): each name lives in
its room — ``account.session`` (the client per login), ``delivery.draft`` (building),
``delivery.sending`` (sending), ``delivery.state`` (what "last" means, posted replies),
``delivery.receipts`` and ``delivery.scheduled``."""

from __future__ import annotations

from zoom_notebook.account.session import client, credential_key, forget_clients, require, zoom_now
from zoom_notebook.core.message import fit_text
from zoom_notebook.delivery.draft import (
    STATUS_COLOURS,
    Draft,
    FileSpec,
    headline_style,
    prepare,
    room,
)
from zoom_notebook.delivery.receipts import Attachment, SentMessage
from zoom_notebook.delivery.scheduled import scheduled
from zoom_notebook.delivery.sending import LAST_WAIT, deliver, latest_thread, send, upload_files
from zoom_notebook.delivery.state import (
    _forget_threads,
    note_posted_reply,
    note_queued,
    note_thread,
    posted_replies,
    remember_thread,
    settle_thread,
    thread_key,
)

__all__ = [
    "LAST_WAIT", "STATUS_COLOURS", "Attachment", "Draft", "FileSpec", "SentMessage",
    "_forget_threads", "client", "credential_key", "deliver", "fit_text", "forget_clients",
    "headline_style", "latest_thread", "note_posted_reply", "note_queued", "note_thread",
    "posted_replies", "prepare", "remember_thread", "require", "room", "scheduled", "send",
    "settle_thread", "thread_key", "upload_files", "zoom_now",
]
