"""The ``%zoomchat`` magics: thin glue over the plain functions of the package."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .errors import ZoomNotebookError

USAGE = """\
%zoomchat login [--browser | --paste | --device]
%zoomchat logout
%zoomchat status"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel
        raise UsageError(f"{message}\nusage:\n{USAGE}")


class UsageError(ZoomNotebookError):
    """Raised when: a ``%zoomchat`` line does not parse."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%zoomchat", add_help=False)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    login = sub.add_parser("login", add_help=False)
    how = login.add_mutually_exclusive_group()
    how.add_argument("--browser", dest="method", action="store_const", const="browser")
    how.add_argument("--paste", dest="method", action="store_const", const="paste")
    how.add_argument("--device", dest="method", action="store_const", const="device")
    sub.add_parser("logout", add_help=False)
    sub.add_parser("status", add_help=False)
    return parser


@magics_class
class ZoomChat(Magics):  # type: ignore[misc]
    """Zoom Team Chat from the notebook. ``%zoomchat?`` lists the commands."""

    @line_magic
    def zoomchat(self, line: str) -> Any:
        """Zoom Team Chat commands.

        %zoomchat login [--browser | --paste | --device]
            Log in (browser: approve in a browser tab; paste: paste the address the
            browser ends on, for remote kernels; device: enter a code on another device).
        %zoomchat logout
            Revoke the saved login at Zoom and delete it.
        %zoomchat status
            Who is logged in, how, and until when.
        """
        from . import auth

        args = _parser().parse_args(shlex.split(line))
        if args.command == "login":
            return auth.login(args.method or "auto")
        if args.command == "logout":
            message = auth.logout()
            print(message)
            return None
        if args.command == "status":
            return auth.status()
        raise UsageError(f"usage:\n{USAGE}")


def register(ipython: Any) -> None:
    ipython.register_magics(ZoomChat)


def unregister(ipython: Any) -> None:
    pass
