"""Options the ``%zoomchat`` magic and the ``zoom-notebook`` command share, defined once
(argparse only: no IPython here, so the CLI stays light)."""

from __future__ import annotations

import argparse

LOGIN_METHODS = (("browser", "PKCE with a redirect to 127.0.0.1 (the default on a local "
                             "machine)"),
                 ("paste", "paste the address the browser ends on (a remote kernel, SSH)"),
                 ("device", "enter a code on another device (RFC 8628)"))


def login_args(parser: argparse.ArgumentParser) -> None:
    how = parser.add_mutually_exclusive_group()
    for method, text in LOGIN_METHODS:
        how.add_argument(f"--{method}", dest="method", action="store_const", const=method,
                         help=text)


def outbox_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="only list, do not retry")
    parser.add_argument("--unknown", action="store_true",
                        help="also resend messages whose outcome was unknown, once Zoom "
                             "is read back and does not have them")
    parser.add_argument("--clear", action="store_true", help="discard the saved messages")
