"""Alerts at the end of long work: ``post_alert``, ``notify`` and ``progress``.

Everything here goes through the background outbox: the computation never waits for
Zoom, and a failure to send is shown (and kept), never raised into the user's code.
Targets and mentions are checked up front, before the work starts.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
import socket
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, TypeVar

from .config import Settings
from .errors import ValidationError
from .message import Mentions
from .outbox import Item, get_outbox
from .receipts import Failed, Receipt, Sending

if TYPE_CHECKING:  # pragma: no cover
    from .api import SentMessage

T = TypeVar("T")


def resolve_target(to_channel: str | None, to_contact: str | None,
                   settings: Settings) -> dict[str, Any]:
    """The explicit target, else the configured default channel or contact."""
    if to_channel is not None or to_contact is not None:
        return {k: v for k, v in (("to_channel", to_channel), ("to_contact", to_contact))
                if v is not None}
    if settings.default_channel:
        return {"to_channel": settings.default_channel}
    if settings.default_contact:
        return {"to_contact": settings.default_contact}
    from .webhook import configured

    if configured(settings):  # Zoom's Incoming Webhook app: alerts with no OAuth app
        return {"via": "webhook"}
    raise ValidationError("to_contact/to_channel", "say where alerts go: pass to_channel= or "
                          "to_contact=, or set a default (`%config ZoomChat.default_channel "
                          "= '...'` or default_channel in config.json), or set "
                          "ZOOM_WEBHOOK_URL and ZOOM_WEBHOOK_TOKEN (`zoom-notebook docs zoom-app`)")


def check_alert_target(target: dict[str, Any], mentions: Mentions, reply_to: str | None,
                       settings: Settings | None = None) -> None:
    """Validate a target, mentions and reply id (``"last"`` included) before any work."""
    from .api import prepare

    prepare("x", mentions=mentions, reply_to=reply_to, settings=settings, **target)


def post_alert(message: str, *, to_channel: str | None = None, to_contact: str | None = None,
               mentions: Mentions = None, reply_to: str | None = None,
               reply_ref: Item | None = None, show: bool = True,
               settings: Settings | None = None, via: str | None = None,
               claims_last: bool = True) -> Item | None:
    """Queue one alert in the outbox (returns once it is on disk) with a receipt that
    updates in place. Returns the outbox item, or None for a dry run.

    The message is built by ``api.prepare`` like every other message (``reply_to="last"``,
    mentions, Zoom's limits), cut to fit rather than refused. A first line starting with
    ✅ or ❌ is the alert's headline: bold, green or red.

    ``claims_last``: this alert becomes what ``reply_to="last"`` follows in its
    conversation (an alert the user started); automatic ones (autonotify's batches, the
    Dask plugin) pass False and do not steal "last" from the user's own messages."""
    from .api import note_queued, prepare, thread_key

    settings = settings or Settings.load()
    target = {"via": via} if via else resolve_target(to_channel, to_contact, settings)
    tone = ("ok" if message.startswith("✅") else "failed" if message.startswith("❌")
            else None) if isinstance(message, str) and not via else None
    draft = prepare(message, mentions=mentions, reply_to=reply_to, settings=settings,
                    fit=True, headline=tone, **target)
    payload = draft.payload
    if settings.dry_run:
        if show:
            Receipt(Sending(draft.where, payload["message"], note="dry run: not sent"))
        return None
    receipt = Receipt(Sending(draft.where, payload["message"], note="queued"), show=show)
    item = Item(payload=payload, user=settings.user if settings.user != "me" else None,
                reply_ref=reply_ref or draft.reply_item, thread_key=list(thread_key(draft)))
    item.on_done = functools.partial(_update_receipt, receipt, draft.receipt())
    get_outbox().put(item)
    if claims_last:
        note_queued(thread_key(draft), item)
    if item.save_error and item.status == "queued":
        receipt.update(Sending(draft.where, payload["message"], note=(
            f"queued in memory only — it could not be saved to the outbox "
            f"({item.save_error}); if this kernel dies before it is sent, it is lost")))
    return item


def _update_receipt(receipt: Receipt, shape: SentMessage, item: Item) -> None:
    """``shape``: the draft's receipt (where it goes, named as a person reads it)."""
    if item.status == "superseded":  # a later edit (or the first post) carries the text
        return
    first = item.ref or item  # an edit shows the message it edits, with its new text
    if item.status == "sent":
        receipt.update(dataclasses.replace(
            shape, id=item.message_id, message=item.payload["message"],
            reply_to=first.request_payload().get("reply_main_message_id")))
    else:
        receipt.update(Failed(shape.target, item.payload["message"], item.error or "?",
                              item.hint or "", unknown=item.status == "unknown"))


def where_and_when() -> str:
    """``analysis.ipynb on host (epochs=3)``: the notebook's name when Jupyter tells it
    (``JPY_SESSION_NAME``), or when papermill or nbconvert started this kernel from a
    command line; the parameters ``zoom-notebook run`` or papermill's ``-p`` gave it."""
    launched, launch_params = launcher()
    notebook = os.environ.get("JPY_SESSION_NAME") or launched
    host = socket.gethostname()
    where = f"{os.path.basename(notebook)} on {host}" if notebook else f"on {host}"
    params: Any = launch_params
    raw = os.environ.get("ZOOM_NOTEBOOK_PARAMETERS")  # set by `zoom-notebook run`
    if raw:
        import json

        try:
            params = json.loads(raw)
        except ValueError:
            params = None
    if isinstance(params, dict) and params:
        from .runner import describe

        where += f" ({describe(params)})"
    return where


#: programs that start a kernel to execute a notebook given on their command line
_EXECUTORS = ("papermill", "nbconvert", "nbclient", "jupyter-execute", "jupyter-run")


@functools.lru_cache(maxsize=1)
def launcher() -> tuple[str | None, dict[str, Any]]:
    """The notebook (and papermill's ``-p``/``-r`` parameters) from the command line of
    the process that started this kernel, when that is papermill or nbconvert; else
    ``(None, {})``. Read once, from /proc (Linux)."""
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as fh:
            args = [a.decode("utf-8", "replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return None, {}
    if not any(any(x in os.path.basename(a) for x in _EXECUTORS) for a in args[:3]):
        return None, {}
    from .runner import parse_value

    notebook = next((a for a in args if a.endswith(".ipynb")), None)
    params: dict[str, Any] = {}
    for i, arg in enumerate(args[:-2]):
        if arg in ("-p", "--parameters"):
            params[args[i + 1]] = parse_value(args[i + 2])
        elif arg in ("-r", "--parameters_raw"):
            params[args[i + 1]] = args[i + 2]
    return notebook, params


def _machinery(filename: str) -> bool:
    """A frame of IPython's or this package's own, not the user's code."""
    parts = Path(filename).parts
    return any(p in ("IPython", "ipykernel", "zoom_notebook") for p in parts[-4:-1]) or (
        "site-packages" in parts and "IPython" in parts)


_CELL_FILE = re.compile(r"^<(ipython-input-|cell|stdin)|/ipykernel_\d+/\d+\.py$")


def _is_cell(filename: str) -> bool:
    """A frame of the notebook's own code (a cell), as IPython and ipykernel name them."""
    return bool(_CELL_FILE.search(filename))


def short_traceback(exc: BaseException, frames: int = 3) -> str:
    """The frames that tell the story and the error line, as text: the user's own last
    line in a cell (and the one before it), then, when the error was raised deeper, the
    library line that raised it; frames of IPython and of zoom_notebook are left out.
    Outside a cell, the last ``frames`` frames. The error line always ends the text."""
    stack = [f for f in traceback.extract_tb(exc.__traceback__)
             if not _machinery(f.filename)]
    cells = [i for i, f in enumerate(stack) if _is_cell(f.filename)]
    if cells:
        last = cells[-1]
        keep = stack[max(0, last - 1):last + 1]
        lines = traceback.format_list(keep)
        if last < len(stack) - 1:  # raised inside a library the cell called
            if last < len(stack) - 2:
                lines.append("  …\n")
            lines += traceback.format_list(stack[-1:])
    else:
        lines = traceback.format_list(stack[-frames:]) if stack else []
    head = ["Traceback (most recent call last):\n"] if lines else []
    error = traceback.format_exception_only(type(exc), exc)
    return "".join(head + lines + error).rstrip()


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


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
        if exc is None:
            text = f"✅ {name} finished in {duration(took)} ({where_and_when()})"
        else:
            text = (f"❌ {name} failed after {duration(took)} ({where_and_when()})\n"
                    f"{short_traceback(exc)}")
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
        from .answers import allowed_users

        users = allowed_users(from_users, "who may stop the loop")
    if "via" not in target:  # said now, not after the first message is up
        from .api import require

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
        from .answers import is_stop
        from .api import client, posted_replies
        from .errors import ZoomNotebookError
        from .poller import BUDGET, ThreadReader, sender_matches, sender_name

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
        from .api import prepare

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
        self._edit(f"✅ {self.desc}: done, {self.n}{self._of} in {self._took()}", final=True)

    def _end_stopped(self, why: str = "") -> None:
        self._edit(f"⏹ {self.desc}: stopped at {self.n}{self._of} after {self._took()}{why}",
                   final=True)

    def _end_left(self) -> None:
        """The loop was left early: a ``break`` (stopped) or an exception in its body
        (failed), which a plain ``for`` cannot tell apart. In IPython the cell's error is
        known when the cell ends, so the final edit waits for that; elsewhere it is
        "stopped" (``with zn.progress(...) as items:`` reports failures anywhere)."""
        from .display import shell

        ip = shell()
        if ip is None or getattr(ip.displayhook, "exec_result", None) is None:
            self._end_stopped()
            return
        stopped = f"⏹ {self.desc}: stopped at {self.n}{self._of} after {self._took()}"
        failed = f"❌ {self.desc}: failed at {self.n + 1}{self._of} after {self._took()}\n"

        def after_cell(result: Any) -> None:
            ip.events.unregister("post_run_cell", after_cell)
            error = result.error_in_exec
            self._edit(stopped if error is None else failed + short_traceback(error),
                       final=True)

        ip.events.register("post_run_cell", after_cell)

    def _end_failed(self, detail: str) -> None:
        self._edit(f"❌ {self.desc}: failed at {self.n}{self._of} after {self._took()}\n"
                   f"{detail}", final=True)

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
