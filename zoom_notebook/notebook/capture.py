"""Run a cell through IPython while recording what it shows (it still shows as usual).

Used by ``%%zoomchat``: stdout and stderr are teed, displayed objects are recorded as they
are published (text and images), the result is formatted like ``Out[]`` would be, and an
exception from the cell is held back (not printed) so the magic can send its short
traceback and then raise it as usual.
"""

from __future__ import annotations

import base64
import collections
import sys
from typing import Any, Iterator

#: Characters of a cell's output ``%%zoomchat`` keeps (SECURITY.md 35): the first and the
#: latest halves; what fell between is counted and said.
CAPTURE_LIMIT = 4_000_000


class BoundedLog:
    """``(kind, text)`` events holding at most ``limit`` characters: the first half as it
    came and the latest half; what fell between is replaced by one note of its size."""

    def __init__(self, limit: int = CAPTURE_LIMIT) -> None:
        self.limit = limit
        self.head: list[tuple[str, str]] = []
        self.tail: collections.deque[tuple[str, str]] = collections.deque()
        self._head_chars = 0
        self._tail_chars = 0
        self.dropped = 0  # characters not kept

    def append(self, event: tuple[str, str]) -> None:
        kind, text = event
        half = self.limit // 2
        if not self.tail and self._head_chars + len(text) <= half:
            self.head.append(event)
            self._head_chars += len(text)
            return
        if len(text) > half:  # keep only its end
            self.dropped += len(text) - half
            text = text[-half:]
        self.tail.append((kind, text))
        self._tail_chars += len(text)
        while self._tail_chars > half:
            first_kind, first = self.tail.popleft()
            over = self._tail_chars - half
            if len(first) > over:  # trim it rather than drop it whole
                self.tail.appendleft((first_kind, first[over:]))
                self._tail_chars -= over
                self.dropped += over
            else:
                self._tail_chars -= len(first)
                self.dropped += len(first)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        yield from self.head
        if self.dropped:
            yield ("stdout", f"\n[… {self.dropped:,} characters of output not kept …]\n")
        yield from self.tail

    def __len__(self) -> int:
        return len(self.head) + len(self.tail)


class Tee:
    """A stream that writes to ``target`` and records what was written."""

    def __init__(self, target: Any, sink: Any, kind: str) -> None:
        self._target = target
        self._sink = sink
        self._kind = kind

    def write(self, text: str) -> int:
        self._sink.append((self._kind, text))
        return int(self._target.write(text) or 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _patch(obj: Any, name: str, value: Any) -> Any:
    """Set ``obj.name = value``; return a function that puts things back as they were."""
    had = name in vars(obj)
    old = vars(obj).get(name)
    setattr(obj, name, value)

    def undo() -> None:
        if had:
            setattr(obj, name, old)
        else:
            delattr(obj, name)

    return undo


class CellCapture:
    """``CellCapture(shell).run(cell)``; then read ``events``, ``images``, ``error``."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        #: (stdout|stderr|display|result, text), bounded
        self.events = BoundedLog()
        self.images: list[tuple[str, bytes]] = []  # (extension, bytes)
        self.error: BaseException | None = None
        self.result: Any = None

    def run(self, cell: str) -> Any:
        shell = self.shell
        out, err = sys.stdout, sys.stderr
        pub = shell.display_pub
        original_publish = pub.publish
        original_tb = shell.showtraceback

        def publish(data: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            self._record_display(data)
            return original_publish(data, *args, **kwargs)

        def showtraceback(*args: Any, running_compiled_code: bool = False, **kwargs: Any
                          ) -> Any:
            if running_compiled_code:  # the cell raised: hold it; the magic re-raises it
                self.error = sys.exc_info()[1]
                return None
            return original_tb(*args, running_compiled_code=running_compiled_code, **kwargs)

        def showsyntaxerror(*args: Any, **kwargs: Any) -> Any:
            self.error = sys.exc_info()[1]
            return None

        sys.stdout = Tee(out, self.events, "stdout")
        sys.stderr = Tee(err, self.events, "stderr")
        restore = [_patch(pub, "publish", publish),
                   _patch(shell, "showtraceback", showtraceback),
                   _patch(shell, "showsyntaxerror", showsyntaxerror)]
        try:
            result = shell.run_cell(cell, store_history=False)
        finally:
            sys.stdout, sys.stderr = out, err
            for undo in reversed(restore):
                undo()
        if self.error is None:
            self.error = result.error_before_exec or result.error_in_exec
        if result.result is not None:
            self.result = result.result
            data, _ = shell.display_formatter.format(result.result)
            if "text/plain" in data:
                self.events.append(("result", str(data["text/plain"])))
        return result

    def _record_display(self, data: dict[str, Any]) -> None:
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
            if mime in data:
                raw = data[mime]
                blob = raw if isinstance(raw, bytes) else base64.b64decode(raw)
                self.images.append((ext, blob))
                return
        text = data.get("text/plain")
        if text:
            self.events.append(("display", str(text)))

    def text(self) -> str:
        """Everything the cell printed and showed, in order, as text."""
        parts: list[str] = []
        for kind, text in self.events:
            if kind in ("display", "result") and parts and not parts[-1].endswith("\n"):
                parts.append("\n")
            parts.append(text)
            if kind in ("display", "result"):
                parts.append("\n")
        return "".join(parts).strip("\n")
