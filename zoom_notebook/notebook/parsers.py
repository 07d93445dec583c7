"""What the ``%zoomchat`` / ``%%zoomchat`` lines mean: their parsers (help included, from
the options ``core.arguments`` shares with the CLI) and how a line is split into words.
No IPython here: ``scripts/gen_magics_doc.py`` writes the help from these parsers."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from zoom_notebook.core.arguments import (
    ask_args,
    login_args,
    message_args,
    outbox_args,
    seconds,
    target_args,
    text_args,
    watchdog_args,
)
from zoom_notebook.core.errors import ZoomNotebookError

HELP_WIDTH = 88  # the help is the docstring and docs/magics.md: the same on every terminal


class UsageError(ZoomNotebookError):
    """Raised when: a ``%zoomchat`` line does not parse."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", False)
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:  # argparse would exit the kernel
        raise UsageError(f"{message}\n{self.format_usage().strip()}\n"
                         "(`%zoomchat --help` for every option)")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=HELP_WIDTH, max_help_position=30)


def cell_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%%zoomchat", description=(
        "Run the cell, then send what it produced (its printed output, its result, its "
        "figures as files; an error's short traceback) with a receipt shown below it."))
    message_args(parser)
    parser.add_argument("--message", metavar="TEXT",
                        help="text to send before the cell's output (default: which cell, "
                             "how long it took)")
    text_args(parser, schedule=False)
    parser.add_argument("--compose", action="store_true",
                        help="do not run the cell: send its text, {expressions} filled in "
                             "(they are evaluated even with --dry-run, as IPython's {var} is)")
    parser.add_argument("--no-output", dest="no_output", action="store_true",
                        help="send only the message, not the cell's output")
    parser.add_argument("--dry-run", dest="dry_run", action="store_true",
                        help="show the exact requests and send nothing")
    parser.add_argument("-o", dest="output_var", metavar="VAR",
                        help="store the SentMessage in this variable")
    parser.add_argument("-h", "--help", dest="help", action="store_true",
                        help="show this help and do not run the cell")
    return parser


#: subcommand -> what it does (its parser's description)
COMMANDS = {
    "send": "Send TEXT now and show the receipt.",
    "compose": "The compose form: pick a recipient, write, mention, reply, attach, send.",
    "autonotify": ("After every cell (or run of cells: Run All) slower than SECONDS "
                   "(default 60) or failing, post which cell, how long, and the tail of its "
                   "output or its error."),
    "outbox": ("List the messages that could not be delivered, and send them again (those "
               "whose outcome is unknown are read back in Zoom first)."),
    "ask": ("Post QUESTION and wait for the first fitting reply in its thread (a number or "
            "a choice with --choices); show the answer."),
    "watchdog": ("Keep ONE scheduled 'may have died' message due WHEN from now, renewed "
                 "while the kernel lives: if it is killed, Zoom posts it. --off cancels it."),
    "login": "Log in to Zoom (default: the browser, or paste on a remote kernel).",
    "logout": "Revoke the login at Zoom and delete it from this computer.",
    "status": "Who is logged in, how, until when, and where the login is kept.",
}


def line_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%zoomchat")
    parser.add_argument("-h", "--help", dest="help", action="store_true",
                        help="show the help of every command")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name, text in COMMANDS.items():
        sub.add_parser(name, help=text, description=text)
    send, compose, auto, outbox, login, ask, watch = (sub.choices[n] for n in (
        "send", "compose", "autonotify", "outbox", "login", "ask", "watchdog"))
    ask_args(ask)
    ask.add_argument("-m", "--mention", dest="mentions", action="append", default=[],
                     metavar="MENTION", help="mention someone (an email, or all)")
    ask.add_argument("-o", dest="output_var", metavar="VAR",
                     help="store the Answer in this variable")
    watchdog_args(watch)
    watch.add_argument("--off", action="store_true", help="cancel the watchdog (clean end)")
    message_args(send)
    text_args(send)
    send.add_argument("text", nargs="+", metavar="TEXT", help="the message")
    target_args(compose)
    target_args(auto)
    auto.add_argument("--after", type=seconds, default=None, metavar="SECONDS",
                      help="post cells that run longer than this (default: %%config "
                           "ZoomChat.autonotify_after, 60)")
    auto.add_argument("--batch-gap", dest="batch_gap", type=seconds, default=2.0,
                      metavar="SECONDS",
                      help="cells that start within SECONDS of the previous one's end (Run "
                           "All, a queue) are one batch: ONE alert when it ends (default 2; "
                           "0: every cell on its own)")
    auto.add_argument("--watchdog", metavar="WHEN", default=None,
                      help="also keep a watchdog (see %%zoomchat watchdog) to the same "
                           "place: Zoom posts if the kernel dies; --off ends both")
    auto.add_argument("--thread", action="store_true",
                      help="post every alert of this kernel in one thread")
    auto.add_argument("--off", action="store_true", help="stop autonotify")
    outbox_args(outbox)
    login_args(login)
    return parser


def help_text() -> str:
    """The whole help: the cell magic's, then each line command's, from the parsers."""
    line = line_parser()
    parts = ["Zoom Team Chat from the notebook.", "", "Cell magic", "----------", "",
             cell_parser().format_help().strip(), "", "Line magic", "----------", "",
             line.format_help().strip(), ""]
    subs = next(a for a in line._actions if isinstance(a, argparse._SubParsersAction))
    for parser in subs.choices.values():
        parts += [parser.format_help().strip(), ""]
    return "\n".join(parts).rstrip() + "\n"


def strip_comment(line: str) -> str:
    """The line without a trailing comment: a ``#`` that stands alone as a word start —
    after a space (or first) and followed by a space (or last) — outside quotes, as
    IPython users write ``%zoomchat login   # once``. ``#data-science`` and ``#42`` are
    words, not comments."""
    quote = ""
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()) and (
                i + 1 == len(line) or line[i + 1].isspace()):
            return line[:i]
    return line


def _split(line: str) -> list[str]:
    """The magic's words, as a shell splits them, without a trailing ``# comment``; a
    clear error for unbalanced quotes."""
    try:
        return shlex.split(strip_comment(line))
    except ValueError as exc:
        raise UsageError(f"{exc} in the %zoomchat line: close the quote, or escape an "
                         "apostrophe as \\' (or quote the whole text: \"it's done\")."
                         ) from None
