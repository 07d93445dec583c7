"""The ``%zoomchat`` / ``%%zoomchat`` magics: thin glue over the package's functions.

Configuration (``%config ZoomChat.<trait> = ...``) sits between the environment and the
magic's own arguments: defaults < config.json < environment < %config < arguments.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Bool, Float, Unicode

from zoom_notebook.core.arguments import (
    parse_choices,
    parse_mentions,
)
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.notebook.parsers import (
    UsageError,
    _split,
    cell_parser,
    help_text,
    line_parser,
    strip_comment,
)

__all__ = ["UsageError", "ZoomChat", "cell_parser", "help_text", "line_parser", "register",
           "strip_comment", "unregister"]


def fill_template(text: str, namespace: dict[str, Any]) -> str:
    """``{expression}`` in ``text`` filled from ``namespace`` (``{{`` for a brace).

    A field is any Python expression without ``:`` or ``!`` (those start a format spec
    or conversion, as in ``{accuracy:.2%}`` or ``{name!r}``).
    """
    from string import Formatter

    out = []
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise ValidationError("--compose", f"{exc}; write {{{{ and }}}} for literal braces"
                              ) from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        try:
            value = eval(field, namespace)  # noqa: S307 - the user's own notebook namespace
            if conversion == "r":
                value = repr(value)
            elif conversion == "a":
                value = ascii(value)
            elif conversion == "s":
                value = str(value)
            out.append(format(value, spec or ""))
        except Exception as exc:
            raise ValidationError("--compose", f"could not fill {{{field}}}: "
                                  f"{type(exc).__name__}: {exc}") from None
    return "".join(out)


@magics_class
class ZoomChat(Magics):
    """Zoom Team Chat from the notebook (``%zoomchat?`` for the commands)."""

    default_channel = Unicode(None, allow_none=True,
                              help="Channel id used when a magic or alert names none."
                              ).tag(config=True)
    default_contact = Unicode(None, allow_none=True,
                              help="Contact (email or user id) used when none is named and "
                                   "no default channel is set.").tag(config=True)
    autonotify_after = Float(60.0, help="Seconds a cell must run before %zoomchat "
                                        "autonotify posts about it.").tag(config=True)
    dry_run = Bool(None, allow_none=True,
                   help="Build and show every message, send nothing (None: follow "
                        "ZOOM_NOTEBOOK_DRY_RUN).").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.autonotifier: Any = None
        self.watchdog: Any = None
        self._watchdog_by_autonotify = False
        if (self.default_channel, self.default_contact, self.dry_run) != (None, None, None):
            self._share_settings()  # (the defaults are what the session has already)
        self.observe(lambda _change: self._share_settings(),
                     names=["default_channel", "default_contact", "dry_run"])

    def _share_settings(self) -> None:
        """``%config`` reaches ``zn.notify``/``zn.progress``/``zn.send`` too."""
        from zoom_notebook.core.config import set_session

        set_session(default_channel=self.default_channel,
                    default_contact=self.default_contact, dry_run=self.dry_run)

    @property
    def ip(self) -> Any:
        """The shell (never None once registered)."""
        return self.shell

    # ------------------------------------------------------------------ settings
    def settings(self, **args: Any) -> Any:
        """Settings with this precedence: config file < environment < %config < args."""
        from zoom_notebook.core.config import Settings

        overrides = {"default_channel": self.default_channel,
                     "default_contact": self.default_contact, "dry_run": self.dry_run}
        overrides.update({k: v for k, v in args.items() if v is not None})
        return Settings.load(overrides)

    def _target(self, args: argparse.Namespace, settings: Any) -> dict[str, Any]:
        from zoom_notebook.features.context import resolve_target

        return resolve_target(args.channel, args.contact, settings)

    # ------------------------------------------------------------------ the magic
    @line_cell_magic
    def zoomchat(self, line: str, cell: str | None = None) -> Any:
        # the docstring is the parsers' help: set below the class (help_text())
        __tracebackhide__ = True  # a cell's error shows the cell's frames, not ours
        if cell is not None:
            return self._cell(line, cell)
        return self._line(line)

    def _line(self, line: str) -> Any:
        from zoom_notebook.account import login as auth

        args = line_parser().parse_args(_split(line))
        if args.help or args.command is None:
            print(help_text())
            return None
        if args.command == "send":
            settings = self.settings()
            target = self._target(args, settings)
            self._send(" ".join(args.text), target, args.reply_to,
                       parse_mentions(args.mentions), [], settings,
                       markdown=not args.plain, at=args.at)
            return None  # the receipt is already shown (zn.send returns the object)
        if args.command == "compose":
            from zoom_notebook.notebook.form import compose

            defaults = {k: v for k, v in (("to_channel", args.channel),
                                          ("to_contact", args.contact)) if v}
            if not defaults:
                settings = self.settings()
                if settings.default_channel:
                    defaults["to_channel"] = settings.default_channel
                elif settings.default_contact:
                    defaults["to_contact"] = settings.default_contact
            return compose(**defaults)
        if args.command == "autonotify":
            return self._autonotify(args)
        if args.command == "outbox":
            return self._outbox(args)
        if args.command == "ask":
            return self._ask(args)
        if args.command == "watchdog":
            return self._watchdog(args)
        if args.command == "login":
            features = args.features
            return auth.login(args.method or "auto",
                              scopes=auth.scopes_for(*features) if features else ())
        if args.command == "logout":
            print(auth.logout())
            return None
        if args.command == "status":
            return auth.status()
        raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover

    def _cell(self, line: str, cell: str) -> None:
        __tracebackhide__ = True  # the cell's own error is re-raised from here
        from zoom_notebook.delivery import draft as building

        args = cell_parser().parse_args(_split(line))
        if args.help:
            print(help_text())
            return None
        _check_output_var(args.output_var)
        settings = self.settings(dry_run=True if args.dry_run else None)
        target = self._target(args, settings)
        mentions = parse_mentions(args.mentions)
        # Check target, mentions and 'last' before the cell runs; what the mentions put in
        # front of the text takes from the room the cell's output has.
        probe = building.prepare("x", mentions=mentions, reply_to=args.reply_to,
                            settings=settings, **target)
        room = building.room(probe)
        if args.compose:
            text = fill_template(cell.strip("\n"), self.ip.user_ns)
            sent = self._send(text, target, args.reply_to, mentions, [], settings,
                              markdown=not args.plain)
            self._store(args, sent)
            return None

        from zoom_notebook.notebook.capture import CellCapture

        count = _cell_number(self.ip)
        capture = CellCapture(self.ip)
        start = time.perf_counter()
        capture.run(cell)
        took = time.perf_counter() - start
        try:
            text, files = self._compose_output(args, capture, count, took, room)
            sent = self._send(text, target, args.reply_to, mentions, files, settings)
            self._store(args, sent)
        except Exception as exc:
            if capture.error is None:
                raise
            # the cell's own exception matters more than the send's: say, then raise it
            print(f"zoom-notebook: the cell's output was not sent ({type(exc).__name__}: "
                  f"{exc})", file=sys.stderr)
        if capture.error is not None:
            raise capture.error
        return None

    def _compose_output(self, args: argparse.Namespace, capture: Any, count: int,
                        took: float, budget: int) -> tuple[str, list[tuple[str, bytes]]]:
        from zoom_notebook.features import texts
        from zoom_notebook.features.context import short_traceback, where_and_when

        failed = capture.error is not None
        head = args.message or texts.cell(count, took, failed, where_and_when())
        from zoom_notebook.core.message import MAX_FILES, sendable

        body = "" if args.no_output else sendable(capture.text())
        if failed:
            body = (body + "\n" + sendable(short_traceback(capture.error))).strip()
        text = head + ("\n" + body if body else "")
        files: list[tuple[str, bytes]] = []
        if len(text) > budget:
            name = f"cell-{count}-output.txt"
            note = f"\n… (the whole output is attached: {name})"
            text_cut = text[: budget - len(note)]
            files.append((name, (head + "\n" + body).encode("utf-8")))
            text = text_cut.rstrip() + note
        if not args.no_output:
            table = _table_csv(capture.result)
            if table is not None:
                files.append((f"cell-{count}-table.csv", table))
            for i, (ext, blob) in enumerate(capture.images, 1):
                if len(files) >= MAX_FILES:
                    note = (f"\n(+{len(capture.images) - i + 1} more figure(s) not sent: "
                            f"Zoom takes {MAX_FILES} files in one message)")
                    text = text[: budget - len(note)] + note
                    break
                files.append((f"cell-{count}-figure-{i}.{ext}", blob))
        return text, files

    def _send(self, text: str, target: dict[str, Any], reply_to: str | None, mentions: Any,
              files: list[tuple[str, bytes]], settings: Any, *, markdown: bool = False,
              at: str | None = None) -> Any:
        """Send now and show the receipt (updated in place); a Zoom failure is shown and
        the message kept in the outbox, never lost (``delivery.policy.NOW_KEEP``)."""
        from zoom_notebook.delivery import draft as building
        from zoom_notebook.delivery.policy import NOW_KEEP, deliver_as

        draft = building.prepare(text, reply_to=reply_to, mentions=mentions, files=files,
                                 settings=settings, markdown=markdown, at=at, **target)
        return deliver_as(draft, NOW_KEEP).sent

    def _store(self, args: argparse.Namespace, sent: Any) -> None:
        if args.output_var:
            self.ip.user_ns[args.output_var] = sent

    def _autonotify(self, args: argparse.Namespace) -> Any:
        from zoom_notebook.notebook.autonotify import AutoNotify

        if self.autonotifier is not None:
            self.autonotifier.unregister()
            self.autonotifier = None
        if args.off:
            if self._watchdog_by_autonotify and self._stop_watchdog():
                print("zoom-notebook: autonotify and its watchdog are off.")
            else:
                print("zoom-notebook: autonotify is off.")
            return None
        settings = self.settings()
        target = self._target(args, settings)
        from zoom_notebook.features.context import check_alert_target

        check_alert_target(target, None, None)
        if args.watchdog is not None:
            if "via" in target:
                raise ValidationError("--watchdog", "an Incoming Webhook cannot schedule: "
                                                    "name a channel (-c) and log in")
            self._start_watchdog(args.watchdog, target, settings, by_autonotify=True)
        after = self.autonotify_after if args.after is None else args.after
        self.autonotifier = AutoNotify(self.ip, after=after, target=target,
                                       thread=args.thread, batch_gap=args.batch_gap)
        self.autonotifier.register()
        if getattr(self.ip.displayhook, "exec_result", None) is not None:
            # switched on from a running cell: that cell is watched too, from its start
            self.autonotifier.watch_current_cell(_cell_started[0] or time.perf_counter())
        webhook = "via" in target
        where = "the Incoming Webhook's channel" if webhook else next(iter(target.values()))
        thread = (" (an Incoming Webhook cannot thread: each alert is its own message)"
                  if webhook else " in one thread") if args.thread else ""
        batch = " (a Run All is one alert)" if args.batch_gap > 0 else ""
        watch = (f" If the kernel dies, Zoom posts there within {args.watchdog}."
                 if args.watchdog is not None else "")
        print(f"zoom-notebook: cells that run longer than {after:g} s or fail will be posted "
              f"to {where}{thread}{batch}.{watch} `%zoomchat autonotify --off` stops it.")
        return None

    def _ask(self, args: argparse.Namespace) -> Any:
        from zoom_notebook.features.answers import ask

        _check_output_var(args.output_var)
        settings = self.settings()
        answer = ask(" ".join(args.question), choices=parse_choices(args.choices),
                     timeout=args.timeout,
                     from_users=args.from_users, mentions=parse_mentions(args.mentions),
                     settings=settings, **self._target(args, settings))
        if args.output_var:
            self.ip.user_ns[args.output_var] = answer
        return answer

    def _stop_watchdog(self) -> bool:
        """Cancel the running watchdog (a clean end); True if there was one."""
        if self.watchdog is None:
            return False
        self.watchdog.stop()
        self.watchdog, self._watchdog_by_autonotify = None, False
        return True

    def _start_watchdog(self, after: str, target: dict[str, Any], settings: Any, *,
                        by_autonotify: bool) -> Any:
        """The one watchdog of this kernel (one already running is replaced)."""
        from zoom_notebook.features.kernel_watch import watchdog

        self._stop_watchdog()
        self.watchdog = watchdog(after, settings=settings, **target).start()
        self._watchdog_by_autonotify = by_autonotify
        return self.watchdog

    def _watchdog(self, args: argparse.Namespace) -> Any:
        if args.off:
            print("zoom-notebook: the watchdog is off (its scheduled message is cancelled)."
                  if self._stop_watchdog() else "zoom-notebook: no watchdog was running.")
            return None
        settings = self.settings()
        target = self._target(args, settings)
        watch = self._start_watchdog(args.after, target, settings, by_autonotify=False)
        where = next(iter(target.values()))
        print(f"zoom-notebook: if this kernel dies, Zoom will post to {where} within "
              f"{watch.after / 60:g} min (renewed while it lives). "
              "`%zoomchat watchdog --off` cancels it.")
        return None

    def _outbox(self, args: argparse.Namespace) -> Any:
        from zoom_notebook.core.display import show
        from zoom_notebook.delivery.outbox import get_outbox, outbox_report
        from zoom_notebook.delivery.receipts import Failed

        lines, failed = outbox_report(get_outbox(), clear=args.clear, list_only=args.list,
                                      include_unknown=args.unknown)
        for text in lines:
            print(text)
        for item in failed:
            show(Failed(item.target, item.text, item.error or "?",
                        item.hint or "It is still kept in the outbox.",
                        unknown=item.status == "unknown"))
        return None


def _help() -> str:
    try:  # written from the parsers by scripts/gen_magics_doc.py (checked by the tests)
        from zoom_notebook.notebook._magics_help import HELP
    except ImportError:  # pragma: no cover - a checkout before the script ran
        return help_text()
    return HELP


ZoomChat.zoomchat.__doc__ = _help()


def _table_csv(result: Any) -> bytes | None:
    """A pandas DataFrame or Series result as CSV (the message has its text preview);
    None for anything else, or a table too big for Zoom's 20 MB."""
    if not type(result).__module__.startswith("pandas") or not hasattr(result, "to_csv"):
        return None
    from zoom_notebook.zoom.client import MAX_FILE_BYTES

    try:
        data = str(result.to_csv()).encode("utf-8")
    except Exception:  # an odd table: the text preview is still sent
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def _cell_number(ip: Any) -> int:
    """The In [N] of the cell running now: IPython has already counted it, so its own
    ``execution_count`` is one ahead; the result being filled holds the cell's number."""
    result = getattr(ip.displayhook, "exec_result", None)
    number = getattr(result, "execution_count", None)
    return int(number) if number else int(ip.execution_count)


def _check_output_var(name: str | None) -> None:
    """``-o VAR`` must name a plain variable: not a keyword, a builtin or a dunder."""
    import builtins
    import keyword

    if name is None:
        return
    if (not name.isidentifier() or keyword.iskeyword(name) or name.startswith("__")
            or hasattr(builtins, name)):
        raise UsageError(f"-o {name}: choose a plain variable name (not a keyword, a "
                         "builtin or a __dunder__ name), e.g. -o sent")


#: perf_counter at the start of the cell running now (autonotify watches the cell that
#: switches it on from there)
_cell_started = [0.0]


def _note_cell_start(info: Any = None) -> None:
    _cell_started[0] = time.perf_counter()


def register(ipython: Any) -> None:
    ipython.register_magics(ZoomChat)
    ipython.events.register("pre_run_cell", _note_cell_start)


def unregister(ipython: Any) -> None:
    """``%unload_ext zoom_notebook``: stop autonotify and remove both magics."""
    manager = ipython.magics_manager
    magics = manager.registry.pop("ZoomChat", None)
    try:
        ipython.events.unregister("pre_run_cell", _note_cell_start)
    except ValueError:
        pass
    from zoom_notebook.core.config import set_session

    set_session(default_channel=None, default_contact=None, dry_run=None)
    if magics is not None and magics.autonotifier is not None:
        magics.autonotifier.unregister()
        magics.autonotifier = None
    if magics is not None:
        magics._stop_watchdog()  # a clean end
    for kind in ("line", "cell"):
        manager.magics[kind].pop("zoomchat", None)
