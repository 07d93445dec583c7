"""``%zoomchat autonotify``: after every cell that ran longer than ``after`` seconds or
failed, post which cell, where, how long, and the tail of its output or its error.

Cells run one after another (Run All, a queue of cells, a notebook run by nbclient) are
one batch: a cell that starts within ``batch_gap`` seconds of the previous one's end
joins its batch, and ONE alert is posted when the batch ends (``batch_gap`` seconds pass
with no new cell, the kernel exits, or autonotify is switched off): how many cells ran,
the total time, and the failing cell with its traceback. A batch of one cell is posted
as that cell. ``batch_gap=0`` posts every cell on its own, at once.

The hooks are cheap when they do not fire (a clock read and two stream swaps per
cell); when they do, the alert goes to the background outbox, so the next cell starts
at once. Errors that only show as an error output (a failing ``__repr__``) count as
failures too.
"""

from __future__ import annotations

import atexit
import dataclasses
import sys
import threading
import time
from typing import Any

from zoom_notebook.delivery.outbox import Item
from zoom_notebook.features import texts
from zoom_notebook.features.alerts import post_alert
from zoom_notebook.features.context import short_traceback, where_and_when
from zoom_notebook.notebook.capture import BoundedLog, Tee

TAIL = 700  # characters of output kept for the alert
#: seconds between one cell's end and the next one's start that still make one batch
DEFAULT_BATCH_GAP = 2.0


@dataclasses.dataclass
class Ran:
    """One cell of a batch, as the alert tells it."""

    count: int
    took: float
    failed: bool
    body: str  # the tail of its output, its result, or its short traceback


@dataclasses.dataclass
class Batch:
    cells: list[Ran] = dataclasses.field(default_factory=list)
    started: float = 0.0  # perf_counter at the first cell's start
    ended: float = 0.0  # perf_counter at the last cell's end
    took: float = 0.0  # the cells' time, added up
    failed: bool = False  # a cell failed

    def add(self, ran: Ran) -> None:
        self.cells.append(ran)
        self.took += ran.took
        self.failed = self.failed or ran.failed

#: characters of a cell's output autonotify holds while the cell runs (it uses the tail)
AUTONOTIFY_KEEP = 8 * TAIL


class AutoNotify:
    def __init__(self, shell: Any, *, after: float, target: dict[str, Any],
                 thread: bool = False, batch_gap: float = DEFAULT_BATCH_GAP) -> None:
        self.shell = shell
        self.after = after
        self.batch_gap = max(0.0, batch_gap)
        self._batch: Batch | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
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
        atexit.register(self.end_batch)

    def unregister(self) -> None:
        self.end_batch()  # a batch still open is posted now, not lost
        atexit.unregister(self.end_batch)
        for name, hook in (("pre_run_cell", self.pre_run_cell),
                           ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(name, hook)
            except ValueError:
                pass
        if vars(self.shell).get("showtraceback") == self._showtraceback:
            del self.shell.showtraceback
        self._restore_streams()

    def watch_current_cell(self, started: float) -> None:
        """Time and capture the cell running now (the one that switched autonotify on),
        as if it had started at ``started`` (a ``perf_counter`` value)."""
        self.pre_run_cell()
        self._start = min(started, self._start)

    def _showtraceback(self, *args: Any, **kwargs: Any) -> Any:
        self._saw_traceback = True
        return self._original_tb(*args, **kwargs)

    def pre_run_cell(self, info: Any = None) -> None:
        self._depth += 1
        if self._depth > 1:  # a cell run from inside a cell (%%zoomchat): not a new cell
            return
        self._saw_traceback = False
        with self._lock:  # a cell starting within the gap continues the batch
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self._events = BoundedLog(AUTONOTIFY_KEEP)
        self._streams = (sys.stdout, sys.stderr)
        sys.stdout = Tee(sys.stdout, self._events, "stdout")
        sys.stderr = Tee(sys.stderr, self._events, "stderr")
        self._start = time.perf_counter()

    def post_run_cell(self, result: Any) -> None:
        took = time.perf_counter() - self._start
        if self._depth == 0:  # not timed (switched on outside a running cell)
            return
        self._depth -= 1
        if self._depth:
            return
        self._restore_streams()
        error = result.error_in_exec or result.error_before_exec
        failed = error is not None or self._saw_traceback
        try:  # the output is read only for a cell an alert may quote (slow or failed)
            ran = self._ran(result, took, error, failed,
                            with_body=failed or took >= self.after)
        except Exception as exc:  # never hurt the user's session
            print(f"zoom-notebook: autonotify could not read the cell: {exc}", file=sys.stderr)
            return
        now = time.perf_counter()
        with self._lock:
            batch = self._batch
            if batch is None or now - took - batch.ended > self.batch_gap + 0.5:
                batch = self._batch = Batch(started=now - took)
            batch.add(ran)
            batch.ended = now
            if not batch.failed and batch.took < self.after:
                if self.batch_gap <= 0:  # every cell on its own: this one is not posted
                    self._batch = None
                return  # nothing to post yet: no timer (a quick cell costs next to nothing)
            if self.batch_gap > 0:
                self._timer = threading.Timer(self.batch_gap, self.end_batch)
                self._timer.daemon = True
                self._timer.start()
                return
        self.end_batch()

    def end_batch(self) -> None:
        """Post the open batch, if it is worth an alert (slow, or a cell failed)."""
        with self._lock:
            batch, self._batch = self._batch, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if batch is None or not batch.cells:
            return
        if batch.took < self.after and not batch.failed:
            return
        try:
            self._post(batch)
        except Exception as exc:  # never hurt the user's session
            print(f"zoom-notebook: the alert could not be queued: {exc}", file=sys.stderr)

    def _restore_streams(self) -> None:
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None

    # ------------------------------------------------------------------ the alert
    def _ran(self, result: Any, took: float, error: BaseException | None,
             failed: bool, with_body: bool = True) -> Ran:
        count = result.execution_count or self.shell.execution_count - 1
        if not with_body:
            return Ran(count, took, failed, "")
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
        return Ran(count, took, failed, body)

    def _post(self, batch: Batch) -> None:
        text = summary(batch.cells, where_and_when())
        root = self.thread_root if self.thread else None
        item = post_alert(text, reply_ref=root, claims_last=False, **self.target)
        if item is not None:
            self.alerts.append(item)
            if self.thread and self.thread_root is None:
                self.thread_root = item


def summary(cells: list[Ran], where: str) -> str:
    """The alert for a batch (``features.texts.cells``)."""
    return texts.cells(cells, where)
