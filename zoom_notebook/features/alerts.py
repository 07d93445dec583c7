"""Alerts at the end of long work: ``post_alert``, ``notify`` and ``progress``.

Everything here goes through the background outbox: the computation never waits for
Zoom, and a failure to send is shown (and kept), never raised into the user's code.
Targets and mentions are checked up front, before the work starts.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, TypeVar

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.message import Mentions
from zoom_notebook.delivery.outbox import Item, get_outbox
from zoom_notebook.features import texts
from zoom_notebook.features.context import (
    check_alert_target,
    duration,
    resolve_target,
    short_traceback,
    where_and_when,
)

if TYPE_CHECKING:  # pragma: no cover
    pass

T = TypeVar("T")


def post_alert(message: str, *, to_channel: str | None = None, to_contact: str | None = None,
               mentions: Mentions = None, reply_to: str | None = None,
               reply_ref: Item | None = None, show: bool = True,
               settings: Settings | None = None, via: str | None = None,
               claims_last: bool = True) -> Item | None:
    """Queue one alert in the outbox (returns once it is on disk) with a receipt that
    updates in place. Returns the outbox item, or None for a dry run.

    The message is built by ``delivery.draft.prepare`` like every other message
    (``reply_to="last"``, mentions, Zoom's limits), cut to fit rather than refused, and
    delivered as ``delivery.policy.QUEUED``. A first line starting with
    ✅ or ❌ is the alert's headline: bold, green or red.

    ``claims_last``: this alert becomes what ``reply_to="last"`` follows in its
    conversation (an alert the user started); automatic ones (autonotify's batches, the
    Dask plugin) pass False and do not steal "last" from the user's own messages."""
    from zoom_notebook.delivery.draft import prepare
    from zoom_notebook.delivery.policy import QUEUED, deliver_as

    settings = settings or Settings.load()
    target = {"via": via} if via else resolve_target(to_channel, to_contact, settings)
    tone = ("ok" if message.startswith("✅") else "failed" if message.startswith("❌")
            else None) if isinstance(message, str) and not via else None
    draft = prepare(message, mentions=mentions, reply_to=reply_to, settings=settings,
                    fit=True, headline=tone, **target)
    return deliver_as(draft, QUEUED, show=show, claims_last=claims_last,
                      reply_ref=reply_ref).item


class notify:  # a class used like a function: ``with zn.notify(...)``
    """Post to Zoom when a block or function ends, fails, or ran longer than ``after``.

    ``with zn.notify("training", to_channel=C, after=60): ...`` or as a decorator. With
    ``after=0`` (the default) every end is posted; otherwise only runs longer than
    ``after`` seconds, and every failure. Exceptions are never swallowed; a failure to
    send is shown, never raised.
    """

    def __init__(self, message: str | None = None, *, to_channel: str | None = None,
                 to_contact: str | None = None, mentions: Mentions = None,
                 reply_to: str | None = None, after: float = 0.0, show: bool = True) -> None:
        settings = Settings.load()
        self._target = resolve_target(to_channel, to_contact, settings)
        check_alert_target(self._target, mentions, reply_to, settings)
        self.message = message
        self.mentions = mentions
        self.reply_to = reply_to
        self.after = after
        self.show = show
        self.item: Item | None = None
        self._start = 0.0

    def __enter__(self) -> "notify":
        self._start = time.perf_counter()
        return self

    def __exit__(self, etype: Any, exc: BaseException | None, tb: Any) -> None:
        took = time.perf_counter() - self._start
        if exc is None and took < self.after:
            return
        name = self.message or "Your code"
        text = texts.block(name, took, where_and_when(),
                           None if exc is None else short_traceback(exc))
        try:
            self.item = post_alert(text, mentions=self.mentions, reply_to=self.reply_to,
                                   show=self.show, **self._target)
        except Exception as err:  # never let the alert hurt the computation
            warnings.warn(f"zoom-notebook could not queue the alert: {err}", stacklevel=2)

    def __call__(self, func: Callable[..., T]) -> Callable[..., T]:
        if self.message is None:
            self.message = f"{func.__qualname__}()"

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            with self:
                return func(*args, **kwargs)

        return wrapper


#: the least time between two edits of one progress message, whatever ``every`` says:
#: an edit is a Medium-limit call (2 a second for a whole Free account) and a journal write
EDIT_FLOOR = 1.0


def progress(iterable: Iterable[T], total: int | None = None, *, desc: str = "Progress",
             to_channel: str | None = None, to_contact: str | None = None,
             mentions: Mentions = None, reply_to: str | None = None, every: float = 10.0,
             show: bool = True, stoppable: bool = False,
             from_users: Iterable[str] | str | None = None) -> Progress[T]:
    """Iterate like tqdm while ONE Zoom message shows how far along it is.

    It posts one message when iteration starts, then edits it (PUT) at most once every
    ``every`` seconds, and always once more at the end with the outcome: done, stopped
    early, or, when used as ``with zn.progress(...) as items: for x in items: ...``,
    failed with the error raised in the loop.

    ``stoppable=True``: a reply "stop" in the message's thread (from ``from_users``,
    emails or user ids; default anyone) ends the loop at the next item, like ``break``;
    the final edit says who stopped it. The thread is read back politely (see
    ``zoom_notebook.poller``), in a background thread: the loop never waits for it.
    """
    if isinstance(every, bool) or not isinstance(every, (int, float)) or not (
            every >= 0 and math.isfinite(every)):
        raise ValidationError("every", "give the seconds between edits: a number >= 0 "
                                       f"(edits are at most one every {EDIT_FLOOR:g} s)")
    settings = Settings.load()
    target = resolve_target(to_channel, to_contact, settings)
    check_alert_target(target, mentions, reply_to, settings)
    users: list[str] | None = None
    if stoppable:
        if "via" in target:
            raise ValidationError("stoppable", "an Incoming Webhook cannot read replies: "
                                               "name a channel or contact and log in")
        from zoom_notebook.features.answers import allowed_users

        users = allowed_users(from_users, "who may stop the loop")
    if "via" not in target:  # said now, not after the first message is up
        from zoom_notebook.account.session import require

        require("edit", settings)
        if stoppable:
            require("threads", settings)
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    bar = Progress(iterable, total, desc, target, mentions, reply_to, every, show, settings)
    bar._stoppable, bar._from_users = stoppable, users
    return bar


class Progress(Generic[T]):
    """What ``progress`` returns: an iterable, and a context manager that reports a
    failure of the loop body (a plain ``for`` loop can only see that it stopped)."""

    def __init__(self, iterable: Iterable[T], total: int | None, desc: str,
                 target: dict[str, Any], mentions: Mentions, reply_to: str | None,
                 every: float, show: bool, settings: Settings) -> None:
        self._iterable = iterable
        self.total = total
        self.desc = desc
        self._target = target
        self._mentions = mentions
        self._reply_to = reply_to
        self._every = every
        self._show = show
        self._settings = settings
        self.n = 0
        self.item: Item | None = None
        self._start = 0.0
        self._finished = False
        self._in_with = False
        self._stoppable = False
        self._last_edit = 0.0
        self._from_users: list[str] | None = None
        #: who stopped the loop from Zoom ("Grace Hopper (grace@...)"), once someone has
        self.stopped_by: str | None = None
        self._watch_done = threading.Event()

    # ------------------------------------------------------------------ messages
    @property
    def _of(self) -> str:
        return f"/{self.total}" if self.total is not None else ""

    def _took(self) -> str:
        return duration(time.perf_counter() - self._start)

    def _status(self) -> str:
        took = time.perf_counter() - self._start
        line = f"⏳ {self.desc}: {self.n}{self._of}"
        if self.total:
            line += f" ({100 * self.n // self.total}%)"
            if self.n:
                line += f", about {duration(took / self.n * (self.total - self.n))} left"
        return line + f" · {duration(took)} so far"

    def _post_first(self) -> None:
        self._start = time.perf_counter()
        self.item = post_alert(
            f"⏳ {self.desc}: started (0{self._of}) {where_and_when()}",
            mentions=self._mentions, reply_to=self._reply_to, show=self._show,
            settings=self._settings, **self._target)
        if self._stoppable and self.item is not None:
            threading.Thread(target=self._watch_for_stop, name="zoom-notebook-stop-watch",
                             daemon=True).start()

    def _watch_for_stop(self) -> None:
        """Read the progress message's thread until someone allowed says "stop"."""
        from zoom_notebook.account.session import client
        from zoom_notebook.core.errors import ZoomNotebookError
        from zoom_notebook.delivery.state import posted_replies
        from zoom_notebook.features.answers import is_stop
        from zoom_notebook.zoom.poller import BUDGET, ThreadReader, sender_matches, sender_name

        item = self.item
        assert item is not None
        while not item.message_id:  # the outbox posts the first message in the background
            if item.status not in ("queued", "inflight") or self._watch_done.wait(0.1):
                return
        kind = "to_channel" if "to_channel" in item.payload else "to_contact"
        reader = ThreadReader(client(self._settings), item.message_id, kind,
                              str(item.payload[kind]), user=item.user)
        BUDGET.fast()
        while BUDGET.turn(stop=self._watch_done):
            try:
                fresh = reader.read()
            except ZoomNotebookError as exc:  # e.g. no read scope: say so, keep the loop
                warnings.warn(f"zoom-notebook cannot read the progress thread, so 'stop' "
                              f"from Zoom will not be seen: {exc}", stacklevel=1)
                return
            ours = posted_replies(self._settings) if fresh else set()
            for reply in fresh:
                if (str(reply.get("msg_id")) not in ours
                        and sender_matches(reply, self._from_users)
                        and is_stop(str(reply.get("message") or ""))):
                    self.stopped_by = sender_name(reply)
                    return

    def _edit(self, text: str, *, final: bool = False) -> None:
        if self._finished:
            return
        now = time.monotonic()
        if not final and now - self._last_edit < EDIT_FLOOR:
            return  # every=0, a tqdm mininterval of 0: Zoom still gets one edit a second
        self._last_edit = now
        self._finished = final
        if final:
            self._watch_done.set()
        if self.item is None:  # dry run
            return
        if "via" in self._target:  # a webhook post has no id to edit: start and end only
            if final:
                post_alert(text, show=self._show, settings=self._settings, **self._target)
            return
        from zoom_notebook.delivery.draft import prepare

        try:
            draft = prepare(text, settings=self._settings, fit=True, **self._target)
            # An edit carries the text and the conversation only (Zoom's PUT body).
            payload = {"message": draft.payload["message"], draft.kind: draft.target}
            get_outbox().put(Item(payload=payload, kind="edit", ref=self.item,
                                  user=self.item.user, on_done=self.item.on_done))
        except Exception as exc:  # never hurt the loop
            warnings.warn(f"zoom-notebook could not queue a progress edit: {exc}",
                          stacklevel=3)

    # ------------------------------------------------------------------ public surface
    # What other bars built on this one use (zoom_notebook.tqdm, zoom_notebook.dask): post
    # the message, update it (paced), and end it one of three ways.
    def start(self) -> None:
        """Post the message (once; iterating does it by itself)."""
        if self.item is None and not self._finished:
            self._post_first()

    def update(self, text: str | None = None) -> None:
        """Edit the message to ``text`` (default: done/total, time left), at most once
        a second (``EDIT_FLOOR``); the bar's own pace (``every``) is the caller's."""
        self._edit(text if text is not None else self._status())

    def done(self) -> None:
        """The final edit: done, n/total, how long."""
        self._end_done()

    def stopped(self, why: str = "") -> None:
        """The final edit: stopped early at n/total (``why`` is appended)."""
        self._end_stopped(why)

    def failed(self, detail: str) -> None:
        """The final edit: failed at n/total, with ``detail`` (the error)."""
        self._end_failed(detail)

    # The final edit, one of three (also what the tqdm and Dask bars end with).
    def _end_done(self) -> None:
        self._edit(texts.progress_done(self.desc, self.n, self._of, self._took()), final=True)

    def _end_stopped(self, why: str = "") -> None:
        self._edit(texts.progress_stopped(self.desc, self.n, self._of, self._took(), why),
                   final=True)

    def _end_left(self) -> None:
        """The loop was left early: a ``break`` (stopped) or an exception in its body
        (failed), which a plain ``for`` cannot tell apart. In IPython the cell's error is
        known when the cell ends, so the final edit waits for that; elsewhere it is
        "stopped" (``with zn.progress(...) as items:`` reports failures anywhere)."""
        from zoom_notebook.core.display import shell

        ip = shell()
        if ip is None or getattr(ip.displayhook, "exec_result", None) is None:
            self._end_stopped()
            return
        n, took = self.n, self._took()

        def after_cell(result: Any) -> None:
            ip.events.unregister("post_run_cell", after_cell)
            error = result.error_in_exec
            self._edit(texts.progress_stopped(self.desc, n, self._of, took) if error is None
                       else texts.progress_failed(self.desc, n + 1, self._of, took,
                                                  short_traceback(error)), final=True)

        ip.events.register("post_run_cell", after_cell)

    def _end_failed(self, detail: str) -> None:
        self._edit(texts.progress_failed(self.desc, self.n, self._of, self._took(), detail),
                   final=True)

    # ------------------------------------------------------------------ protocols
    def __iter__(self) -> Iterator[T]:
        if self.item is None and not self._finished:
            self._post_first()
        last = time.monotonic()
        try:
            for value in self._iterable:
                if self.stopped_by is not None:  # "stop" from Zoom: end here, like break
                    self._end_stopped(f", from Zoom by {self.stopped_by}")
                    return
                yield value
                self.n += 1
                if time.monotonic() - last >= self._every:
                    self._edit(self._status())
                    last = time.monotonic()
        except GeneratorExit:
            if not self._in_with:  # a with-block reports the outcome itself
                self._end_left()
            raise
        except BaseException as exc:  # the iterable itself failed
            self._end_failed(short_traceback(exc))
            raise
        self._end_done()

    def __enter__(self) -> Progress[T]:
        self._in_with = True
        return self

    def __exit__(self, etype: Any, exc: BaseException | None, tb: Any) -> None:
        self._in_with = False
        if self._finished or self.item is None:
            return
        if exc is not None:
            self.n += 1  # the item being processed when it failed
            self._end_failed(short_traceback(exc))
        else:
            self._end_stopped()
