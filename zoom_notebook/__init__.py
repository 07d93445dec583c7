"""zoom-notebook: talk to Zoom Team Chat from Jupyter.

``import zoom_notebook as zn`` then ``zn.send("hello", to_channel="...")``. In IPython,
``%load_ext zoom_notebook`` registers the ``%zoomchat`` magics. Importing this package
is cheap: requests, authlib and ipywidgets load on first use.

The layers, lowest first (a module imports only its own layer and lower ones):
``core`` < ``zoom`` (HTTP) < ``account`` < ``delivery`` < ``features`` < ``notebook`` /
``integrations`` < ``sandbox`` < ``cli``. Rules for reviewers:

1. only ``delivery/draft.py`` builds a payload (``prepare``);
2. only ``delivery/sending.py`` sends now and only ``delivery/outbox.py`` queues
   (``delivery/policy.py`` picks, per entry point, what a failure does);
3. only ``core/retry.py`` decides how long to wait (``core/flood.py`` paces channels).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from zoom_notebook.core import __version__ as __version__
from zoom_notebook.core.errors import (
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
    "ask": "zoom_notebook.features.answers",
    "Answer": "zoom_notebook.features.answers",
    "watchdog": "zoom_notebook.features.kernel_watch",
    "channels": "zoom_notebook.account.people",
    "contacts": "zoom_notebook.account.people",
    "compose": "zoom_notebook.notebook.form",
    "ComposeForm": "zoom_notebook.notebook.form",
    "notify": "zoom_notebook.features.alerts",
    "progress": "zoom_notebook.features.alerts",
    "keep_client_secret": "zoom_notebook.account.login",
    "login": "zoom_notebook.account.login",
    "logout": "zoom_notebook.account.login",
    "status": "zoom_notebook.account.login",
    "send": "zoom_notebook.delivery.sending",
    "scheduled": "zoom_notebook.delivery.scheduled",
    "SentMessage": "zoom_notebook.delivery.receipts",
    "ZoomChatClient": "zoom_notebook.zoom.client",
    "Settings": "zoom_notebook.core.config",
    "build_message": "zoom_notebook.core.message",
    "split_message": "zoom_notebook.core.message",
}

#: The flat names of 0.x (``zoom_notebook.api``, ``zoom_notebook.tqdm``, ...) keep working:
#: each is the SAME module object as its home in a layer package (so patching one patches
#: the other). Code inside the package imports the layer paths; tests/test_layers.py
#: checks that.
MOVED = {
    "_magics_help": "notebook._magics_help",
    "_spec_scopes": "core._spec_scopes",
    "alerts": "features.alerts",
    "answers": "features.answers",
    "api": "delivery.api",
    "arguments": "core.arguments",
    "auth": "account.login",
    "autonotify": "notebook.autonotify",
    "capture": "notebook.capture",
    "client": "zoom.client",
    "config": "core.config",
    "credentials": "zoom.credentials",
    "dask": "integrations.dask",
    "demo": "cli.demo",
    "directory": "account.people",
    "display": "core.display",
    "errors": "core.errors",
    "flood": "core.flood",
    "form": "notebook.form",
    "kernel_watch": "features.kernel_watch",
    "locking": "core.locking",
    "loopback": "account.loopback",
    "magics": "notebook.magics",
    "markdown": "core.markdown",
    "message": "core.message",
    "nbui": "core.nbui",
    "outbox": "delivery.outbox",
    "people": "account.people",
    "poller": "zoom.poller",
    "receipts": "delivery.receipts",
    "resolve": "zoom.resolve",
    "retry": "core.retry",
    "richview": "core.richview",
    "runner": "features.runner",
    "schedule": "core.schedule",
    "scopes": "core.scopes",
    "secret": "core.secret",
    "store": "core.store",
    "tqdm": "integrations.tqdm",
    "userauth": "zoom.userauth",
    "webhook": "zoom.webhook",
}


class _Moved:  # a meta path finder and its loader (importlib.abc costs 4 ms to import)
    """Finds ``zoom_notebook.<old flat name>`` as the module in its layer package."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or name not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)  # type: ignore[arg-type]

    def create_module(self, spec: Any) -> Any:
        module = importlib.import_module(f"{__name__}.{MOVED[spec.name.partition('.')[2]]}")
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module: Any) -> None:
        """Already executed under its layer name; the import system has just written the
        alias's spec over the module's own: put its own back."""
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(f, _Moved) for f in sys.meta_path):
    sys.meta_path.insert(0, _Moved())


#: what ``pip install 'zoom-notebook[notebook]'`` adds (the form and the magics need it)
NOTEBOOK_EXTRA = frozenset({"ipywidgets", "IPython", "traitlets"})

#: submodules reachable as attributes before anything imported them
_SUBMODULES = frozenset({"sandbox", "api", "outbox", "people", "directory", "client",
                         "auth", "scopes"})

if TYPE_CHECKING:  # pragma: no cover
    from zoom_notebook import sandbox
    from zoom_notebook.account.login import keep_client_secret, login, logout, status
    from zoom_notebook.account.people import channels, contacts
    from zoom_notebook.core.config import Settings
    from zoom_notebook.core.message import build_message, split_message
    from zoom_notebook.delivery.receipts import SentMessage
    from zoom_notebook.delivery.scheduled import scheduled
    from zoom_notebook.delivery.sending import send
    from zoom_notebook.features.alerts import notify, progress
    from zoom_notebook.features.answers import Answer, ask
    from zoom_notebook.features.kernel_watch import watchdog
    from zoom_notebook.notebook.form import ComposeForm, compose
    from zoom_notebook.zoom.client import ZoomChatClient


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES or name in MOVED:  # zn.api.client() works in a fresh kernel
        return importlib.import_module(f"zoom_notebook.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoom_notebook' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name not in NOTEBOOK_EXTRA:
            raise
        from zoom_notebook.core.errors import install_hint

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
        from zoom_notebook.notebook.magics import register
    except ModuleNotFoundError as exc:  # IPython is there (it loads us), traitlets not
        from zoom_notebook.core.errors import install_hint

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
    from zoom_notebook.delivery.outbox import recover_now

    recover_now()


def unload_ipython_extension(ipython: Any) -> None:
    from zoom_notebook.notebook.magics import unregister

    unregister(ipython)
