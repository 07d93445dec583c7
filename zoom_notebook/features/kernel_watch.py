"""``zn.watchdog``: a message Zoom posts by itself if this kernel dies.

ONE scheduled message ("<notebook> on <host> has not reported for 2 h: it may have
died") is kept due ``after`` from now: while the kernel lives a thread renews it well
before it is due (schedule the new one, then cancel the old one), and a clean end
(leaving the ``with`` block, ``.stop()``, ``%zoomchat watchdog --off``, the kernel
shutting down) cancels it. If the kernel is killed (OOM, SIGKILL, SLURM, power loss)
nothing cancels it and Zoom posts it when it falls due: no server of ours is involved.

A renewal that fails (the network, Zoom busy) is retried with backoff; the old message
is cancelled only once its successor exists, and a cancel that fails is retried before
anything else is scheduled, so at most one draft is left behind a renewal. (A kernel
killed in the milliseconds between the two calls of a renewal leaves both: the alert
then arrives twice, never not at all.)
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import threading
import time
from typing import Any

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError, ZoomNotebookError
from zoom_notebook.core.retry import POLICY

log = logging.getLogger(__name__)

#: backoff of a failed renewal: first wait, ceiling
RETRY_FIRST, RETRY_CAP = 5.0, 120.0


def _after_seconds(after: Any) -> float:
    from zoom_notebook.core.schedule import MAX_AHEAD, MIN_AHEAD, parse_span

    if isinstance(after, dt.timedelta):
        span = after
    elif isinstance(after, str):
        span = parse_span(after, field="after")
    elif isinstance(after, (int, float)) and not isinstance(after, bool):
        from zoom_notebook.core.schedule import span as checked_span

        span = checked_span(float(after), "after")
    else:
        raise ValidationError("after", "give how long the kernel may stay silent: '2h', "
                                       "'90m' or a timedelta")
    if span.total_seconds() < MIN_AHEAD:  # Zoom's own bounds of a scheduled message
        raise ValidationError("after", "Zoom schedules a message 30 minutes ahead at least: "
                                       "use after='30m' or more")
    if span.total_seconds() > MAX_AHEAD:
        raise ValidationError("after", "Zoom schedules at most 180 days ahead")
    return span.total_seconds()


def span_text(seconds: float) -> str:
    """ "2 h", "30 min", "1 h 30 min", "3 d" (a watchdog's time, whole minutes)."""
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + \
        [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or "0 min"


class watchdog:  # a class used like a function: ``with zn.watchdog(...)``
    """Keep ONE "may have died" message scheduled ``after`` from now until a clean end.

    ``with zn.watchdog("2h", to_channel="#alerts"): train()``, or ``wd =
    zn.watchdog(...).start()`` and ``wd.stop()``. ``renew_every``: seconds between
    renewals (default: a quarter of ``after``, at most 15 minutes). ``who``: what the
    default message says has gone silent (default: this notebook, or kernel, on this
    host)."""

    def __init__(self, after: Any = "2h", *, to_channel: str | None = None,
                 to_contact: str | None = None, message: str | None = None,
                 renew_every: float | None = None, settings: Settings | None = None,
                 who: str | None = None) -> None:
        from zoom_notebook.delivery import draft as building
        from zoom_notebook.features.context import resolve_target, where_and_when

        self.after = _after_seconds(after)
        if renew_every is not None and (isinstance(renew_every, bool) or not isinstance(
                renew_every, (int, float)) or not 0 < renew_every < self.after - 60):
            raise ValidationError("renew_every", "give seconds between renewals, well "
                                                 "under `after`")
        self.renew_every = float(renew_every or min(self.after / 4, 900.0))
        self.settings = settings or Settings.load()
        self.target = resolve_target(to_channel, to_contact, self.settings)
        if "via" in self.target:
            raise ValidationError("to_channel", "an Incoming Webhook cannot schedule: name a "
                                                "channel or contact and log in")
        if message is not None and (not isinstance(message, str) or not message.strip()):
            raise ValidationError("message", "write the message as non-empty text")
        if who is None:
            where = where_and_when()
            who = f"The kernel {where}" if where.startswith("on ") else where
        self.message = message or (f"⚠️ {who} has not reported for {span_text(self.after)}: "
                                   "it may have died (zoom-notebook watchdog)")
        building.prepare(self.message, settings=self.settings, at=dt.timedelta(
            seconds=self.after), **self.target)  # everything checked before anything runs
        self.current: Any = None  # the SentMessage of the draft that is due
        self._stale: list[Any] = []  # drafts replaced, still to cancel
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ life
    def start(self) -> "watchdog":
        """Schedule the message (now, so a problem is raised here) and keep renewing it."""
        if self._thread is not None:
            return self
        from zoom_notebook.account.session import require

        require("schedule", self.settings)  # a draft it could not cancel would cry wolf
        try:
            self._schedule()
        except BaseException:
            # interrupted (Stop pressed) or failed while scheduling: a draft Zoom may have
            # made is found and cancelled, so it cannot cry wolf later (issue 24 finding 5)
            self._sweep()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="zoom-notebook-watchdog",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """A clean end: stop renewing and cancel what is scheduled (retried a few times;
        what still fails is logged with its draft id)."""
        self.abandon()  # no renewal from now on
        with self._lock:
            drafts = [*self._stale, *([self.current] if self.current else [])]
            self._stale, self.current = [], None
        for draft in drafts:
            for attempt in range(4):
                try:
                    self._cancel(draft)
                    break
                except ZoomNotebookError as exc:
                    self.last_error = str(exc)
                    time.sleep(POLICY.backoff(attempt, 0.5, cap=4.0))
            else:
                log.warning("watchdog: could not cancel scheduled message %s: %s",
                            draft.id, self.last_error)

    def abandon(self) -> None:
        """Stop renewing and leave the scheduled message in Zoom: it will be posted when
        due (the work did not end cleanly, and nothing else could say so)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        self._thread = None
        atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._stop.is_set()

    @property
    def due(self) -> dt.datetime | None:
        """When Zoom would post the message now (aware UTC), None once stopped."""
        with self._lock:
            return self.current.scheduled_for if self.current is not None else None

    def __enter__(self) -> "watchdog":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()  # a failing block is not a dead kernel: it shows its own error

    def __repr__(self) -> str:
        where = self.target.get("to_channel") or self.target.get("to_contact")
        state = f"due {self.due:%Y-%m-%d %H:%M UTC}" if self.due else "stopped"
        return f"<zn.watchdog after={self.after:g}s to {where}: {state}>"

    # ------------------------------------------------------------------ renewing
    def _schedule(self) -> None:
        from zoom_notebook.delivery import sending

        sent = sending.send(self.message, at=dt.timedelta(seconds=self.after), markdown=False,
                        settings=self.settings, **self.target)
        with self._lock:
            if self.current is not None:
                self._stale.append(self.current)
            self.current = sent

    def _sweep(self) -> None:
        """Cancel every scheduled message of this watchdog in its conversation (its text
        is its own), whatever this process remembers of them."""
        from zoom_notebook.delivery import scheduled as schedule_list

        try:
            for draft in schedule_list.scheduled(settings=self.settings, **self.target):
                if draft.message == self.message:
                    self._cancel(draft)
        except ZoomNotebookError as exc:
            log.warning("watchdog: could not check for a scheduled message left behind: %s",
                        exc)
        with self._lock:
            self.current, self._stale = None, []

    def _cancel(self, draft: Any) -> None:
        from zoom_notebook.core.errors import ZoomAPIError

        try:
            draft.cancel()
        except ZoomAPIError as exc:
            if exc.status != 404:  # gone already (posted, or cancelled): nothing to do
                raise

    def renew(self) -> None:
        """One renewal: cancel what an earlier renewal left, then schedule the new
        message, then cancel the one it replaces. Raises what failed (the thread
        retries)."""
        with self._lock:
            while self._stale:
                self._cancel(self._stale[0])
                self._stale.pop(0)
            self._schedule()
            while self._stale:
                self._cancel(self._stale[0])
                self._stale.pop(0)
            self.renewals += 1

    def _run(self) -> None:
        wait = self.renew_every
        failures = 0
        while not self._stop.wait(wait):
            try:
                self.renew()
                failures, wait, self.last_error = 0, self.renew_every, None
            except Exception as exc:  # retried: the draft scheduled before is still due
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                wait = min(POLICY.backoff(failures - 1, RETRY_FIRST, cap=RETRY_CAP),
                           self.renew_every)
                log.warning("watchdog renewal failed (%s); retrying in %.0f s",
                            self.last_error, wait)
