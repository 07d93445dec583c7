"""Zoom's rate limits as the sandbox enforces them.

- An account-wide limit per second (``qps``; Zoom's MEDIUM label: 2/20/60 per second by
  plan) and per day (``daily``), counted per wall-clock second / UTC day.
- Per-channel flood limits from Zoom's ``to_channel`` documentation: 10 messages in 1 s
  blocks the channel for 10 s; 30/10 s -> 30 s; 60/100 s -> 60 s; 450/1000 s -> 300 s.

A 429 carries ``X-RateLimit-*`` headers and ``Retry-After`` as an ISO date-time, as
Zoom's documentation describes (UNVERIFIED against a live server; see docs).
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import threading
import time

CHANNEL_RULES = [(10, 1.0, 10.0), (30, 10.0, 30.0), (60, 100.0, 60.0), (450, 1000.0, 300.0)]


def iso(ts: float) -> str:
    """Zoom's Retry-After format, rounded up to the whole second."""
    return dt.datetime.fromtimestamp(math.ceil(ts), dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class Limiter:
    def __init__(self, qps: int | None = None, daily: int | None = None,
                 channel_limits: bool = True) -> None:
        self.qps = qps
        self.daily = daily
        self.channel_limits = channel_limits
        self._lock = threading.Lock()
        self._second = 0
        self._second_count = 0
        self._day = ""
        self._day_count = 0
        self._channel_posts: dict[str, collections.deque[float]] = {}
        self._channel_blocked: dict[str, float] = {}
        self.rejected = 0

    def check_account(self) -> tuple[dict[str, str], dict[str, str] | None]:
        """Count one API call. Return (headers for the answer, 429 headers or None)."""
        now = time.time()
        with self._lock:
            day = dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%d")
            if day != self._day:
                self._day, self._day_count = day, 0
            if self.daily is not None and self._day_count >= self.daily:
                tomorrow = (dt.datetime.strptime(day, "%Y-%m-%d") + dt.timedelta(days=1)
                            ).replace(tzinfo=dt.timezone.utc)
                self.rejected += 1
                return {}, {"X-RateLimit-Category": "Medium",
                            "X-RateLimit-Type": "Daily-limit",
                            "X-RateLimit-Limit": str(self.daily),
                            "X-RateLimit-Remaining": "0",
                            "Retry-After": tomorrow.strftime("%Y-%m-%dT%H:%M:%SZ")}
            second = int(now)
            if second != self._second:
                self._second, self._second_count = second, 0
            if self.qps is not None and self._second_count >= self.qps:
                self.rejected += 1
                return {}, {"X-RateLimit-Category": "Medium", "X-RateLimit-Type": "QPS",
                            "X-RateLimit-Limit": str(self.qps),
                            "X-RateLimit-Remaining": "0", "Retry-After": iso(second + 1)}
            self._second_count += 1
            self._day_count += 1
            headers = {"X-RateLimit-Category": "Medium"}
            if self.qps is not None:
                headers.update({"X-RateLimit-Type": "QPS", "X-RateLimit-Limit": str(self.qps),
                                "X-RateLimit-Remaining": str(self.qps - self._second_count)})
            return headers, None

    def check_channel(self, channel_id: str) -> dict[str, str] | None:
        """Count one message posted to a channel; return 429 headers if it is blocked."""
        if not self.channel_limits:
            return None
        now = time.time()
        with self._lock:
            blocked = self._channel_blocked.get(channel_id, 0.0)
            if blocked > now:
                self.rejected += 1
                return {"X-RateLimit-Category": "Medium", "X-RateLimit-Type": "QPS",
                        "Retry-After": iso(blocked)}
            posts = self._channel_posts.setdefault(channel_id, collections.deque())
            while posts and posts[0] <= now - CHANNEL_RULES[-1][1]:
                posts.popleft()
            for count, window, block in CHANNEL_RULES:
                if sum(1 for t in posts if t > now - window) >= count:
                    self._channel_blocked[channel_id] = now + block
                    self.rejected += 1
                    return {"X-RateLimit-Category": "Medium", "X-RateLimit-Type": "QPS",
                            "Retry-After": iso(now + block)}
            posts.append(now)
            return None
