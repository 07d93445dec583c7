"""What this process remembers between sends: the thread "last" replies to in each
conversation (a main message id, or an alert still in the outbox), the replies this package
posted (shared with the other processes of the home folder), and where scheduled messages
went (Zoom lists them without their conversation)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any, Iterable

from zoom_notebook.core.config import Settings

_lock = threading.Lock()
#: (api_url, sender, "to_channel"|"to_contact", target) -> main message id of the thread
#: this process last sent to in that conversation.
#: conversation -> what "last" replies to there: the main message id of the thread this
#: process last sent to, or the outbox item it last queued there (an alert not out yet:
#: "last" is then decided when that item is delivered)
_last_main: dict[tuple[str, str, str, str], Any] = {}


#: draft id -> (kind, target) of scheduled messages this process made (Zoom lists drafts
#: without their conversation, and needs it to cancel one)
_scheduled_where: dict[str, tuple[str, str]] = {}


def conversation(settings: Settings, user: str, kind: str, target: str
                  ) -> tuple[str, str, str, str]:
    return (settings.api_url, user, kind, target)


def thread_key(draft: Any) -> tuple[str, str, str, str]:
    """The conversation key ``reply_to="last"`` looks up for this draft."""
    return conversation(draft.settings, draft.sender, draft.kind, draft.target)


def remember_thread(draft: Any, message_id: str) -> None:
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
    from zoom_notebook.core.store import read_regular

    with _lock:
        out = set(_posted)
    try:
        tail = read_regular(settings.home_dir / POSTED_FILE, 64 * 1024, tail=True)
    except OSError:
        return out
    return out | {line for line in tail.decode("utf-8", "replace").split() if line}


def last_in(key: tuple[str, str, str, str]) -> Any:
    """What "last" replies to in conversation ``key``: a main message id, an outbox item
    (an alert this process queued there), or None."""
    with _lock:
        return _last_main.get(key)


def note_scheduled(settings: Settings, draft_id: str, kind: str, target: str) -> None:
    """A message was scheduled in (kind, target): remember where, for listing and cancelling."""
    with _lock:
        _scheduled_where[draft_id] = (kind, target)
    _remember_place(settings, kind, target)


def scheduled_where(draft_id: str) -> tuple[str, str] | None:
    with _lock:
        return _scheduled_where.get(draft_id)


def forget_scheduled(draft_id: str) -> None:
    with _lock:
        _scheduled_where.pop(draft_id, None)


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


#: The conversations this home scheduled messages in (``zn.scheduled()`` with no target
#: lists these: Zoom lists scheduled messages of one conversation at a time).
PLACES_FILE = "scheduled-places.json"


MAX_PLACES = 50


def places(settings: Settings) -> list[tuple[str, str]]:
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
    from zoom_notebook.core.store import atomic_write

    known = [p for p in places(settings) if p != (kind, target)] + [(kind, target)]
    try:
        settings.home_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(settings.home_dir / PLACES_FILE,
                     json.dumps([list(p) for p in known[-MAX_PLACES:]]).encode("utf-8"))
    except OSError:  # only a convenience for zn.scheduled(): the message is scheduled
        pass


def _forget_threads() -> None:
    """Forget which thread was last sent to (tests)."""
    with _lock:
        _last_main.clear()
        _scheduled_where.clear()
