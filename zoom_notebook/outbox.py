"""The outbox: durable background delivery for alerts, ``notify`` and ``progress``.

How a message moves (docs/delivery.md): ``api.prepare()`` builds it; ``Outbox.put``
writes it to the journal and returns (the computation never waits for Zoom); the worker
thread marks it in flight, delivers it (``zoom_notebook.resolve.send_resolved``:
an unknown outcome is settled by reading Zoom back), and records the result.

- Durable before acknowledged (SECURITY.md 25): ``put()`` returns once the record is in
  the journal ``outbox.jsonl`` (fsync). Each line carries a checksum; a damaged line is
  reported and skipped and never hides the others; a torn last line is closed before
  anything is appended after it (SECURITY.md 29).
- Leases (SECURITY.md 27): a record names its owner (host, boot id, PID namespace, PID,
  process start time), so a dead owner is told from a live one even when its PID was
  reused (a restarted container, a zombie). On another host or PID namespace the owner's
  lease, renewed while it lives, expires instead.
- What a dead process left queued is delivered by the next process that uses the
  package (a send, an alert, ``%zoomchat outbox``, ``%load_ext``); what it left in
  flight is first resolved by reading Zoom back (SECURITY.md 26), so it arrives exactly
  once. A record whose outcome cannot be read back stays "unknown" and is shown, never
  re-sent by itself.
- Progress edits never become new messages: an edit waits for its message; if that
  message is not delivered yet, the latest text is folded into it and put in place with
  one edit once it is.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import errno
import json
import os
import socket
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import OutcomeUnknown, ValidationError, ZoomNotebookError

OUTBOX_FILE = "outbox.jsonl"
LOCK_FILE = "outbox.lock"
COMPACT_AFTER = 2000  # journal lines before it is rewritten with only what is kept
EXIT_FLUSH_SECONDS = 5.0
#: Seconds an owner's claim lasts on another host or PID namespace unless renewed.
LEASE_SECONDS = 120.0
#: Seconds a request of a process that died on this host may still be handled by Zoom
#: (its own retries died with it): after that the record is read back (docs/zoom-facts.md)
DEAD_SETTLE = 15.0
#: Seconds ``%zoomchat outbox`` waits, in the foreground, for a dead process's request to
#: settle before it reads Zoom back; a longer wait goes on in the background.
NOW_WAIT_MAX = 10.0
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


# ---------------------------------------------------------------------- who owns a record
_owner_cache: tuple[int, dict[str, Any]] | None = None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of ``pid``, from /proc."""
    text = _read(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _pidns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def host_name() -> str:
    """How this machine names itself in leases: ``ZOOM_NOTEBOOK_HOST`` if set (for machines
    that share a host name, e.g. containers with one image), else the host name."""
    return os.environ.get("ZOOM_NOTEBOOK_HOST") or socket.gethostname()


def owner() -> dict[str, Any]:
    """This process as a record owner: host, boot id, PID namespace, PID, start time."""
    global _owner_cache
    pid = os.getpid()
    if _owner_cache is None or _owner_cache[0] != pid:  # computed again after a fork
        stat = _proc_stat(pid)
        _owner_cache = (pid, {"host": host_name(),
                              "boot": _read("/proc/sys/kernel/random/boot_id") or "",
                              "pidns": _pidns(), "pid": pid,
                              "start": stat[1] if stat else ""})
    return dict(_owner_cache[1])


def owner_key(who: dict[str, Any] | None) -> str:
    who = who or {}
    return "/".join(str(who.get(k, "")) for k in ("host", "boot", "pidns", "pid", "start"))


def owner_alive(who: dict[str, Any] | None, leases: dict[str, float],
                now: float | None = None) -> bool:
    """Is the process that owns a record still running?"""
    if not who:
        return False
    me = owner()
    if owner_key(who) == owner_key(me):
        return True
    now = time.time() if now is None else now
    if who.get("host") == me["host"] and who.get("boot") and who.get("boot") != me["boot"]:
        return False  # this machine rebooted since: that process is gone
    local = all(who.get(k) == me[k] for k in ("host", "boot", "pidns"))
    if local and me["start"]:  # same kernel and PID namespace: ask /proc
        stat = _proc_stat(int(who.get("pid") or 0))
        return stat is not None and stat[0] not in ("Z", "X") and stat[1] == str(
            who.get("start"))
    if local:  # no /proc (macOS): a signal 0 tells if the PID exists
        try:
            os.kill(int(who.get("pid") or 0), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, OverflowError, ValueError):
            pass
        else:
            return True
    # another host, or another PID namespace (a container): the lease decides
    return max(leases.get(owner_key(who), 0.0), float(who.get("expires") or 0.0)) > now


# ---------------------------------------------------------------------- items
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
    #: ``api.thread_key`` of the draft, so ``reply_to="last"`` follows alerts too
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
            "owner": {**owner(), "expires": time.time() + LEASE_SECONDS}}
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

    from .store import read_regular

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


class Outbox:
    """Deliver items in the background. ``client_factory()`` returns the client to use."""

    def __init__(self, home: Path, client_factory: Callable[[], Any], *,
                 sleep: Callable[[float], None] = time.sleep, retry_base: float = 2.0) -> None:
        self.home = Path(home)
        self.path = self.home / OUTBOX_FILE
        self._client_factory = client_factory
        self._sleep = sleep
        self.retry_base = retry_base  # seconds before the first later attempt; doubles
        #: pace channel alerts by Zoom's flood limits across processes (flood.py): None
        #: is "auto" (see ``pacing``)
        self.pace_channels: bool | None = None
        self._cond = threading.Condition()
        self._queue: list[Item] = []
        self._busy: Item | None = None
        self._thread: threading.Thread | None = None
        self._keeper: threading.Thread | None = None
        self._stopping = False
        self._io_lock = threading.RLock()
        self.failures: list[Item] = []  # failed or unknown items not yet shown to the user
        self._lines = 0  # journal lines written since it was last compacted
        self._kept_lines = 0  # lines the last compaction kept
        self.delivered = 0
        self.damaged: list[int] = []  # damaged journal lines seen at the last replay
        self._adopted = False
        self._adopter: threading.Thread | None = None
        self._adopted_items: list[Item] = []  # taken over in the background, not yet shown

    # ------------------------------------------------------------------ public
    def put(self, item: Item) -> Item:
        """Queue ``item``; returns once it is on disk (or said why it could not be)."""
        try:
            self._append([{"keep": item.record()}], sync=True)
            item.save_error = None
        except OSError as exc:  # a full or read-only home: deliver from memory, say so
            item.save_error = f"{exc.strerror or exc}"
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

    def close(self, timeout: float | None = None) -> None:
        """Flush for at most ``timeout`` seconds (default ``EXIT_FLUSH_SECONDS``).
        What is left stays in the journal as it is (queued, or in flight) for the next
        process; nothing is marked failed."""
        self.flush(EXIT_FLUSH_SECONDS if timeout is None else timeout)
        with self._cond:
            self._stopping = True
            left = list(self._queue) + ([self._busy] if self._busy else [])
            self._queue.clear()  # still in the journal, for the next process
            self._cond.notify_all()
        lost = [i for i in left if i.save_error]
        if lost:
            print(f"zoom-notebook: {len(lost)} message(s) could not be delivered before "
                  f"exit and could not be saved to {self.path} ({lost[0].save_error}); "
                  "they are lost.", file=sys.stderr)

    def keep(self, item: Item, exc: BaseException) -> bool:
        """Save an item that could not be sent right now (e.g. by ``%%zoomchat``), so that
        ``%zoomchat outbox`` can retry it; an unknown outcome is kept but flagged.
        Returns False (and sets ``item.save_error``) if it could not be written, and
        False (with ``item.hint``) when it would not succeed as it is
        (``not_worth_keeping``)."""
        from .retry import not_worth_keeping

        item.status = "unknown" if isinstance(exc, OutcomeUnknown) else "failed"
        item.error = f"{type(exc).__name__}: {exc}"
        why = not_worth_keeping(exc)
        if why is not None:
            item.hint = _not_kept_hint(why)
            return False
        if item.attempted_at is None:
            item.attempted_at = time.time()
        try:
            self._append([{"keep": item.record()}], sync=True)
        except OSError as exc2:
            item.save_error = f"{exc2.strerror or exc2}"
            return False
        return True

    def take_failures(self) -> list[Item]:
        """Failed or unknown items not yet shown to the user (each is returned once)."""
        with self._cond:
            out, self.failures = self.failures, []
        return out

    # ------------------------------------------------------------------ the saved outbox
    def saved(self) -> list[dict[str, Any]]:
        """Records on disk that no live process is delivering: given up on (failed,
        unknown), or left by a process that died and not yet taken over."""
        journal = self._replay_locked()
        now = time.time()
        return sorted((r for r in journal.records.values()
                       if r.get("status") in AT_REST
                       or not owner_alive(r.get("owner"), journal.leases, now)),
                      key=lambda r: r.get("created", 0))

    def adopt(self, *, wait: bool = False) -> list[Item]:
        """Take over what dead processes left queued or in flight, and deliver it: in the
        background, or now with ``wait``. Returns the items taken over."""
        from .resolve import claim

        with self._file_lock():
            journal = self._replay()
            now = time.time()
            chosen = [r for r in journal.records.values()
                      if r.get("status") not in AT_REST
                      and not owner_alive(r.get("owner"), journal.leases, now)]
            items = self._claim(chosen, journal)
        for mid, _ in journal.delivered.values():
            claim(mid)
        self._adopted = True
        return self._run_items(items, wait)

    def adopt_soon(self) -> None:
        """``adopt`` once per outbox, in a background thread, if there is a journal."""
        if self._adopted:
            return
        self._adopted = True

        def run() -> None:
            with contextlib.suppress(Exception):  # never hurt the process that uses us
                if self.path.exists():
                    self._adopted_items = self.adopt()

        self._adopter = threading.Thread(target=run, name="zoom-notebook-adopt", daemon=True)
        self._adopter.start()

    def retry_saved(self, *, include_unknown: bool = False) -> list[Item]:
        """Deliver, now in this process, what dead processes left and what was given up
        on (failed; with ``include_unknown`` also unknown: read back first, sent if absent
        or unreadable). Every outcome is written back to the journal."""
        if self._adopter is not None:  # what this process takes over in the background
            self._adopter.join(10.0)
        background, self._adopted_items = self._adopted_items, []
        items = self.adopt(wait=True)
        self.flush(10.0)  # what this process took over in the background, first
        items = background + items
        with self._file_lock():
            journal = self._replay()
            wanted = ("failed", "unknown") if include_unknown else ("failed",)
            chosen = [r for r in journal.records.values() if r.get("status") in wanted]
            claimed = self._claim(chosen, journal)
        for item in claimed:
            item.force = item.id in {r["id"] for r in chosen if r.get("status") == "unknown"}
        return items + self._run_items(claimed, wait=True)

    def discard_saved(self) -> int:
        """Drop the saved records (after the user has seen them)."""
        gone = [r["id"] for r in self.saved()]
        self._append([{"drop": rid, "mid": None, "at": time.time()} for rid in gone],
                     sync=True)
        return len(gone)

    def _claim(self, records: list[dict[str, Any]], journal: Journal) -> list[Item]:
        """Make ``records`` ours (under the file lock) and rebuild their items, linked to
        the messages they edit or reply to."""
        if not records:
            return []
        items = {r["id"]: _item_from(r) for r in records}
        me = owner()
        for rec in records:
            item = items[rec["id"]]
            item.inherited = item.status == "inflight"
            who = rec.get("owner") or {}
            if (item.inherited and item.quiet_at and item.went_at
                    and who.get("host") == me["host"] and who.get("boot") == me["boot"]):
                # its owner died on this host: nothing of it can retry any more; only Zoom
                # may still be handling its last request, for seconds (UNVERIFIED bound)
                item.quiet_at = min(item.quiet_at, item.went_at + DEAD_SETTLE)
            if item.status in AT_REST:
                item.status = "inflight" if item.resolve_first else "queued"
        drops: list[dict[str, Any]] = []

        def linked(rid: str | None) -> Item | None:
            if not rid:
                return None
            if rid in items:
                return items[rid]
            if rid in journal.delivered:
                mid = journal.delivered[rid][0]
                return Item(payload={"message": ""}, id=rid, status="sent", message_id=mid)
            if rid in journal.records:  # at rest, or another live owner's
                return _item_from(journal.records[rid])
            return None

        for rec in sorted(records, key=lambda r: r.get("created", 0)):
            item = items[rec["id"]]
            item.reply_ref = linked(rec.get("reply_ref"))
            if item.kind != "edit":
                continue
            ref = linked(rec.get("ref"))
            if ref is None and rec.get("target_id"):
                ref = Item(payload={"message": ""}, id=str(rec.get("ref")), status="sent",
                           message_id=rec["target_id"])
            if ref is None or ref.status != "sent":  # fold into its message, or drop
                if ref is not None and ref.id in items:
                    ref.latest = item.payload["message"]
                drops.append({"drop": item.id, "mid": None, "at": time.time()})
                del items[rec["id"]]
                continue
            item.ref = ref
        lines = drops + [{"keep": i.record()} for i in items.values()]
        self._append(lines, sync=True, locked=True)
        return sorted(items.values(), key=lambda i: i.created)

    def _run_items(self, items: list[Item], wait: bool) -> list[Item]:
        if not items:
            return []
        if wait:
            for item in items:
                self._deliver_now(item)
            return items
        with self._cond:
            self._queue.extend(items)
            self._ensure_worker()
            self._cond.notify_all()
        return items

    def _deliver_now(self, item: Item) -> None:
        """One attempt at ``item`` now, in this thread (``%zoomchat outbox``: the user
        asked for it now; the client has already retried what may be retried). If it
        must wait for a later attempt, it is kept (failed) with why, never dropped."""
        self._deliver(item, now=True)
        if item.inherited and item.quiet_at and item.quiet_at > time.time():
            self._run_items([item], wait=False)  # settling: delivered in the background
            return
        if item.status in ("queued", "inflight"):
            self._failed(item, RuntimeError(item.error or "not delivered"), retry=False)

    # ------------------------------------------------------------------ worker
    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="zoom-notebook-outbox",
                                            daemon=True)
            self._thread.start()
        if self._keeper is None or not self._keeper.is_alive():
            self._keeper = threading.Thread(target=self._renew_leases, daemon=True,
                                            name="zoom-notebook-lease")
            self._keeper.start()

    def _renew_leases(self) -> None:
        """While this process holds records, renew its lease (for other hosts)."""
        while not self._stopping:
            time.sleep(LEASE_SECONDS / 4)
            if self.pending():
                with contextlib.suppress(OSError):
                    self._append([{"lease": owner_key(owner()),
                                   "expires": time.time() + LEASE_SECONDS}])

    def _next(self) -> Item | None:
        """The first item that is due, whose conversation has nothing earlier pending and
        whose message it edits or replies to is out. A record taken over from a dead
        process while it may still be settling at Zoom holds back only what needs it (an
        edit of it, a reply to it), not the alerts behind it: those never tried go out at
        once."""
        now = time.monotonic()
        waiting = {id(i) for i in self._queue}
        if self._busy is not None:
            waiting.add(id(self._busy))
        blocked: set[tuple[str, str]] = set()
        for item in self._queue:
            if any(d is not None and id(d) in waiting for d in (item.ref, item.reply_ref)):
                continue
            if item.conversation in blocked:
                continue
            if item.next_attempt <= now:
                return item
            if not item.inherited:
                blocked.add(item.conversation)
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
                self._deliver(item)
            finally:
                with self._cond:
                    self._busy = None
                    if item.status in ("queued", "inflight"):  # to be tried again later
                        self._queue.insert(0, item)
                    self._cond.notify_all()

    def _superseded(self, item: Item) -> bool:
        """A progress edit made pointless by a later edit of the same message."""
        with self._cond:
            return any(o.kind == "edit" and o.ref is item.ref and o is not item
                       and o.created >= item.created for o in self._queue)

    def _deliver(self, item: Item, *, now: bool = False) -> None:
        """One attempt at ``item``; its status says what became of it. ``now``: wait
        here (not in the queue) for a dead process's POST to settle."""
        item.attempts += 1
        try:
            if item.kind == "edit":
                self._deliver_edit(item)
            else:
                self._deliver_send(item, now=now)
        except (ValidationError, ZoomNotebookError) as exc:
            self._failed(item, exc)
        except Exception as exc:  # a bug must not kill the worker or the user's code
            self._failed(item, exc, retry=False)

    def _deliver_webhook(self, item: Item) -> None:
        """A post to the Incoming Webhook: nothing can be read back, so a post that may
        have arrived is never resent by itself (kept as unknown, shown)."""
        from .config import Settings
        from .errors import ConnectFailed, OutcomeUnknown, ZoomAPIError
        from .webhook import post

        def unknown(error: str) -> None:
            item.status, item.error = "unknown", error
            item.hint = ("It may or may not have arrived (an Incoming Webhook cannot be "
                         "read back); `%zoomchat outbox --unknown` posts it again.")
            self._journal(item, keep=True)
            self._report(item)

        if item.resolve_first and not item.force:  # it may have arrived before
            unknown("a webhook post cannot be read back")
            return
        if item.attempted_at is None:
            item.attempted_at = time.time()
        item.status, item.resolve_first = "inflight", True
        self._journal(item, keep=True)
        try:
            post(item.payload["message"], Settings.load())
        except OutcomeUnknown as exc:
            unknown(str(exc))
            return
        except (ConnectFailed, ZoomAPIError, ValidationError):
            item.resolve_first = False  # Zoom said no (or nothing was sent): not there
            raise
        self._sent(item, None)

    def _deliver_send(self, item: Item, *, now: bool = False) -> None:
        from .resolve import send_resolved

        if "to_webhook" in item.payload:
            self._deliver_webhook(item)
            return

        if item.inherited and item.quiet_at and item.quiet_at > time.time():
            # a dead process's POST of it may still be handled: read back only after
            wait = item.quiet_at - time.time()
            if not now or wait > NOW_WAIT_MAX:
                item.attempts -= 1  # not an attempt: a wait
                item.next_attempt = time.monotonic() + wait
                return
            self._sleep(wait)
        client = self._client_factory()
        if self._pacing(client) and "to_channel" in item.payload and not item.resolve_first:
            # Zoom's per-channel flood limits count every process's messages: take a
            # moment in the shared ledger, and wait for it in the queue (flood.py)
            from .flood import confirm, reserve

            api_url, channel = str(getattr(client, "api_url", "")), str(
                item.payload["to_channel"])
            if item.slot is None:
                item.slot = reserve(self.home, api_url, channel)
            while True:
                wait = item.slot - time.time()
                if wait > 0.01 and not now:
                    item.attempts -= 1  # not an attempt: a wait
                    item.next_attempt = time.monotonic() + wait
                    return
                if wait > 0.01:
                    self._sleep(wait)
                # checked again as it goes: others may be going out late (a busy machine)
                slot, item.slot = item.slot, confirm(self.home, api_url, channel, item.slot)
                if item.slot <= time.time() + 0.01:
                    break
            item.sent_slot, item.slot = slot, None
        item.inherited = False  # from now on its requests are ours: we see them end
        if item.attempted_at is None:
            item.attempted_at = time.time()
        busy = float(client.timeout[1]) + float(client.retry_budget) if hasattr(
            client, "timeout") else 60.0

        def going_out() -> None:  # before every POST: on disk, with how long it may take
            item.went_at = time.time()
            item.status, item.quiet_at = "inflight", item.went_at + busy
            self._journal(item, keep=True)

        outcome = send_resolved(client, item.request_payload(), user=item.user,
                                since=item.attempted_at, resolve_first=item.resolve_first,
                                on_send=going_out)
        if outcome.state == "unknown" and item.force and not outcome.retry_resolution:
            # the user asked to resend what Zoom will not let us read back
            outcome = send_resolved(client, item.request_payload(), user=item.user,
                                    since=item.attempted_at, on_send=going_out)
        if item.sent_slot:
            # how late after its moment Zoom had it, at the latest (a busy machine, a slow
            # network): later moments of every process keep that much more margin
            from .flood import note_lag

            note_lag(self.home, str(getattr(client, "api_url", "")),
                     str(item.payload["to_channel"]), time.time() - item.sent_slot)
            item.sent_slot = None
        if outcome.state == "sent":
            self._sent(item, outcome.message_id)
            return
        assert outcome.error is not None
        item.resolve_first = True  # whatever happens next, read back before sending
        if outcome.retry_resolution:  # Zoom could not be read back now: try later
            self._failed(item, outcome.error, retry=True)
            return
        item.status, item.error = "unknown", str(outcome.error)
        item.hint = ("It may or may not have arrived, and Zoom could not be read back to "
                     "tell; it was not sent again. `%zoomchat outbox --unknown` resends it.")
        self._journal(item, keep=True)
        self._report(item)

    def _deliver_edit(self, item: Item) -> None:
        ref = item.ref
        if ref is None or self._superseded(item):
            item.status = "superseded"
            self._journal(item, keep=False)
            return
        if ref.status != "sent":  # not delivered (yet): its latest text goes with it
            ref.latest = item.payload["message"]
            item.status = "superseded"
            if ref.status in AT_REST or ref.attempted_at is not None:
                self._journal(ref, keep=True)
            self._journal(item, keep=False)
            return
        if not ref.message_id:  # delivered, but Zoom gave no id: it cannot be edited
            item.status, item.hint = "superseded", "Zoom gave no message id to edit"
            self._journal(item, keep=False)
            return
        kind, target = item.conversation
        self._client_factory().edit_message(ref.message_id, item.payload["message"],
                                            user=item.user, **{kind: target})
        item.message_id = ref.message_id
        item.status, item.error = "sent", None
        self._journal(item, keep=False)
        self._notify(item)  # the receipt shows the text Zoom now shows

    def _sent(self, item: Item, message_id: str | None) -> None:
        item.message_id = message_id
        item.status, item.error = "sent", None
        self.delivered += 1
        self._journal(item, keep=False)
        if message_id and item.thread_key:
            from .api import settle_thread

            main = item.request_payload().get("reply_main_message_id") or message_id
            settle_thread(item.thread_key, item, main)
        if message_id and item.request_payload().get("reply_main_message_id"):
            from .api import note_posted_reply

            note_posted_reply(self.home, message_id)
        self._notify(item)
        if item.latest and item.latest != item.payload.get("message"):
            kind, target = item.conversation
            self.put(Item(payload={"message": item.latest, kind: target}, kind="edit",
                          ref=item, user=item.user, on_done=item.on_done))

    def _pacing(self, client: Any) -> bool:
        if self.pace_channels is not None:
            return self.pace_channels
        return pacing(str(getattr(client, "api_url", "")))

    def _failed(self, item: Item, exc: BaseException, *, retry: bool = True) -> None:
        from .errors import RateLimited
        from .retry import later_attempt, not_worth_keeping

        item.error = f"{type(exc).__name__}: {exc}"
        if (isinstance(exc, RateLimited) and exc.retry_at is not None
                and "to_channel" in item.payload
                and "daily" not in str(exc.limit_type or "").lower()):
            client = self._client_factory()
            if self._pacing(client):  # every process waits the block out together
                from .flood import MAX_BLOCK, block

                until = min(exc.retry_at.timestamp(), time.time() + MAX_BLOCK)
                with contextlib.suppress(Exception):
                    block(self.home, str(getattr(client, "api_url", "")),
                          str(item.payload["to_channel"]), until)
        why = not_worth_keeping(exc)
        if why is not None and item.kind == "send" and not item.resolve_first:
            item.status, item.hint = "failed", _not_kept_hint(why)
            self._journal(item, keep=False)
            self._report(item)
            return
        delay = later_attempt(exc, item.attempts, self.retry_base) if retry else None
        if delay is not None and not self._stopping:
            # nothing was delivered (or it is still to be resolved): try again later
            was = item.status
            item.status = "inflight" if item.resolve_first else "queued"
            item.next_attempt = time.monotonic() + delay
            if was == "inflight" and item.status == "queued":
                # Zoom said it was not delivered: a process that takes it over after a
                # crash may send it at once (no read-back, no wait)
                item.quiet_at = None
                self._journal(item, keep=True)
            return
        item.status = "failed"  # resolve_first says if it must be read back before a resend
        saved = self._journal(item, keep=True)
        if not saved:
            item.hint = (f"It could NOT be kept in the outbox ({item.save_error}): copy the "
                         "message from here if you need it.")
        elif item.resolve_first:
            item.hint = ("Zoom could not be read back to tell whether it arrived; it is kept "
                         "in the outbox: `%zoomchat outbox` checks and sends it only if it "
                         "is missing.")
        else:
            item.hint = "It is kept in the outbox: `%zoomchat outbox` retries it."
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
    def _file_lock(self) -> Iterator[None]:
        import filelock

        from .store import secure_dir

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

    def _replay_locked(self) -> Journal:
        try:
            with self._file_lock():
                return self._replay()
        except OSError:  # a read-only home: read without the lock
            return self._replay()

    def _replay(self) -> Journal:
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

    def _append(self, entries: list[dict[str, Any]], *, sync: bool = False,
                locked: bool = False) -> None:
        """Append ``entries`` (fsync'd with ``sync``). A torn last line left by a killed
        writer is closed first, so it cannot swallow what comes after it."""
        if not entries:
            return
        body = "".join(_line(e) for e in entries).encode("utf-8")
        with contextlib.ExitStack() as stack:
            if not locked:
                stack.enter_context(self._file_lock())
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
                self._compact()

    def _compact(self) -> None:
        """Rewrite the journal with only what is still needed (atomically)."""
        from .store import atomic_write

        journal = self._replay()
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

    def _journal(self, item: Item, *, keep: bool) -> bool:
        """Record what became of ``item``. The "in flight" mark and what is kept are
        fsync'd; a drop needs not be (if it is lost, reading back finds the message).
        Returns False (with ``item.save_error``) when the disk refused."""
        entry = ({"keep": item.record()} if keep else
                 {"drop": item.id, "mid": item.message_id, "at": time.time()})
        try:
            self._append([entry], sync=keep)
        except OSError as exc:  # the disk is full or read-only: say so, keep going
            item.save_error = f"{exc.strerror or exc}"
            return False
        return True


_outbox: Outbox | None = None
_outbox_lock = threading.Lock()


def outbox_report(box: Outbox, *, clear: bool = False, list_only: bool = False,
                  include_unknown: bool = False) -> tuple[list[str], list[Item]]:
    """``%zoomchat outbox`` and ``zoom-notebook outbox``: retry what is saved (unless
    ``list_only``), or discard it (``clear``); the lines to print and the items that
    were tried and still failed (shown as failure receipts in a notebook)."""
    lines: list[str] = []
    if clear:
        return [f"zoom-notebook: discarded {box.discard_saved()} saved message(s)."], []
    tried = [] if list_only else box.retry_saved(include_unknown=include_unknown)
    sent = [i for i in tried if i.status == "sent"]
    if tried:
        lines.append(f"zoom-notebook: {len(sent)} of {len(tried)} saved message(s) "
                     "delivered now.")
    saved = box.saved()
    if box.damaged:
        lines.append(f"zoom-notebook: {len(box.damaged)} damaged line(s) of {box.path} were "
                     f"skipped (line {', '.join(map(str, box.damaged[:5]))}); the other "
                     "messages are unaffected.")
    busy = box.pending()
    if busy:
        lines.append(f"zoom-notebook: {busy} message(s) are still being delivered in the "
                     "background. One that a stopped process was sending when it stopped is "
                     "first looked for in Zoom, so that it is never posted twice; that waits "
                     "until the stopped process's request can no longer arrive (15 s after "
                     "it was sent when that process ran on this machine, up to a minute "
                     "otherwise). Run this again then to see the outcome.")
    if not saved:
        if not busy:
            lines.append("zoom-notebook: the outbox is empty: every saved message was "
                         "delivered." if not box.damaged else
                         "zoom-notebook: no other message is waiting.")
        return lines, []
    lines.append(f"zoom-notebook: {len(saved)} undelivered message(s):")
    for record in saved:
        payload = record["payload"]
        where = payload.get("to_channel") or payload.get("to_contact")
        flag = " (outcome unknown)" if record.get("status") == "unknown" else ""
        lines.append(f"  - to {where}{flag}: {payload['message'][:80]!r} — "
                     f"{record.get('error')}")
    if any(r.get("status") == "unknown" for r in saved):
        lines.append("`%zoomchat outbox --unknown` checks those in Zoom again and resends "
                     "the ones it cannot find (or cannot read back).")
    return lines, [i for i in tried if i.status != "sent"]


def get_outbox() -> Outbox:
    """The process-wide outbox for the current settings (flushed at exit). On first use
    it takes over, in the background, what dead processes left."""
    global _outbox
    with _outbox_lock:
        if _outbox is None:
            from . import api
            from .config import Settings

            home = Settings.load().home_dir
            _outbox = Outbox(home, lambda: api.client())
            atexit.register(_outbox.close)
            _outbox.adopt_soon()
        return _outbox


def pacing(api_url: str) -> bool:
    """Are channel alerts paced by Zoom's flood limits? ``ZOOM_NOTEBOOK_FLOOD_PACING``
    (1/0) says; by default yes for Zoom's own API, no elsewhere (the sandbox's limits can
    be switched off, and the test suite does)."""
    from urllib.parse import urlsplit

    said = os.environ.get("ZOOM_NOTEBOOK_FLOOD_PACING", "").strip().lower()
    if said in ("1", "true", "yes", "on"):
        return True
    if said in ("0", "false", "no", "off"):
        return False
    host = urlsplit(api_url).hostname or ""
    return host == "zoom.us" or host.endswith(".zoom.us")


def recover_now() -> None:
    """Deliver what dead processes left (in the background: the outbox's own thread).
    Cheap when there is nothing: one ``stat`` of the journal."""
    with contextlib.suppress(Exception):
        from .config import Settings

        if (Settings.load().home_dir / OUTBOX_FILE).exists():
            get_outbox()  # adopts in the background on first use


def recover_soon() -> None:
    """``recover_now`` in a thread (any send)."""
    threading.Thread(target=recover_now, name="zoom-notebook-recover", daemon=True).start()


def _not_kept_hint(why: str) -> str:
    return (f"It was NOT kept in the outbox ({why}): fix that and send it again; the "
            "message is below.")


def reset_outbox() -> None:
    """Forget the process-wide outbox (tests; after ZOOM_NOTEBOOK_HOME changes)."""
    global _outbox
    with _outbox_lock:
        if _outbox is not None:
            _outbox.close(timeout=0)
            with contextlib.suppress(Exception):
                atexit.unregister(_outbox.close)
        _outbox = None
