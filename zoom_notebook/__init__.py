"""zoom-notebook: talk to Zoom Team Chat from Jupyter.

``import zoom_notebook as zn`` then ``zn.send("hello", to_channel="...")``. In IPython,
``%load_ext zoom_notebook`` registers the ``%zoomchat`` magics. Importing this package
is cheap: requests, authlib and ipywidgets load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AskTimeout,
    AuthError,
    ConnectFailed,
    LoginDenied,
    MissingScope,
    OutcomeUnknown,
    RateLimited,
    ReauthRequired,
    ValidationError,
    ZoomAPIError,
    ZoomNotebookError,
)

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "AskTimeout",
    "AuthError",
    "ComposeForm",
    "ConnectFailed",
    "LoginDenied",
    "MissingScope",
    "OutcomeUnknown",
    "RateLimited",
    "ReauthRequired",
    "SentMessage",
    "Settings",
    "ValidationError",
    "ZoomAPIError",
    "ZoomChatClient",
    "ZoomNotebookError",
    "ask",
    "build_message",
    "channels",
    "compose",
    "contacts",
    "keep_client_secret",
    "load_ipython_extension",
    "login",
    "logout",
    "notify",
    "progress",
    "sandbox",
    "scheduled",
    "send",
    "split_message",
    "status",
    "unload_ipython_extension",
    "watchdog",
]

# name -> module that defines it; imported on first attribute access.
_LAZY = {
    "ask": ".answers",
    "Answer": ".answers",
    "watchdog": ".kernel_watch",
    "channels": ".people",
    "contacts": ".people",
    "compose": ".form",
    "ComposeForm": ".form",
    "notify": ".alerts",
    "progress": ".alerts",
    "keep_client_secret": ".auth",
    "login": ".auth",
    "logout": ".auth",
    "status": ".auth",
    "send": ".api",
    "scheduled": ".api",
    "SentMessage": ".api",
    "ZoomChatClient": ".client",
    "Settings": ".config",
    "build_message": ".message",
    "split_message": ".message",
}

#: what ``pip install 'zoom-notebook[notebook]'`` adds (the form and the magics need it)
NOTEBOOK_EXTRA = frozenset({"ipywidgets", "IPython", "traitlets"})

#: submodules reachable as attributes before anything imported them
_SUBMODULES = frozenset({"sandbox", "api", "outbox", "people", "directory", "client",
                         "auth", "scopes"})

if TYPE_CHECKING:  # pragma: no cover
    from . import sandbox
    from .alerts import notify, progress
    from .answers import Answer, ask
    from .api import SentMessage, scheduled, send
    from .auth import keep_client_secret, login, logout, status
    from .client import ZoomChatClient
    from .config import Settings
    from .form import ComposeForm, compose
    from .kernel_watch import watchdog
    from .message import build_message, split_message
    from .people import channels, contacts


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # zn.api.client() works in a fresh kernel too
        return importlib.import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoom_notebook' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module, __name__), name)
    except ModuleNotFoundError as exc:
        if exc.name not in NOTEBOOK_EXTRA:
            raise
        from .errors import install_hint

        raise ModuleNotFoundError(
            f"zn.{name} needs the notebook extra ({exc.name} is not installed): "
            f"{install_hint('notebook')}; then restart the kernel", name=exc.name) from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """What ``zn.<Tab>`` offers: the public names (and the submodules people use), not
    this module's own imports (``Any``, ``importlib``, ``annotations``)."""
    return sorted(set(__all__) | {"__version__", "auth", "api", "sandbox", "scopes"})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext zoom_notebook``: register the ``%zoomchat`` magics (cheaply), and
    deliver in the background what a dead kernel left in the outbox."""
    try:
        from .magics import register
    except ModuleNotFoundError as exc:  # IPython is there (it loads us), traitlets not
        from .errors import install_hint

        raise ModuleNotFoundError(
            f"%load_ext zoom_notebook needs {exc.name}: {install_hint('notebook')}",
            name=exc.name) from None
    import threading

    register(ipython)
    # A moment later, in a thread that imports the outbox itself: %load_ext stays nearly
    # free (its cell is not held up, nor its time shared with that import).
    timer = threading.Timer(0.2, _recover)
    timer.name, timer.daemon = "zoom-notebook-recover", True
    timer.start()


def _recover() -> None:
    from .outbox import recover_now

    recover_now()


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unregister

    unregister(ipython)
