"""Reading a thread back politely: the replies ``zn.ask`` and a stoppable ``zn.progress``
wait for (``GET /chat/users/{userId}/messages/{messageId}/thread``).

ONE budget per process: every waiter (any number of asks and progress loops) takes its
turn through ``BUDGET``, so several waiting at once share the requests of one rather
than multiplying them. The pace starts fast (``FIRST`` seconds between requests, so a
quick answer is seen in seconds) and backs off by ``FACTOR`` to ``CAP``; a new
waiter makes it fast again. Zoom's signals win over the schedule: a 429 waits until its
``Retry-After`` (``HOLD_429`` if it gives none), and an ``X-RateLimit-Remaining`` that
runs low holds the pace at ``LOW_PACE`` (a daily limit) or for the rest of the second.

What it costs (Zoom's "Medium" limit, shared by all apps of an account: 2/s and 2,000 a
day on a Free account): 6 requests in the first minute, then 2 a minute; an hour of
waiting is about 125 requests, a day about 2,900 (so a Free account can keep one ask or
stoppable loop waiting for most of a day). See docs/human-in-the-loop.md.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Callable

#: seconds between the first requests, the growth of that gap, and its ceiling
FIRST, FACTOR, CAP = 2.0, 1.5, 30.0
#: a 429 with no usable Retry-After holds every waiter this long
HOLD_429 = 60.0
#: below this many calls left of a daily limit, the pace drops to LOW_PACE
LOW_REMAINING, LOW_PACE = 100, 300.0
#: seconds before a new waiter may bring the fast pace back
REFAST = 600.0
#: how long a sleep between checks is at most (an interrupt or a stop lands this fast)
SLICE = 0.2


class Budget:
    """The process's turns at reading Zoom back. ``clock`` and ``sleep`` can be replaced
    (the benchmark runs ten minutes of waiting on a virtual clock)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self._hold = 0.0
        self._gap = FIRST
        self._fast_at = -REFAST
        self.requests = 0

    def fast(self) -> None:
        """A new waiter: start at the fast pace again (holds from Zoom still apply) — at
        most once every ``REFAST`` seconds: a loop of short stoppable bars does not keep
        the process at the fast pace (issue 24 finding 10)."""
        with self._lock:
            now = self.clock()
            if now - self._fast_at < REFAST:
                self._next = max(self._next, now + FIRST)
                return
            self._fast_at = now
            self._gap = FACTOR * FIRST
            self._next = now + FIRST

    def hold(self, seconds: float) -> None:
        """Zoom asked for a pause: nobody in this process reads for ``seconds``."""
        with self._lock:
            self._hold = max(self._hold, self.clock() + seconds)

    def slow(self, gap: float) -> None:
        with self._lock:
            self._gap = max(self._gap, gap)

    def turn(self, deadline: float | None = None,
             stop: threading.Event | None = None) -> bool:
        """Wait for this process's next turn to read; False when ``deadline`` (on
        ``clock``) comes first or ``stop`` is set. Sleeps in short slices, so a
        KeyboardInterrupt in the main thread lands at once."""
        while True:
            if stop is not None and stop.is_set():
                return False
            with self._lock:
                now = self.clock()
                if deadline is not None and now >= deadline:
                    return False  # a turn that comes after the deadline is no turn
                at = max(self._next, self._hold)
                if at <= now:
                    self._next = now + self._gap
                    self._gap = min(CAP, self._gap * FACTOR)
                    self.requests += 1
                    return True
            if deadline is not None and at > deadline:
                if now >= deadline:
                    return False
                self.sleep(min(SLICE, deadline - now))
                continue
            self.sleep(min(SLICE, at - now))


#: the one budget of this process
BUDGET = Budget()


class ThreadReader:
    """The replies of one thread not seen yet, oldest first, one request per ``read``."""

    def __init__(self, client: Any, message_id: str, kind: str, target: str, *,
                 since: dt.datetime | None = None, user: str | None = None,
                 budget: Budget | None = None) -> None:
        self.client, self.message_id, self.kind, self.target = client, message_id, kind, target
        self.user = user
        self.budget = budget or BUDGET
        if since is None:  # Zoom's time (its Date header) when known, a minute of margin
            skew = getattr(client, "skew", None) or 0.0
            since = dt.datetime.fromtimestamp(time.time() + skew - 60, dt.timezone.utc)
        self.since = since
        self.seen: set[str] = set()
        self._sort = "asc"

    def read(self, budget: float | None = None) -> list[dict[str, Any]]:
        """One request: replies not seen before (an edited reply counts as new). Zoom's
        errors that may clear (a rate limit, the network) give no replies this turn, and a
        429 holds every waiter. ``budget``: seconds this read may take at most."""
        from zoom_notebook.core.errors import (
            ConnectFailed,
            OutcomeUnknown,
            RateLimited,
            ZoomAPIError,
        )
        from zoom_notebook.core.retry import POLICY

        try:
            resp = self.client.thread_response(
                self.message_id, since=self.since, limit=100, user=self.user,
                sort=self._sort, budget=budget, **{self.kind: self.target})
        except RateLimited as exc:
            wait = HOLD_429
            if exc.retry_at is not None:  # on Zoom's clock, as the retry module counts
                wait = POLICY.until(exc.retry_at, getattr(self.client, "skew", None))
            self.budget.hold(wait)
            return []
        except (ConnectFailed, OutcomeUnknown):
            return []
        except ZoomAPIError as exc:
            if exc.status is not None and exc.status >= 500:
                return []
            raise
        self._note(resp.headers)
        messages = sorted(resp.json().get("messages") or [],
                          key=lambda m: int(m.get("timestamp") or 0))
        fresh = [m for m in messages if m.get("is_reply") and _seen_key(m) not in self.seen]
        self.seen.update(_seen_key(m) for m in fresh)
        if self._sort == "desc":  # the newest page was read: carry on after it
            self._sort = "asc"
            if messages:
                newest = int(messages[-1].get("timestamp") or 0) // 1000
                self.since = dt.datetime.fromtimestamp(newest + 1, dt.timezone.utc)
        elif len(messages) >= 100:  # a long thread: read on from the newest seen
            newest = int(messages[-1].get("timestamp") or 0) // 1000
            moved = dt.datetime.fromtimestamp(newest, dt.timezone.utc)
            if moved <= self.since:
                # 100 replies or more within one second: reading from it again would
                # return the same page forever; the next read takes the newest ones
                self._sort = "desc"
            self.since = moved
        return fresh

    def _note(self, headers: Any) -> None:
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining is None or not str(remaining).isdigit():
            return
        kind = str(headers.get("X-RateLimit-Type", "QPS")).lower()
        if "daily" in kind and int(remaining) < LOW_REMAINING:
            self.budget.slow(LOW_PACE)
        elif int(remaining) == 0:
            self.budget.hold(1.0)


def _seen_key(reply: dict[str, Any]) -> str:
    """A reply as read: its id and its text, so an edited reply is read again."""
    return f"{reply.get('msg_id')}\n{reply.get('message')}"


def sender_matches(reply: dict[str, Any], allowed: list[str] | None) -> bool:
    """Is the reply from an allowed user (an email or user id; None: anyone)?"""
    if not allowed:
        return True
    who = {str(reply.get(k) or "").lower() for k in ("sender_email", "sender_user_id",
                                                     "sender_member_id")}
    return any(a.lower() in who for a in allowed)


def sender_name(reply: dict[str, Any]) -> str:
    """How a person reads who wrote a reply: "Grace Hopper (grace@...)"."""
    name = str(reply.get("sender_display_name") or "")
    email = str(reply.get("sender_email") or reply.get("sender_user_id") or "someone")
    return f"{name} ({email})" if name and name != email else email
