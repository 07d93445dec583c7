"""The outbox: background delivery for alerts, ``notify`` and ``progress``.

- ``put()`` is cheap (an in-memory append): the user's computation never waits for Zoom.
- One worker thread delivers in order per conversation; the client already retries
  what cannot have been delivered (SECURITY.md 18-19) and paces under Zoom's limits;
  the outbox adds later attempts, with backoff, for errors that may clear (network down,
  rate limits, server busy, an expired login).
- Nothing is lost silently (SECURITY.md 20): before its first attempt an item is written
  to the journal ``outbox.jsonl`` in ``ZOOM_NOTEBOOK_HOME`` (0600, append-only, compacted
  atomically) and removed only when delivered. What is still there when the kernel
  exits (or was killed) is offered again next time: ``%zoomchat outbox`` lists and
  retries it. An outcome that is unknown (the request may have arrived) is kept and
  shown, but never re-sent automatically.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from .errors import (
    AuthError,
    ConnectFailed,
    OutcomeUnknown,
    RateLimited,
    ValidationError,
    ZoomAPIError,
    ZoomNotebookError,
)

OUTBOX_FILE = "outbox.jsonl"
COMPACT_AFTER = 2000  # journal lines before it is rewritten with only what is kept
LOCK_FILE = "outbox.lock"
MAX_ATTEMPTS = 4
EXIT_FLUSH_SECONDS = 5.0


@dataclasses.dataclass
class Item:
    """One message to deliver: a new message (``send``) or an edit of one (``edit``)."""

    payload: dict[str, Any]
    kind: str = "send"  # "send" | "edit"
    user: str | None = None
    #: for "edit": the item whose delivered message this edits
    ref: Item | None = None
    #: for a reply: the item whose delivered message starts the thread
    reply_ref: Item | None = None
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    created: float = dataclasses.field(default_factory=time.time)
    status: str = "pending"  # pending | sent | failed | unknown | superseded
    message_id: str | None = None
    error: str | None = None
    hint: str | None = None
    attempts: int = 0
    next_attempt: float = 0.0
    on_done: Callable[[Item], None] | None = dataclasses.field(default=None, repr=False)

    @property
    def target(self) -> str:
        return str(self.payload.get("to_channel") or self.payload.get("to_contact"))

    @property
    def conversation(self) -> tuple[str, str]:
        kind = "to_channel" if "to_channel" in self.payload else "to_contact"
        return kind, self.target

    def record(self) -> dict[str, Any]:
        """What is saved to disk: enough to send it again, nothing secret."""
        # Saved edits become new messages (the message they edit may never have arrived);
        # saved replies keep their thread only if it is known.
        payload = dict(self.payload)
        if self.reply_ref is not None and self.reply_ref.message_id:
            payload["reply_main_message_id"] = self.reply_ref.message_id
        return {"id": self.id, "payload": payload, "user": self.user, "created": self.created,
                "status": self.status, "error": self.error, "pid": os.getpid()}


class Outbox:
    """Deliver items in the background. ``client_factory()`` returns the client to use."""

    def __init__(self, home: Path, client_factory: Callable[[], Any], *,
                 sleep: Callable[[float], None] = time.sleep, retry_base: float = 2.0) -> None:
        self.home = Path(home)
        self.path = self.home / OUTBOX_FILE
        self._client_factory = client_factory
        self._sleep = sleep
        self.retry_base = retry_base  # seconds before the first later attempt; doubles
        self._cond = threading.Condition()
        self._queue: list[Item] = []
        self._busy: Item | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.failures: list[Item] = []  # failed or unknown items not yet shown to the user
        self._lines = 0  # journal lines written since it was last compacted
        self.delivered = 0

    # ------------------------------------------------------------------ public
    def put(self, item: Item) -> Item:
        """Queue ``item``; returns at once."""
        with self._cond:
            self._queue.append(item)
            self._ensure_worker()
            self._cond.notify_all()
        return item

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (self._busy is not None)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued was tried; True if nothing is left pending."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def close(self, timeout: float = EXIT_FLUSH_SECONDS) -> None:
        """Flush for at most ``timeout`` seconds, then keep what is left on disk."""
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            left = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for item in left:
            item.status = "failed"
            item.error = item.error or "the kernel exited before it could be delivered"
            self._journal(item, keep=True)

    def keep(self, item: Item, exc: BaseException) -> None:
        """Save an item that could not be sent right now (e.g. by ``%%zoomchat``), so that
        ``%zoomchat outbox`` can retry it; an unknown outcome is kept but flagged."""
        item.status = "unknown" if isinstance(exc, OutcomeUnknown) else "failed"
        item.error = f"{type(exc).__name__}: {exc}"
        self._journal(item, keep=True)

    def take_failures(self) -> list[Item]:
        """Failed or unknown items not yet shown to the user (each is returned once)."""
        with self._cond:
            out, self.failures = self.failures, []
        return out

    # ------------------------------------------------------------------ the saved outbox
    def saved(self) -> list[dict[str, Any]]:
        """Items on disk that no live process is delivering (from earlier sessions, or
        given up on in this one)."""
        with self._file_lock():
            records = self._read()
        return sorted((r for r in records.values() if _offerable(r)),
                      key=lambda r: r.get("created", 0))

    def retry_saved(self, *, include_unknown: bool = False) -> list[Item]:
        """Send the saved items again (now, in this process); returns the attempts."""
        with self._file_lock():
            records = self._read()
            chosen = [r for r in records.values() if _offerable(r)
                      and (include_unknown or r.get("status") != "unknown")]
            for r in chosen:  # claim them, so another kernel does not send them too
                r["pid"], r["status"] = os.getpid(), "pending"
            self._write(records)
        items = []
        for r in sorted(chosen, key=lambda r: r.get("created", 0)):
            item = Item(payload=r["payload"], user=r.get("user"), id=r["id"],
                        created=r.get("created", time.time()))
            self._deliver(item)
            items.append(item)
        return items

    def discard_saved(self) -> int:
        """Drop the saved items (after the user has seen them)."""
        with self._file_lock():
            records = self._read()
            gone = [k for k, r in records.items() if _offerable(r)]
            for key in gone:
                del records[key]
            self._write(records)
        return len(gone)

    # ------------------------------------------------------------------ worker
    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="zoom-notebook-outbox",
                                            daemon=True)
            self._thread.start()

    def _next(self) -> Item | None:
        """The first item whose conversation has nothing earlier pending and that is due."""
        now = time.monotonic()
        blocked: set[tuple[str, str]] = set()
        for item in self._queue:
            if item.conversation in blocked:
                continue
            blocked.add(item.conversation)
            if item.next_attempt <= now:
                return item
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                item = self._next()
                while item is None:
                    if self._stopping:
                        return
                    due = [i.next_attempt for i in self._queue]
                    wait = (min(due) - time.monotonic()) if due else 1.0
                    self._cond.wait(max(0.01, min(wait, 1.0)))
                    item = self._next()
                self._queue.remove(item)
                self._busy = item
            try:
                if self._superseded(item):
                    item.status = "superseded"
                    if item.attempts:  # journaled on an earlier attempt
                        self._journal(item, keep=False)
                else:
                    if item.attempts == 0:
                        self._journal(item, keep=True)
                    self._deliver(item)
            finally:
                with self._cond:
                    self._busy = None
                    if item.status == "pending":  # to be tried again later
                        self._queue.insert(0, item)
                    self._cond.notify_all()

    def _superseded(self, item: Item) -> bool:
        """A progress edit made pointless by a later edit of the same message."""
        if item.kind != "edit":
            return False
        with self._cond:
            return any(o.kind == "edit" and o.ref is item.ref for o in self._queue)

    def _deliver(self, item: Item) -> None:
        item.attempts += 1
        try:
            client = self._client_factory()
            if item.kind == "edit" and item.ref is not None and item.ref.message_id:
                kind, target = item.conversation
                client.edit_message(item.ref.message_id, item.payload["message"],
                                    user=item.user, **{kind: target})
                item.message_id = item.ref.message_id
            else:
                payload = dict(item.payload)
                if item.reply_ref is not None and item.reply_ref.message_id:
                    thread = item.reply_ref.payload.get("reply_main_message_id")
                    payload["reply_main_message_id"] = thread or item.reply_ref.message_id
                item.message_id = client.send_message(payload, user=item.user)
        except RateLimited as exc:
            daily = (exc.limit_type or "").lower().startswith("daily")
            self._failed(item, exc, retry=not daily and item.attempts < MAX_ATTEMPTS)
            return
        except ConnectFailed as exc:
            self._failed(item, exc, retry=item.attempts < MAX_ATTEMPTS)
            return
        except AuthError as exc:  # retrying cannot help until the user logs in
            self._failed(item, exc, retry=False)
            return
        except OutcomeUnknown as exc:
            item.status, item.error = "unknown", str(exc)
            item.hint = ("It may or may not have arrived; it was not sent again. "
                         "`%zoomchat outbox --unknown` resends it.")
            self._journal(item, keep=True)
            self._report(item)
            return
        except ZoomAPIError as exc:
            retry = exc.status >= 500 or exc.status == 429 or exc.code == 124
            self._failed(item, exc, retry=retry and item.attempts < MAX_ATTEMPTS)
            return
        except (ValidationError, ZoomNotebookError) as exc:
            self._failed(item, exc, retry=False)
            return
        except Exception as exc:  # a bug must not kill the worker or the user's code
            self._failed(item, exc, retry=False)
            return
        item.status, item.error = "sent", None
        self.delivered += 1
        self._journal(item, keep=False)
        self._notify(item)

    def _failed(self, item: Item, exc: BaseException, *, retry: bool) -> None:
        item.error = f"{type(exc).__name__}: {exc}"
        if retry and not self._stopping:
            item.status = "pending"
            delay = min(30.0, self.retry_base * 2.0 ** (item.attempts - 1))
            retry_at = getattr(exc, "retry_at", None)
            if retry_at is not None:
                delay = max(delay, retry_at.timestamp() - time.time())
            item.next_attempt = time.monotonic() + delay
            return
        item.status = "failed"
        item.hint = "It is kept in the outbox: `%zoomchat outbox` retries it."
        self._journal(item, keep=True)
        self._report(item)

    def _report(self, item: Item) -> None:
        with self._cond:
            self.failures.append(item)
        self._notify(item)

    def _notify(self, item: Item) -> None:
        if item.on_done is not None:
            with contextlib.suppress(Exception):  # a display problem must not stop delivery
                item.on_done(item)

    # ------------------------------------------------------------------ the file
    @contextlib.contextmanager
    def _file_lock(self) -> Any:
        import filelock

        from .store import secure_dir

        secure_dir(self.home)
        with filelock.FileLock(str(self.home / LOCK_FILE), timeout=10, mode=0o600):
            yield

    def _read(self) -> dict[str, dict[str, Any]]:
        """Replay the journal: one JSON object a line, ``{"keep": record}`` or
        ``{"drop": id}``; the last word on an id wins. A torn last line (a process killed
        mid-write) is ignored."""
        records: dict[str, dict[str, Any]] = {}
        self._lines = 0
        try:
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    self._lines += 1
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if "keep" in entry:
                        records[entry["keep"]["id"]] = entry["keep"]
                    elif "drop" in entry:
                        records.pop(entry["drop"], None)
        except FileNotFoundError:
            pass
        return records

    def _write(self, records: dict[str, dict[str, Any]]) -> None:
        """Rewrite the journal with just these records (atomically)."""
        from .store import atomic_write

        if records:
            body = "".join(json.dumps({"keep": r}) + "\n" for r in records.values())
            atomic_write(self.path, body.encode("utf-8"))
        else:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._lines = len(records)

    def _journal(self, item: Item, *, keep: bool) -> None:
        """Append what became of ``item``; compact the journal now and then. Appends are
        flushed to the OS, so they survive the kernel process being killed."""
        line = json.dumps({"keep": item.record()} if keep else {"drop": item.id}) + "\n"
        try:
            with self._file_lock():
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as fh:
                    fh.write(line)
                self._lines += 1
                if self._lines > COMPACT_AFTER:
                    self._write(self._read())
        except Exception as exc:  # the disk is full or read-only: say so, keep going
            item.hint = f"(could not be saved to {self.path}: {exc})"


def _offerable(record: dict[str, Any]) -> bool:
    """Saved and not being delivered by a live process right now."""
    pid = int(record.get("pid") or 0)
    if pid == os.getpid():
        return record.get("status") != "pending"
    return not _alive(pid)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_outbox: Outbox | None = None
_outbox_lock = threading.Lock()


def get_outbox() -> Outbox:
    """The process-wide outbox for the current settings (flushed at exit)."""
    global _outbox
    with _outbox_lock:
        if _outbox is None:
            from . import api
            from .config import Settings

            home = Settings.load().home_dir
            _outbox = Outbox(home, lambda: api.client())
            atexit.register(_outbox.close)
        return _outbox


def reset_outbox() -> None:
    """Forget the process-wide outbox (tests; after ZOOM_NOTEBOOK_HOME changes)."""
    global _outbox
    with _outbox_lock:
        if _outbox is not None:
            _outbox.close(timeout=0)
            with contextlib.suppress(Exception):
                atexit.unregister(_outbox.close)
        _outbox = None
