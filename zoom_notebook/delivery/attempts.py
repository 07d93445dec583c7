"""One attempt at an outbox item: a post (resolved by reading Zoom back when its outcome
is unknown), an edit, or an Incoming Webhook post; then what became of it — sent, tried
again later (``core.retry`` decides when), or kept and shown. The ``Outbox`` worker
(``delivery.outbox``) is built on it."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from zoom_notebook.core.errors import OutcomeUnknown, ValidationError, ZoomNotebookError
from zoom_notebook.delivery.journal import AT_REST, Item, JournalFile

#: Seconds ``%zoomchat outbox`` waits, in the foreground, for a dead process's request to
#: settle before it reads Zoom back; a longer wait goes on in the background.
NOW_WAIT_MAX = 10.0


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



def _not_kept_hint(why: str) -> str:
    return (f"It was NOT kept in the outbox ({why}): fix that and send it again; the "
            "message is below.")



class Attempts:
    """Delivering one item and recording the outcome (the outbox's worker calls ``_deliver``)."""

    home: Path
    retry_base: float
    pace_channels: bool | None
    failures: list[Item]
    delivered: int
    _cond: threading.Condition
    _queue: list[Item]
    _stopping: bool
    _client_factory: Callable[[], Any]
    _sleep: Callable[[float], None]
    journal_file: JournalFile

    def put(self, item: Item) -> Item:  # the outbox's: queue an item (a folded edit)
        raise NotImplementedError

    def _journal(self, item: Item, *, keep: bool) -> bool:
        return self.journal_file.record(item, keep=keep)

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
        from zoom_notebook.core.config import Settings
        from zoom_notebook.core.errors import ConnectFailed, ZoomAPIError
        from zoom_notebook.zoom.webhook import post

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
        from zoom_notebook.zoom.resolve import send_resolved

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
            from zoom_notebook.core.flood import confirm, reserve

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
            from zoom_notebook.core.flood import note_lag

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
        if ref.dropped:  # its message was given up on, and shown: nothing to edit, or keep
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
            from zoom_notebook.delivery.state import settle_thread

            main = item.request_payload().get("reply_main_message_id") or message_id
            settle_thread(item.thread_key, item, main)
        if message_id and item.request_payload().get("reply_main_message_id"):
            from zoom_notebook.delivery.state import note_posted_reply

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
        from zoom_notebook.core.errors import RateLimited
        from zoom_notebook.core.retry import POLICY

        item.error = f"{type(exc).__name__}: {exc}"
        if (isinstance(exc, RateLimited) and exc.retry_at is not None
                and "to_channel" in item.payload
                and "daily" not in str(exc.limit_type or "").lower()):
            client = self._client_factory()
            if self._pacing(client):  # every process waits the block out together
                from zoom_notebook.core.flood import MAX_BLOCK, block

                until = min(exc.retry_at.timestamp(), time.time() + MAX_BLOCK)
                with contextlib.suppress(Exception):
                    block(self.home, str(getattr(client, "api_url", "")),
                          str(item.payload["to_channel"]), until)
        why = POLICY.keep(exc)
        if why is not None and item.kind == "send" and not item.resolve_first:
            item.status, item.hint = "failed", _not_kept_hint(why)
            item.dropped = True
            self._journal(item, keep=False)
            self._report(item)
            return
        delay = POLICY.later(exc, item.attempts, self.retry_base) if retry else None
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

