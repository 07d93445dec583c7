"""Options the ``%zoomchat`` magic and the ``zoom-notebook`` command share, defined once
(argparse only: no IPython here, so the CLI stays light)."""

from __future__ import annotations

import argparse
from typing import Any

LOGIN_METHODS = (("browser", "PKCE with a redirect to 127.0.0.1 (the default on a local "
                             "machine)"),
                 ("paste", "paste the address the browser ends on (a remote kernel, SSH)"),
                 ("device", "enter a code on another device (RFC 8628)"))


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0 (``--after -5`` or ``nan`` is
    refused with the option named, before anything runs)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds >= 0")
    return value


def login_args(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    for method, text in LOGIN_METHODS:
        how.add_argument(f"--{method}", dest="method", action="store_const", const=method,
                         help=text)
    parser.add_argument("--only", dest="features", action="append", default=[],
                        metavar="FEATURE",
                        help="optional: name only these features' scopes in the login "
                             "(repeatable: send, edit, files, 'read back', threads, schedule, "
                             "channels, members, contacts, status). Default: ask for none, so "
                             "Zoom grants the scopes ticked on the app")


def outbox_args(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="only list, do not retry")
    what.add_argument("--retry", action="store_true",
                      help="send them again (what it does with no option)")
    what.add_argument("--clear", action="store_true", help="discard the saved messages")
    parser.add_argument("--unknown", action="store_true",
                        help="also resend messages whose outcome was unknown, once Zoom "
                             "is read back and does not have them")


def target_args(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("-c", "--channel", dest="channel", metavar="CHANNEL",
                       help="where to send: a channel id or '#name'" + (
                           "" if required else " (default: default_channel in config.json)"
                           if parser.prog.startswith("zoom-notebook") else
                           " (default: %%config ZoomChat.default_channel)"))
    group.add_argument("-t", "--contact", dest="contact", metavar="CONTACT",
                       help="or to a person: an email or user id")


def message_args(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """Target, thread and mentions: ``-c/-t``, ``-r ID|last``, ``-m MENTION``."""
    target_args(parser, required=required)
    parser.add_argument("-r", "--reply-to", dest="reply_to", metavar="ID|last",
                        help="reply in this thread: a main message id, or 'last' (the "
                             "thread last sent to there: by this kernel, or, from the "
                             "shell, your newest message there, read back from Zoom)")
    parser.add_argument("-m", "--mention", dest="mentions", action="append", default=[],
                        metavar="MENTION",
                        help="an email, 'all', or 'Display Name=email' (repeat -m for more)")


def text_args(parser: argparse.ArgumentParser, *, schedule: bool = True) -> None:
    """``--plain`` (the text is not Markdown) and ``--at WHEN`` (schedule it)."""
    parser.add_argument("--plain", action="store_true",
                        help="send the text as is (by default **bold**, *italic*, lists, "
                             "quotes, links and # headings become Zoom rich text)")
    if schedule:
        parser.add_argument("--at", dest="at", metavar="WHEN",
                            help="schedule it: '2h', '90m', '3d' or an ISO time like "
                                 "2026-12-24T09:00Z (Zoom: 30 min to 180 days ahead)")


def ask_args(parser: argparse.ArgumentParser) -> None:
    """``zn.ask``'s options: ``-c/-t``, ``--choices``, ``--timeout``, ``--from``, QUESTION."""
    target_args(parser)
    parser.add_argument("--choices", metavar="A,B,...", default=None,
                        help="the answers that count, comma-separated (a reply may also "
                             "give the number); without it any reply is the answer")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up after SECONDS (default: wait until answered or "
                             "stopped)")
    parser.add_argument("--from", dest="from_users", action="append", default=None,
                        metavar="EMAIL", help="only this person's reply counts (repeatable)")
    parser.add_argument("question", nargs="+", metavar="QUESTION", help="the question")


def parse_choices(value: str | None) -> list[str] | None:
    """``--choices yes,no`` as a list (None: any reply is the answer)."""
    return None if value is None else [c.strip() for c in value.split(",") if c.strip()]


def watchdog_args(parser: argparse.ArgumentParser) -> None:
    """``-c/-t`` and ``--after WHEN`` of a watchdog."""
    target_args(parser)
    parser.add_argument("--after", default="2h", metavar="WHEN",
                        help="how long it may stay silent: 2h, 90m ... (at least 30m; "
                             "default 2h)")


def parse_mentions(values: list[str]) -> Any:
    """``-m`` values: emails and 'all' as a list; any 'Name=email' makes it a dict."""
    if not values:
        return None
    if not any("=" in v for v in values):
        return list(values)
    out: dict[str, str] = {}
    for value in values:
        name, sep, email = value.partition("=")
        if sep:
            out[name.strip()] = email.strip()
        else:
            out[value] = value
    return out
