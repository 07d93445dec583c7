"""Dask in Zoom (the ``dask`` extra): ``progress`` keeps ONE message up
to date with a computation, and ``ZoomPlugin`` reports failing tasks and dying workers.

Both are built on ``distributed``'s own machinery, not on polling futures by hand:
``progress`` is a ``distributed.diagnostics.progressbar.ProgressBar`` (the scheduler feeds
it done/total as ``distributed.progress`` is fed), and ``ZoomPlugin`` is a
``SchedulerPlugin`` (``transition`` to ``erred``, and the scheduler's ``remove-worker``
event with ``expected: False``). Messages go through the same outbox as every alert:
the computation never waits for Zoom.
"""

from __future__ import annotations

import threading
import time
from typing import Any

try:
    from distributed.client import futures_of
    from distributed.diagnostics.plugin import SchedulerPlugin
    from distributed.diagnostics.progressbar import TextProgressBar
except ModuleNotFoundError as exc:  # the extra is missing: say how to add it
    from zoom_notebook.core.errors import install_hint

    raise ModuleNotFoundError(f"zoom_notebook.dask needs dask.distributed ({exc.name} is "
                              f"not installed): {install_hint('dask')}", name=exc.name
                              ) from None

from zoom_notebook.core.message import Mentions

__all__ = ["ZoomPlugin", "progress"]


class _ZoomBar(TextProgressBar):
    """distributed's text bar (still drawn) that also edits one Zoom message, paced."""

    def __init__(self, keys: Any, zoom: Any, every: float, show_text: bool,
                 **kwargs: Any) -> None:
        self._zoom, self._every, self._last = zoom, every, time.monotonic()
        self._show_text = show_text
        super().__init__(keys, **kwargs)

    def _draw_bar(self, remaining: int, all: int, **kwargs: Any) -> None:
        if self._show_text:
            super()._draw_bar(remaining, all, **kwargs)
        zoom = self._zoom
        zoom.total = all
        zoom.n = all - remaining
        if time.monotonic() - self._last >= self._every and remaining:
            self._last = time.monotonic()
            zoom.update()

    def _draw_stop(self, remaining: int = 0, all: int = 0, status: str = "",
                   **kwargs: Any) -> None:
        if self._show_text:
            super()._draw_stop(**kwargs)
        zoom = self._zoom
        zoom.total, zoom.n = all, all - remaining
        if status == "error":
            zoom.failed(_error_text(kwargs.get("exception")))
        else:
            zoom.n = all
            zoom.done()


def _error_text(error: Any) -> str:
    """The task's exception as ``Type: message``: the scheduler sends it serialized
    (pickled bytes), which distributed's own bars unpack with ``clean_exception``."""
    if error is None:
        return "a task failed"
    try:
        from distributed.core import clean_exception

        _, error, _ = clean_exception(error)
    except Exception:  # noqa: S110 - an exception that cannot be read: say what it is
        pass
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return f"a task failed ({type(error).__name__}, not readable here)"


def progress(*futures: Any, desc: str = "Dask", to_channel: str | None = None,
             to_contact: str | None = None, mentions: Mentions = None,
             reply_to: str | None = None, every: float = 10.0, show_text: bool = False,
             scheduler: Any = None) -> None:
    """Wait for ``futures`` (futures, or persisted collections) with ONE Zoom message
    showing done/total: an edit at most every ``every`` seconds and always a final one
    (done, or failed with the error). The Zoom twin of ``distributed.progress``; blocks
    like it does in a console. ``show_text`` also draws distributed's text bar."""
    from zoom_notebook.features.alerts import progress as zoom_progress

    keys = futures_of(futures)
    zoom: Any = zoom_progress((), total=len(keys), desc=desc, to_channel=to_channel,
                         to_contact=to_contact, mentions=mentions, reply_to=reply_to,
                         every=every)
    zoom.start()
    bar = _ZoomBar(keys, zoom, every, show_text, scheduler=scheduler, start=False,
                   interval="100ms")
    bar._loop_runner.run_sync(bar.listen)


#: Seconds before the scheduler closes in which a lost worker counts as the cluster closing
CLOSING = 3.0


class ZoomPlugin(SchedulerPlugin):
    """Post when tasks err or workers die, coalesced: the first problem opens ONE thread
    a few seconds later (``every``, default 5 s) with everything that happened in the
    meantime; later problems are replied in that thread, at most one reply per
    ``every`` seconds. ``client.register_plugin(ZoomPlugin(to_channel="#alerts"))``."""

    name = "zoom-notebook"

    def __init__(self, *, to_channel: str | None = None, to_contact: str | None = None,
                 mentions: Mentions = None, every: float = 5.0, desc: str = "Dask") -> None:
        from zoom_notebook.core.config import Settings
        from zoom_notebook.features.context import check_alert_target, resolve_target

        self.target = resolve_target(to_channel, to_contact, Settings.load())
        check_alert_target(self.target, mentions, None)
        self.mentions, self.every, self.desc = mentions, float(every), desc
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[float, bool, str]] = []  # (when, a worker loss, text)
        self._timer: threading.Timer | None = None
        self._root: Any = None
        self._scheduler: Any = None
        self.posted = 0

    def __getstate__(self) -> dict[str, Any]:  # sent to the scheduler: settings only
        return {"target": self.target, "mentions": self.mentions, "every": self.every,
                "desc": self.desc}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setup()

    async def start(self, scheduler: Any) -> None:
        self._scheduler = scheduler

    async def close(self) -> None:
        # A cluster closed on purpose removes its workers just before the scheduler
        # closes, with the same events as a crash: worker losses noted in the last
        # CLOSING seconds are that, not news. Task failures are always posted.
        cutoff = time.monotonic() - CLOSING
        with self._lock:
            self._pending = [(at, worker, line) for at, worker, line in self._pending
                             if not (worker and at >= cutoff)]
        self._flush()

    # ------------------------------------------------------------------ events
    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any
                   ) -> None:
        if finish != "erred" or kwargs.get("cause") not in (None, key):
            return  # a task that erred only because a task it needs did: not news
        text = kwargs.get("exception_text")
        if not text and self._scheduler is not None:
            task = self._scheduler.tasks.get(key)
            text = getattr(task, "exception_text", "") if task is not None else ""
        self._note(f"task {key!r} failed: {text or 'an error'}", worker=False)

    def log_event(self, topic: str, msg: Any) -> None:
        if (topic == "all" and isinstance(msg, dict) and msg.get("action") == "remove-worker"
                and not msg.get("expected")):
            lost = len(msg.get("processing-tasks") or ())
            self._note(f"worker {msg.get('worker')} died"
                       + (f" ({lost} task(s) running on it are retried)" if lost else ""),
                       worker=True)

    # ------------------------------------------------------------------ posting
    def _note(self, line: str, *, worker: bool) -> None:
        with self._lock:
            self._pending.append((time.monotonic(), worker, line))
            if self._timer is None:
                self._timer = threading.Timer(self.every, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def _flush(self) -> None:
        from zoom_notebook.features import texts
        from zoom_notebook.features.alerts import post_alert
        from zoom_notebook.features.context import where_and_when

        with self._lock:
            lines, self._pending = [line for _, _, line in self._pending], []
            if self._timer is not None:
                self._timer.cancel()
            self._timer = None
            root = self._root
        if not lines:
            return
        if root is None:
            item = post_alert(texts.cluster_problems(self.desc, where_and_when(), lines),
                              mentions=self.mentions, show=False,
                              claims_last=False,
                              **self.target)
            with self._lock:
                self._root = item
        else:
            post_alert(texts.cluster_lines(lines), reply_ref=root, show=False, claims_last=False,
                       **self.target)
        self.posted += 1
