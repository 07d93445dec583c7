"""The Jupyter server side of the JupyterLab / Notebook 7 extension (``zoom-notebook``).

Enabled on install (``etc/jupyter/jupyter_server_config.d/zoom_notebook.json``); it adds
routes under ``/zoom-notebook/`` that the browser extension uses (a watched cell ended,
the panel's lists) and reports the death of a watched notebook's kernel, seen by the
server's own kernel restarter. Everything is posted through the package's one delivery
layer, token store and outbox (``features.alerts.post_alert``). Nothing here is imported
by ``import zoom_notebook`` or ``%load_ext``: only Jupyter's server loads it."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "zoom_notebook.lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from zoom_notebook.lab.handlers import setup

    setup(serverapp)
