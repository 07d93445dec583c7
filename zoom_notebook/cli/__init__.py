"""The ``zoom-notebook`` command: login, logout, status, send, outbox, keep-secret,
sandbox and demo, each a thin layer over the same functions the notebook uses. Every
failure is one line on stderr (exit 1), never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from zoom_notebook.core.arguments import (
    ask_args,
    login_args,
    message_args,
    outbox_args,
    parse_choices,
    parse_mentions,
    target_args,
    text_args,
    watchdog_args,
)
from zoom_notebook.core.errors import ValidationError, ZoomNotebookError

#: The package's messages speak Python and IPython (``%zoomchat login``, ``to_channel=``);
#: the shell hears the same advice in its own words. Applied to everything the command
#: prints (tests/test_cli.py greps help and errors for what must not be left).
SHELL_WORDS = [
    (r"`?%zoomchat login`? \(or zn\.login\(\)\)", "`zoom-notebook login`"),
    (r"\(?or zn\.keep_client_secret\(\)\)", ""),
    (r"%zoomchat (login|logout|status|outbox|send|ask|watchdog)", r"zoom-notebook \1"),
    (r"zn\.login\(\)", "zoom-notebook login"),
    (r"zn\.logout\(\)", "zoom-notebook logout"),
    (r"zn\.status\(\)", "zoom-notebook status"),
    (r"zn\.channels\(\)", "zoom-notebook channels"),
    (r"zn\.contacts\([^)]*\)", "zoom-notebook contacts"),
    (r"zn\.scheduled\(to_channel=\.\.\.\)", "zn.scheduled(...) in Python"),
    (r"\(`%config ZoomChat\.default_channel = '\.\.\.'` or default_channel in config\.json\)",
     "(default_channel in config.json in the home folder)"),
    (r"`?%config ZoomChat\.default_channel[^`]*`?", "default_channel in config.json"),
    (r"\bto_channel= or to_contact=", "-c CHANNEL or -t CONTACT"),
    (r"\bto_channel=", "-c CHANNEL"),
    (r"\bto_contact=", "-t CONTACT"),
    (r"\bto_contact/to_channel\b", "-c/-t"),
    (r"\bto_channel\b", "-c"),
    (r"\bto_contact\b", "-t"),
]


def shell_words(text: str) -> str:
    """``text`` with the Python/IPython advice in it said as shell commands and flags."""
    import re

    for pattern, replacement in SHELL_WORDS:
        text = re.sub(pattern, replacement, text)
    return text


class _ShellStream:
    """A text stream that says what is written to it in shell words."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(shell_words(text))  # type: ignore[attr-defined,no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def _parser() -> argparse.ArgumentParser:
    from zoom_notebook.core import __version__

    parser = argparse.ArgumentParser(prog="zoom-notebook",
                                     description="Talk to Zoom Team Chat from the shell.")
    parser.add_argument("--version", action="version", version=f"zoom-notebook {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    real_add = sub.add_parser

    def add_parser(name: str, **kwargs: object) -> argparse.ArgumentParser:
        # each command's --help starts with what it does (its line in the list)
        kwargs.setdefault("description", str(kwargs.get("help", "")).capitalize() + ".")
        return real_add(name, **kwargs)  # type: ignore[arg-type]

    sub.add_parser = add_parser  # type: ignore[method-assign]

    login = sub.add_parser("login", help="log in to Zoom (a browser on this machine, a "
                                         "pasted address, or a device code)")
    login_args(login)
    login.add_argument("--no-browser", dest="open_browser", action="store_false",
                       help="print the link instead of opening a browser")
    sub.add_parser("logout", help="revoke the login at Zoom and delete it here")
    sub.add_parser("status", help="who is logged in, how, until when, stored where, and "
                                  "what this login can do")

    send = sub.add_parser("send", help="send a message")
    message_args(send, required=True)  # the same -c/-t/-r/-m as %zoomchat send
    text_args(send)
    send.add_argument("-f", "--file", action="append", default=[], help="file to attach")
    send.add_argument("text", nargs="+", help="the message")

    ask_args(sub.add_parser("ask", help="post a question and print the first fitting "
                                        "reply in its thread (exit 3 on --timeout)"))

    watch = sub.add_parser("watchdog", help="run COMMAND with a watchdog: if this machine "
                                            "or the command is killed, Zoom posts")
    watchdog_args(watch)
    watch.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                       help="the command to run (its exit status is returned)")

    runp = sub.add_parser("run", help="execute a notebook with papermill and post its "
                                      "start, end or failure in one thread")
    target_args(runp)
    runp.add_argument("notebook", metavar="NOTEBOOK.ipynb",
                      help="the notebook to execute (a name starting with '-' after --)")
    runp.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                      default=[], metavar=("NAME", "VALUE"),
                      help="a parameter for papermill (VALUE read as JSON when it is)")
    runp.add_argument("--output", metavar="OUT.ipynb",
                      help="where the executed notebook goes (default NAME-output.ipynb)")

    docs = sub.add_parser("docs", help="print a page of the documentation (the list with no "
                                       "PAGE): it comes with the package")
    docs.add_argument("page", nargs="?", metavar="PAGE", help="e.g. zoom-app, troubleshooting")
    sub.add_parser("channels", help="list the channels you belong to, with their ids")
    contacts = sub.add_parser("contacts", help="list your contacts, or search the company "
                                               "directory")
    contacts.add_argument("search", nargs="?", metavar="SEARCH",
                          help="a name or email to search for")

    outbox = sub.add_parser("outbox", help="list the messages that could not be "
                                           "delivered, and send them again")
    outbox_args(outbox)

    sandbox = sub.add_parser("sandbox", help="run the local Zoom-compatible sandbox")
    sandbox.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sandbox.add_argument("--qps", type=int, default=None, help="account limit per second")
    sandbox.add_argument("--app-scopes", default="granular", metavar="granular|classic|LIST",
                         help="the scopes of the sandbox's OAuth app: granular (an app made "
                              "today, the default), classic (made before 2024), or the scope "
                              "names, comma- or space-separated (an app missing a scope)")
    sandbox.add_argument("--env-file", type=Path, default=None,
                         help="where to write the environment for clients (addresses, the "
                              "app's client id, a home folder of its own); default: "
                              "sandbox.env in ZOOM_NOTEBOOK_HOME")

    keep = sub.add_parser("keep-secret", help="keep the app's client secret in the token "
                                              "folder instead of the environment")
    keep.add_argument("--forget", action="store_true", help="remove the kept secret")

    demo = sub.add_parser("demo", help="the sandbox and JupyterLab on the quickstart "
                                       "notebook (run from a checkout)")
    demo.add_argument("--headless", action="store_true",
                      help="no JupyterLab: run the quickstart and print what was received")
    demo.add_argument("--no-browser", dest="open_browser", action="store_false",
                      help="do not open a browser (the addresses are printed)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _ShellStream(out), _ShellStream(err)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = out, err


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "login":
            from zoom_notebook.account.login import login, scopes_for

            print(repr(login(args.method or "auto", open_browser=args.open_browser,
                             scopes=scopes_for(*args.features) if args.features else ())))
            return 0
        if args.command == "logout":
            from zoom_notebook.account.login import logout

            print(logout())
            return 0
        if args.command == "status":
            from zoom_notebook.account.login import status

            result = status()
            print(repr(result))
            return 0 if result.logged_in else 1
        if args.command == "outbox":
            return _outbox(args)
        if args.command == "docs":
            return _docs(args.page)
        if args.command == "channels":
            from zoom_notebook.account.people import channels

            for channel in channels():
                print(f"#{channel.name}\t{channel.id}")
            return 0
        if args.command == "contacts":
            from zoom_notebook.account.people import contacts

            for person in contacts(args.search):
                print("\t".join(str(v) for v in vars(person).values() if v))
            return 0
        if args.command == "send":
            return _send(args)
        if args.command == "ask":
            return _ask(args)
        if args.command == "run":
            from zoom_notebook.features.context import parse_value
            from zoom_notebook.features.runner import run as run_notebook

            return run_notebook(args.notebook, output=args.output, to_channel=args.channel,
                       to_contact=args.contact,
                       parameters={k: parse_value(v) for k, v in args.parameters})
        if args.command == "watchdog":
            return _watchdog(args)
        if args.command == "sandbox":
            return _sandbox(args)
        if args.command == "keep-secret":
            from zoom_notebook.account.login import keep_client_secret

            print(keep_client_secret(forget=args.forget))
            return 0
        if args.command == "demo":
            from zoom_notebook.cli.demo import run

            return run(headless=args.headless, open_browser=args.open_browser)
    except ZoomNotebookError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `zoom-notebook docs zoom-app | head`: the reader had enough
        sys.stderr = open(os.devnull, "w")
        return 0
    except OSError as exc:  # a full disk, a folder we may not write: one line, no trace
        print(f"error: {exc.strerror or type(exc).__name__}"
              f"{f' ({exc.filename})' if exc.filename else ''}", file=sys.stderr)
        return 1
    return 2  # pragma: no cover


def _send(args: argparse.Namespace) -> int:
    from zoom_notebook.delivery.draft import prepare
    from zoom_notebook.delivery.policy import NOW_KEEP, deliver_as
    from zoom_notebook.delivery.sending import latest_thread

    reply_to = args.reply_to
    if reply_to == "last":  # a shell command has no earlier send to remember: ask Zoom
        reply_to = latest_thread(to_channel=args.channel, to_contact=args.contact)
    draft = prepare(" ".join(args.text), to_channel=args.channel, to_contact=args.contact,
                    reply_to=reply_to, mentions=parse_mentions(args.mentions),
                    files=args.file, markdown=not args.plain, at=args.at)
    print(f"Sending to {args.channel or args.contact}…", file=sys.stderr, flush=True)
    outcome = deliver_as(draft, NOW_KEEP, show=False)  # as %%zoomchat: shown, and kept
    if outcome.sent is None:
        print(f"error: {outcome.words}", file=sys.stderr)
        return 1
    print(repr(outcome.sent))
    return 0


def _ask(args: argparse.Namespace) -> int:
    from zoom_notebook.core.errors import AskTimeout
    from zoom_notebook.features.answers import ask

    try:
        answer = ask(" ".join(args.question), to_channel=args.channel,
                     to_contact=args.contact, choices=parse_choices(args.choices),
                     timeout=args.timeout,
                     from_users=args.from_users)
    except AskTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(answer)
    print(f"answered by {answer.user}", file=sys.stderr)
    return 0


def _watchdog(args: argparse.Namespace) -> int:
    import socket
    import subprocess

    from zoom_notebook.features.kernel_watch import watchdog

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise ValidationError("COMMAND", "give the command to run after --, e.g. "
                                         "zoom-notebook watchdog -c '#alerts' -- python train.py")
    name = " ".join(cmd)[:60]
    who = f"`{name}` on {socket.gethostname()}"
    dog = watchdog(args.after, to_channel=args.channel, to_contact=args.contact, who=who)
    dog.start()
    try:
        code = subprocess.call(cmd)  # noqa: S603 - the command the user typed
    except BaseException:
        dog.abandon()  # interrupted or could not start: Zoom still posts when it is due
        raise
    if code == 0:
        dog.stop()  # the one clean end: the scheduled message is cancelled
        return 0
    # Killed by a signal (the OOM killer's SIGKILL) or failed: said now, in Zoom; the
    # scheduled message is cancelled only once that is posted, else Zoom posts it later.
    how = (f"was killed by {_signal_name(-code)}" if code < 0
           else f"failed with exit status {code}")
    status = 128 - code if code < 0 else code  # as a shell reports a signal
    try:
        from zoom_notebook.delivery.sending import send

        send(f"❌ {who} {how}", markdown=False, **dog.target)
    except ZoomNotebookError as exc:
        print(f"error: could not post that {name} {how} ({exc}); the watchdog's scheduled "
              "message stays in Zoom and will say it", file=sys.stderr)
        dog.abandon()
        return status
    dog.stop()
    print(f"error: {name} {how}", file=sys.stderr)
    return status


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def docs_folder() -> Path | None:
    """Where the Markdown docs are: the checkout's docs/, or the wheel's copy in
    ``{prefix}/share/zoom-notebook/docs``."""
    for folder in (Path(__file__).resolve().parents[2] / "docs",
                   Path(sys.prefix) / "share" / "zoom-notebook" / "docs"):
        if (folder / "index.md").is_file():
            return folder
    return None


def _docs(page: str | None) -> int:
    folder = docs_folder()
    if folder is None:
        raise ValidationError("PAGE", "the documentation is not installed with this copy")
    pages = sorted(p.stem for p in folder.glob("*.md"))
    if page is None:
        print("Pages (zoom-notebook docs PAGE):\n  " + "\n  ".join(pages))
        return 0
    name = page.removesuffix(".md").removeprefix("docs/")
    if name not in pages:
        raise ValidationError("PAGE", f"no page {page!r}: choose one of {', '.join(pages)}")
    print((folder / f"{name}.md").read_text(encoding="utf-8"))
    return 0


def _outbox(args: argparse.Namespace) -> int:
    from zoom_notebook.delivery.outbox import get_outbox, outbox_report

    box = get_outbox()
    try:
        lines, failed = outbox_report(box, clear=args.clear, list_only=args.list,
                                      include_unknown=args.unknown)
        for text in lines:
            print(text)
        for item in failed:
            print(f"  not delivered: to {item.target}: {item.text[:80]!r} — "
                  f"{item.error or '?'}. {item.hint or 'It is still kept in the outbox.'}")
        return 1 if failed else 0
    finally:
        box.flush(10.0)


def write_env_file(path: Path, env: dict[str, str]) -> None:
    """Write ``export`` lines readable by the owner only (they hold a token)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        for key, value in env.items():
            fh.write(f"export {key}='{value}'\n")
    os.chmod(path, 0o600)


def _sandbox(args: argparse.Namespace) -> int:
    from zoom_notebook.core.config import Settings
    from zoom_notebook.core.store import save_client_secret
    from zoom_notebook.sandbox import Sandbox

    sb = Sandbox(port=args.port, qps=args.qps, app_scopes=args.app_scopes).start()
    env_file = args.env_file or Settings.load().home_dir / "sandbox.env"
    # A home folder of its own: a sandbox login never touches your real Zoom login, and
    # the sandbox app's secret is kept there (not in the environment), as keep-secret does.
    home = env_file.parent / (env_file.stem + "-home")
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    save_client_secret(home, sb.client_id, sb.client_secret)
    write_env_file(env_file, {**sb.env(), "ZOOM_NOTEBOOK_HOME": str(home)})
    hook_file = env_file.with_name(env_file.stem + "-webhook.env")
    write_env_file(hook_file, sb.webhook_env())
    channels = ", ".join(f"#{c.name}" for c in sb.world.channels.values())
    people = ", ".join(u.email for u in list(sb.world.users.values())[:4])
    print(f"Zoom sandbox on {sb.url}  (what it received: {sb.url}/)")
    print(f"1. Point a shell (or the shell you start Jupyter from) at it:  source {env_file}")
    print("2. Log in:  zoom-notebook login   (or %zoomchat login in a notebook; the sandbox's "
          "consent page opens: click Allow. --paste and --device work too)")
    print('3. Send:    zoom-notebook send -c "#data-science" "hello"')
    print(f"Channels: {channels}")
    print(f"People: {people}, …")
    print(f"Incoming Webhook (#alerts): source {hook_file}")
    print("Ctrl-C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sb.stop()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
