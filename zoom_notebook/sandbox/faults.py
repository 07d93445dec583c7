"""Faults a test can switch on: the sandbox misbehaves the way networks and Zoom do.

Kinds:
- ``delay``: wait ``seconds`` before handling (the request is then handled normally);
- ``drop_before``: close the connection before reading the request body (not handled);
- ``drop_after``: handle the request fully, then close the connection without answering;
- ``status``: answer ``status`` (429, 500, 502, 503, 504); with ``handled=True`` the
  request is processed first (a 500 that delivered the message anyway), else it is not;
  ``retry_after`` adds a ``Retry-After`` that many seconds ahead (an ISO date-time, or
  with ``retry_after_format="seconds"`` a number of seconds);
- ``expire``: the access token the request carries expires just before it is handled
  (so the answer is Zoom's 401 "invalid access token", code 124);
- ``no_id``: the request is handled, and a 201 answer comes back with no ``id``.

A rule applies to the next ``count`` requests whose method and path match.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from typing import Any

KINDS = ("delay", "drop_before", "drop_after", "status", "expire", "no_id")


@dataclasses.dataclass
class Fault:
    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None  # substring of the request path
    seconds: float = 0.0
    status: int = 500
    handled: bool = False
    retry_after: float | None = None  # for 429/503: send Retry-After this far ahead
    retry_after_format: str = "iso"  # "iso" (as Zoom documents) or "seconds"

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path is None or self.path in path)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._random: tuple[float, list[Fault], random.Random] | None = None
        self.fired: dict[str, int] = {}

    def add(self, kind: str, **options: Any) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; choose from {KINDS}")
        fault = Fault(kind=kind, **options)
        with self._lock:
            self._rules.append(fault)
        return fault

    def set_random(self, rate: float, choices: list[Fault], seed: int = 0) -> None:
        """Inject one of ``choices`` into a fraction ``rate`` of matching requests."""
        with self._lock:
            self._random = (rate, choices, random.Random(seed)) if rate > 0 else None

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._random = None

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, if any (consumes one use of it)."""
        with self._lock:
            for fault in self._rules:
                if fault.count > 0 and fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._rules.remove(fault)
                    self.fired[fault.kind] = self.fired.get(fault.kind, 0) + 1
                    return fault
            if self._random is not None:
                rate, choices, rng = self._random
                if rng.random() < rate:
                    candidates = [f for f in choices if f.matches(method, path)]
                    if candidates:
                        fault = rng.choice(candidates)
                        self.fired[fault.kind] = self.fired.get(fault.kind, 0) + 1
                        return fault
        return None
