"""The outbox: durable background delivery for alerts, ``notify`` and ``progress``.

How a message moves (docs/delivery.md): ``delivery.draft.prepare()`` builds it; ``Outbox.put``
writes it to the journal and returns (the computation never waits for Zoom); the worker
thread marks it in flight, delivers it (``zoom.resolve.send_resolved``:
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

The rooms: ``journal`` (the file and its records), ``leases`` (who owns a record),
``attempts`` (one try at an item and its outcome), this module (the queue, the worker
thread, taking over what dead processes left, the process-wide outbox)."""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from zoom_notebook.core.errors import OutcomeUnknown
from zoom_notebook.delivery import leases
from zoom_notebook.delivery.attempts import NOW_WAIT_MAX, Attempts, _not_kept_hint, pacing
from zoom_notebook.delivery.journal import (
    AT_REST,
    COMPACT_AFTER,
    LOCK_FILE,
    OUTBOX_FILE,
    STATUSES,
    Item,
    Journal,
    JournalError,
    JournalFile,
    _item_from,
    _line,
    _parse,
    write_whole,
)
from zoom_notebook.delivery.leases import (
    DEAD_SETTLE,
    LEASE_SECONDS,
    host_name,
    owner,
    owner_alive,
    owner_key,
)

#: what ``zoom_notebook.outbox`` offers (some names live in its rooms: journal, leases)
__all__ = ["AT_REST", "COMPACT_AFTER", "DEAD_SETTLE", "EXIT_FLUSH_SECONDS", "LEASE_SECONDS",
           "LOCK_FILE", "NOW_WAIT_MAX", "OUTBOX_FILE", "STATUSES", "Item", "Journal",
           "JournalError", "Outbox", "_line", "_parse", "get_outbox", "host_name",
           "outbox_report", "owner", "owner_alive", "owner_key", "pacing", "recover_now",
           "recover_soon", "reset_outbox", "write_whole"]

EXIT_FLUSH_SECONDS = 5.0


class Outbox(Attempts):
    """Deliver items in the background. ``client_factory()`` returns the client to use."""

    def __init__(self, home: Path, client_factory: Callable[[], Any], *,
                 sleep: Callable[[float], None] = time.sleep, retry_base: float = 2.0) -> None:
        self.home = Path(home)
        self.journal_file = JournalFile(self.home)
        self.path = self.journal_file.path
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
        self.failures: list[Item] = []  # failed or unknown items not yet shown to the user
        self.delivered = 0
        self._adopted = False
        self._adopter: threading.Thread | None = None
        self._adopted_items: list[Item] = []  # taken over in the background, not yet shown

    # ------------------------------------------------------------------ the journal
    @property
    def damaged(self) -> list[int]:
        """Damaged journal lines seen at the last replay."""
        return self.journal_file.damaged

    def _append(self, entries: list[dict[str, Any]], *, sync: bool = False,
                locked: bool = False) -> None:
        self.journal_file.append(entries, sync=sync, locked=locked)

    def _replay(self) -> Journal:
        return self.journal_file.replay()

    def _replay_locked(self) -> Journal:
        return self.journal_file.replay_locked()

    def _compact(self) -> None:
        self.journal_file.compact()

    def _file_lock(self) -> Any:
        return self.journal_file.file_lock()

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
        from zoom_notebook.core.retry import POLICY

        item.status = "unknown" if isinstance(exc, OutcomeUnknown) else "failed"
        item.error = f"{type(exc).__name__}: {exc}"
        why = POLICY.keep(exc)
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

    def drop(self, item: Item) -> None:
        """Forget a kept item: its sender is sending it again itself (the form's Retry)."""
        item.status = "superseded"
        self._journal(item, keep=False)

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
        from zoom_notebook.zoom.resolve import claim

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

    def retry_saved(self, *, include_unknown: bool = False,
                    only: set[str] | None = None) -> list[Item]:
        """Deliver, now in this process, what dead processes left and what was given up
        on (failed; with ``include_unknown`` also unknown: read back first, sent if absent
        or unreadable). Every outcome is written back to the journal. ``only``: just the
        records with these ids (the Zoom panel's Retry on one message)."""
        if self._adopter is not None:  # what this process takes over in the background
            self._adopter.join(10.0)
        background, self._adopted_items = self._adopted_items, []
        items = self.adopt(wait=True)
        self.flush(10.0)  # what this process took over in the background, first
        items = background + items
        with self._file_lock():
            journal = self._replay()
            wanted = ("failed", "unknown") if include_unknown else ("failed",)
            chosen = [r for r in journal.records.values() if r.get("status") in wanted
                      and (only is None or r.get("id") in only)]
            claimed = self._claim(chosen, journal)
        for item in claimed:
            item.force = item.id in {r["id"] for r in chosen if r.get("status") == "unknown"}
        return items + self._run_items(claimed, wait=True)

    def discard_saved(self, only: set[str] | None = None) -> int:
        """Drop the saved records (after the user has seen them); ``only``: these ids."""
        gone = [r["id"] for r in self.saved() if only is None or r["id"] in only]
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
            time.sleep(leases.LEASE_SECONDS / 4)
            if self.pending():
                with contextlib.suppress(OSError):
                    self._append([{"lease": owner_key(owner()),
                                   "expires": time.time() + leases.LEASE_SECONDS}])

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
            from zoom_notebook.account import session
            from zoom_notebook.core.config import Settings

            home = Settings.load().home_dir
            _outbox = Outbox(home, lambda: session.client())
            atexit.register(_outbox.close)
            _outbox.adopt_soon()
        return _outbox


def recover_now() -> None:
    """Deliver what dead processes left (in the background: the outbox's own thread).
    Cheap when there is nothing: one ``stat`` of the journal."""
    with contextlib.suppress(Exception):
        from zoom_notebook.core.config import Settings

        if (Settings.load().home_dir / OUTBOX_FILE).exists():
            get_outbox()  # adopts in the background on first use


def recover_soon() -> None:
    """``recover_now`` in a thread (any send)."""
    threading.Thread(target=recover_now, name="zoom-notebook-recover", daemon=True).start()


def reset_outbox() -> None:
    """Forget the process-wide outbox (tests; after ZOOM_NOTEBOOK_HOME changes)."""
    global _outbox
    with _outbox_lock:
        if _outbox is not None:
            _outbox.close(timeout=0)
            with contextlib.suppress(Exception):
                atexit.unregister(_outbox.close)
        _outbox = None
