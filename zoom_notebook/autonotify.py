"""``%zoomchat autonotify``: after every cell that ran longer than ``after`` seconds or
failed, post which cell, where, how long, and the tail of its output or its error.

The hooks are cheap when they do not fire (a clock read and two stream swaps per
cell); when they do, the alert goes to the background outbox, so the next cell starts
at once. Errors that only show as an error output (a failing ``__repr__``) count as
failures too.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .alerts import duration, post_alert, short_traceback, where_and_when
from .capture import BoundedLog, Tee
from .outbox import Item

TAIL = 700  # characters of output kept for the alert
#: characters of a cell's output autonotify holds while the cell runs (it uses the tail)
AUTONOTIFY_KEEP = 8 * TAIL


class AutoNotify:
    def __init__(self, shell: Any, *, after: float, target: dict[str, Any],
                 thread: bool = False) -> None:
        self.shell = shell
        self.after = after
        self.target = target
        self.thread = thread
        self.thread_root: Item | None = None
        self.alerts: list[Item] = []
        self._events = BoundedLog(AUTONOTIFY_KEEP)
        self._start = 0.0
        self._depth = 0
        self._saw_traceback = False
        self._streams: tuple[Any, Any] | None = None
        self._original_tb = shell.showtraceback

    # ------------------------------------------------------------------ hooks
    def register(self) -> None:
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.shell.showtraceback = self._showtraceback

    def unregister(self) -> None:
        for name, hook in (("pre_run_cell", self.pre_run_cell),
                           ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(name, hook)
            except ValueError:
                pass
        if vars(self.shell).get("showtraceback") == self._showtraceback:
            del self.shell.showtraceback
        self._restore_streams()

    def _showtraceback(self, *args: Any, **kwargs: Any) -> Any:
        self._saw_traceback = True
        return self._original_tb(*args, **kwargs)

    def pre_run_cell(self, info: Any = None) -> None:
        self._depth += 1
        if self._depth > 1:  # a cell run from inside a cell (%%zoomchat): not a new cell
            return
        self._saw_traceback = False
        self._events = BoundedLog(AUTONOTIFY_KEEP)
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = Tee(sys.stdout, self._events, "stdout")
        sys.stderr = Tee(sys.stderr, self._events, "stderr")
        self._start = time.perf_counter()

    def post_run_cell(self, result: Any) -> None:
        took = time.perf_counter() - self._start
        if self._depth == 0:  # switched on during this cell: it was not timed
            return
        self._depth -= 1
        if self._depth:
            return
        self._restore_streams()
        error = result.error_in_exec or result.error_before_exec
        failed = error is not None or self._saw_traceback
        if took < self.after and not failed:
            return
        try:
            self._post(result, took, error, failed)
        except Exception as exc:  # never hurt the user's session
            print(f"zoom-notebook: the alert could not be queued: {exc}", file=sys.stderr)

    def _restore_streams(self) -> None:
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None

    # ------------------------------------------------------------------ the alert
    def _post(self, result: Any, took: float, error: BaseException | None,
              failed: bool) -> None:
        count = result.execution_count or self.shell.execution_count - 1
        cell = f"In [{count}]"
        if failed:
            head = f"❌ {cell} failed after {duration(took)} ({where_and_when()})"
        else:
            head = f"✅ {cell} finished in {duration(took)} ({where_and_when()})"
        output = "".join(text for _, text in self._events).strip()
        if error is not None:
            body = short_traceback(error)
        elif failed:
            body = output[-TAIL:] or "(an error was shown in the cell's output)"
        else:
            body = output[-TAIL:]
            if result.result is not None:
                data, _ = self.shell.display_formatter.format(result.result)
                body = (body + "\n" + str(data.get("text/plain", ""))).strip()[-TAIL:]
        text = head + ("\n" + body if body else "")
        root = self.thread_root if self.thread else None
        item = post_alert(text, reply_ref=root, **self.target)
        if item is not None:
            self.alerts.append(item)
            if self.thread and self.thread_root is None:
                self.thread_root = item
