"""Where and when an alert comes from: its target (checked before the work starts), the
notebook, host, parameters and launcher of this run, how long it took, and the lines of a
traceback that are the user's. Shared by alerts, asking, the watchdog and the runner."""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import traceback
from pathlib import Path
from typing import Any

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.message import Mentions

#: what the kernel of a run is told (read by alerts.where_and_when)
PARAMETERS_ENV = "ZOOM_NOTEBOOK_PARAMETERS"


def parse_value(text: str) -> Any:
    """``-p epochs 3`` is the number 3, ``-p name resnet`` the text (papermill's -p)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


#: parameter names whose values are not shown in Zoom (an API key passed with -p)
SECRET_NAME = re.compile(r"key|token|secret|passw|credential|auth", re.I)


def describe(parameters: dict[str, Any]) -> str:
    """``epochs=30, lr=0.001``; a parameter named like a secret shows ``***``."""
    return ", ".join(f"{k}={'***' if SECRET_NAME.search(str(k)) else repr(v)}"
                     for k, v in parameters.items())


def check_names(parameters: dict[str, Any]) -> None:
    """Parameter names become Python assignments in the notebook: each must be a plain
    identifier (papermill writes ``NAME = VALUE`` into a cell)."""
    import keyword

    for name in parameters:
        if not (isinstance(name, str) and name.isidentifier()) or keyword.iskeyword(name):
            raise ValidationError("-p", f"{name!r} is not a parameter name: use letters, "
                                        "digits and _ (a Python variable name)")


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
    from zoom_notebook.zoom.webhook import configured

    if configured(settings):  # Zoom's Incoming Webhook app: alerts with no OAuth app
        return {"via": "webhook"}
    raise ValidationError("to_contact/to_channel", "say where alerts go: pass to_channel= or "
                          "to_contact=, or set a default (`%config ZoomChat.default_channel "
                          "= '...'` or default_channel in config.json), or set "
                          "ZOOM_WEBHOOK_URL and ZOOM_WEBHOOK_TOKEN (`zoom-notebook docs zoom-app`)")


def check_alert_target(target: dict[str, Any], mentions: Mentions, reply_to: str | None,
                       settings: Settings | None = None) -> None:
    """Validate a target, mentions and reply id (``"last"`` included) before any work."""
    from zoom_notebook.delivery.draft import prepare

    prepare("x", mentions=mentions, reply_to=reply_to, settings=settings, **target)


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
