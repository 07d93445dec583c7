"""The outbox journal ``outbox.jsonl``: its records (``Item``), its line format (a
checksum per line; a damaged line is skipped and counted, never hiding the others; a torn
last line is closed before anything is appended after it), the lock, replay and
compaction. Durable before acknowledged: a record is fsync'd before ``put`` returns."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from zoom_notebook.core.errors import ZoomNotebookError
from zoom_notebook.delivery import leases
from zoom_notebook.delivery.leases import owner

OUTBOX_FILE = "outbox.jsonl"
LOCK_FILE = "outbox.lock"
COMPACT_AFTER = 2000  # journal lines before it is rewritten with only what is kept
#: Delivered ids kept in a compacted journal (for read-back matching), in seconds.
DELIVERED_MEMORY = 3600.0

#: statuses on disk: queued (accepted, not tried), inflight (being tried: it may have
#: arrived), failed (given up on; ``%zoomchat outbox`` retries it), unknown (it may have
#: arrived and Zoom cannot be read back). In memory also: sent, superseded.
AT_REST = ("failed", "unknown")
#: every status a record may have (on disk or in memory)
STATUSES = ("queued", "inflight", "failed", "unknown", "sent", "superseded")


class JournalError(ZoomNotebookError, OSError):
    """Raised when: the outbox journal cannot be written (a full or read-only home)."""



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
    status: str = "queued"
    message_id: str | None = None
    error: str | None = None
    hint: str | None = None
    attempts: int = 0
    next_attempt: float = 0.0
    #: wall time of the first attempt (the read-back window starts there)
    attempted_at: float | None = None
    #: for a send: the latest progress text, to put in place once it is delivered
    latest: str | None = None
    #: ``delivery.state.thread_key`` of the draft, so ``reply_to="last"`` follows alerts too
    thread_key: list[str] | None = None
    #: it may already have been sent by a process that died: read Zoom back first
    resolve_first: bool = False
    #: why the journal could not keep it (a full or read-only home), if it could not
    save_error: str | None = None
    #: the user asked to resend it even if Zoom cannot be read back (``--unknown``)
    force: bool = False
    #: wall time until which a POST of it that is in flight may still be handled by Zoom
    #: (its last send + the client's retry budget + read timeout): a process that takes
    #: it over from a dead one reads Zoom back only after this
    quiet_at: float | None = None
    #: when its last POST started (wall time)
    went_at: float | None = None
    #: taken over from a dead process that had it in flight (not saved): wait for
    #: ``quiet_at`` before reading back
    inherited: bool = False
    #: the moment reserved for it in the channel's shared flood ledger (not saved)
    slot: float | None = None
    #: the reserved moment it is going out for (its lateness is measured once)
    sent_slot: float | None = None
    #: given up on and NOT kept (it would fail again as it is): an edit of it is not kept
    #: either (in memory only)
    dropped: bool = False
    on_done: Callable[[Item], None] | None = dataclasses.field(default=None, repr=False)

    @property
    def target(self) -> str:
        return str(self.payload.get("to_channel") or self.payload.get("to_contact")
                   or self.payload.get("to_webhook"))

    @property
    def conversation(self) -> tuple[str, str]:
        kind = next((k for k in ("to_channel", "to_contact", "to_webhook")
                     if k in self.payload), "to_contact")
        return kind, self.target

    @property
    def text(self) -> str:
        return str(self.latest or self.payload.get("message", ""))

    def request_payload(self) -> dict[str, Any]:
        """The body to POST (the thread filled in once its first message is known)."""
        payload = dict(self.payload)
        if self.reply_ref is not None and self.reply_ref.message_id:
            thread = self.reply_ref.request_payload().get("reply_main_message_id")
            payload["reply_main_message_id"] = thread or self.reply_ref.message_id
        return payload

    def record(self) -> dict[str, Any]:
        """What is saved to disk: enough to deliver it, nothing secret."""
        rec: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "payload": self.request_payload(),
            "user": self.user, "created": self.created, "status": self.status,
            "error": self.error, "attempted_at": self.attempted_at, "latest": self.latest,
            "thread_key": self.thread_key, "resolve_first": self.resolve_first,
            "quiet_at": self.quiet_at, "went_at": self.went_at,
            "owner": {**owner(), "expires": time.time() + leases.LEASE_SECONDS}}
        if self.ref is not None:
            rec["ref"], rec["target_id"] = self.ref.id, self.ref.message_id
        if self.reply_ref is not None:
            rec["reply_ref"] = self.reply_ref.id
        return rec


def _item_from(rec: dict[str, Any]) -> Item:
    status = rec.get("status", "queued")
    who = rec.get("owner") or {}
    me = owner()
    # A record left "queued" by a machine that rebooted may have been sent: its "in
    # flight" mark may not have reached the disk (only put() waits for fsync).
    rebooted = who.get("host") == me["host"] and who.get("boot") != me["boot"]
    return Item(payload=dict(rec["payload"]), kind=rec.get("kind", "send"),
                user=rec.get("user"), id=rec["id"], created=float(rec.get("created") or 0),
                status=status, error=rec.get("error"), attempted_at=rec.get("attempted_at"),
                latest=rec.get("latest"), thread_key=rec.get("thread_key"),
                quiet_at=rec.get("quiet_at"), went_at=rec.get("went_at"),
                resolve_first=bool(rec.get("resolve_first")) or status in (
                    "inflight", "unknown") or (rebooted and status == "queued"))


#: the most of a journal that is read (a device planted in its place is not read forever)
MAX_JOURNAL = 64 * 1024 * 1024


def _open_journal(path: Path) -> Any:
    """The journal for reading: a regular file only (no symlink, FIFO or device: those
    raise OSError), at most MAX_JOURNAL bytes of it (SECURITY.md 39)."""
    import io

    from zoom_notebook.core.store import read_regular

    return io.TextIOWrapper(io.BytesIO(read_regular(path, MAX_JOURNAL)), encoding="utf-8",
                            errors="replace")


_NUMBER = (int, float)


def _well_formed(entry: dict[str, Any]) -> bool:
    """A journal line with the types its reader relies on (a valid checksum over wrong
    types, e.g. ``"created": "yesterday"``, is damaged, not a crash later)."""
    if "keep" in entry:
        rec = entry["keep"]
        payload = rec.get("payload") if isinstance(rec, dict) else None
        return (isinstance(rec, dict) and isinstance(rec.get("id"), str)
                and isinstance(payload, dict) and isinstance(payload.get("message"), str)
                and isinstance(rec.get("created", 0), _NUMBER)
                and rec.get("status", "queued") in STATUSES
                and rec.get("kind", "send") in ("send", "edit")
                and all(rec.get(k) is None or isinstance(rec.get(k), _NUMBER)
                        for k in ("attempted_at", "quiet_at", "went_at"))
                and all(rec.get(k) is None or isinstance(rec.get(k), str)
                        for k in ("user", "error", "latest", "ref", "reply_ref",
                                  "target_id"))
                and isinstance(rec.get("owner") or {}, dict)
                and isinstance(rec.get("thread_key") or [], list))
    if "drop" in entry:
        return isinstance(entry["drop"], str) and isinstance(entry.get("at") or 0, _NUMBER)
    if "lease" in entry:
        return isinstance(entry["lease"], str) and isinstance(entry.get("expires") or 0,
                                                              _NUMBER)
    return False


@dataclasses.dataclass
class Journal:
    """The journal replayed: what is kept, what was delivered, leases, damaged lines."""

    records: dict[str, dict[str, Any]]
    delivered: dict[str, tuple[str | None, float]]  # record id -> (message id, when)
    leases: dict[str, float]
    damaged: list[int]  # line numbers
    lines: int


def write_whole(fd: int, data: bytes, size: int) -> None:
    """Write all of ``data`` at the end of ``fd`` (which was ``size`` bytes long): a short
    write is continued to the end; one that cannot be (a full disk) is undone and raised,
    so nothing is called "kept" that a later read would skip (SECURITY.md 37)."""
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)  # no torn record left behind
        raise


def _line(entry: dict[str, Any]) -> str:
    text = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
    return f"{text}\t{zlib.crc32(text.encode('utf-8')):08x}\n"


def _parse(raw: str) -> dict[str, Any] | None:
    """One journal line, or None if it is damaged (bad checksum, torn, not ours)."""
    text = raw.rstrip("\n")
    if "\t" in text:
        text, _, crc = text.rpartition("\t")
        if f"{zlib.crc32(text.encode('utf-8')):08x}" != crc:
            return None
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    if "keep" in entry:
        rec = entry["keep"]
        ok = isinstance(rec, dict) and isinstance(rec.get("id"), str) and isinstance(
            rec.get("payload"), dict) and isinstance(rec["payload"].get("message"), str)
        return entry if ok else None
    if isinstance(entry.get("drop"), str) or isinstance(entry.get("lease"), str):
        return entry
    return None



class JournalFile:
    """The journal of one home folder, shared by its processes (a file lock)."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / OUTBOX_FILE
        self._io_lock = threading.RLock()
        self._lines = 0  # journal lines written since it was last compacted
        self._kept_lines = 0  # lines the last compaction kept
        self.damaged: list[int] = []  # damaged journal lines seen at the last replay

    @contextlib.contextmanager
    def file_lock(self) -> Iterator[None]:
        import filelock

        from zoom_notebook.core.store import secure_dir

        with self._io_lock:
            try:
                secure_dir(self.home)
                lock = filelock.FileLock(str(self.home / LOCK_FILE), timeout=10, mode=0o600)
                lock.acquire()
            except filelock.Timeout:
                raise JournalError(f"another process has held {self.home / LOCK_FILE} for "
                                   "over 10 s") from None
            except OSError as exc:
                raise JournalError(f"{self.home} cannot be written "
                                   f"({exc.strerror or exc})") from None
            try:
                yield
            finally:
                lock.release()

    def replay_locked(self) -> Journal:
        try:
            with self.file_lock():
                return self.replay()
        except OSError:  # a read-only home: read without the lock
            return self.replay()

    def replay(self) -> Journal:
        """Read the journal. Each line is ``{"keep": record}``, ``{"drop": id}`` or
        ``{"lease": owner}`` with a checksum; the last word on an id wins. A damaged
        line is skipped and counted (``self.damaged``), never hiding the others."""
        records: dict[str, dict[str, Any]] = {}
        delivered: dict[str, tuple[str | None, float]] = {}
        leases: dict[str, float] = {}
        damaged: list[int] = []
        n = 0
        try:
            with _open_journal(self.path) as fh:
                for n, raw in enumerate(fh, 1):
                    if not raw.strip():
                        continue
                    entry = _parse(raw)
                    if entry is None or not _well_formed(entry):
                        damaged.append(n)
                    elif "keep" in entry:
                        records[entry["keep"]["id"]] = entry["keep"]
                        delivered.pop(entry["keep"]["id"], None)
                    elif "drop" in entry:
                        if records.pop(entry["drop"], None) is not None or entry.get("mid"):
                            delivered[entry["drop"]] = (entry.get("mid"),
                                                        float(entry.get("at") or 0))
                    else:
                        leases[entry["lease"]] = max(leases.get(entry["lease"], 0.0),
                                                     float(entry.get("expires") or 0))
        except FileNotFoundError:
            pass
        except OSError:  # a directory, a FIFO, a device or a link in its place: unusable
            damaged.append(0)
        self._lines = n
        self.damaged = damaged
        return Journal(records, delivered, leases, damaged, n)

    def append(self, entries: list[dict[str, Any]], *, sync: bool = False,
                locked: bool = False) -> None:
        """Append ``entries`` (fsync'd with ``sync``). A torn last line left by a killed
        writer is closed first, so it cannot swallow what comes after it."""
        if not entries:
            return
        body = "".join(_line(e) for e in entries).encode("utf-8")
        with contextlib.ExitStack() as stack:
            if not locked:
                stack.enter_context(self.file_lock())
            # a symlink planted in place of the journal is refused, not written through
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT
                         | getattr(os, "O_NOFOLLOW", 0), 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    body = b"\n" + body
                write_whole(fd, body, size)
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            self._lines += len(entries)
            # at most once per doubling of what a compaction keeps: a long queue (or many
            # recent deliveries) costs O(1) per line, amortized, not a rewrite per line
            if self._lines > max(COMPACT_AFTER, 2 * self._kept_lines):
                self.compact()

    def compact(self) -> None:
        """Rewrite the journal with only what is still needed (atomically)."""
        from zoom_notebook.core.store import atomic_write

        journal = self.replay()
        now = time.time()
        needed = {r.get(k) for r in journal.records.values() for k in ("ref", "reply_ref")}
        entries: list[dict[str, Any]] = [
            {"drop": rid, "mid": mid, "at": at} for rid, (mid, at) in journal.delivered.items()
            if rid in needed or (mid and at > now - DELIVERED_MEMORY)]
        entries += [{"lease": key, "expires": exp} for key, exp in journal.leases.items()
                    if exp > now]
        entries += [{"keep": r} for r in journal.records.values()]
        if entries:
            atomic_write(self.path, "".join(_line(e) for e in entries).encode("utf-8"))
        else:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self._lines = self._kept_lines = len(entries)

    def record(self, item: Item, *, keep: bool) -> bool:
        """Record what became of ``item``. The "in flight" mark and what is kept are
        fsync'd; a drop needs not be (if it is lost, reading back finds the message).
        Returns False (with ``item.save_error``) when the disk refused."""
        entry = ({"keep": item.record()} if keep else
                 {"drop": item.id, "mid": item.message_id, "at": time.time()})
        try:
            self.append([entry], sync=keep)
        except OSError as exc:  # the disk is full or read-only: say so, keep going
            item.save_error = f"{exc.strerror or exc}"
            return False
        return True


