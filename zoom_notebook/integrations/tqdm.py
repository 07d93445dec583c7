"""``from zoom_notebook.tqdm import tqdm, trange``: tqdm that also keeps ONE Zoom message up
to date, the way ``tqdm.contrib.slack`` does for Slack (needs ``pip install tqdm``, the
``tqdm`` extra).

It subclasses ``tqdm.auto.tqdm`` (so the bar in the notebook or terminal is unchanged)
and hands the Zoom side to the same machinery as ``zn.progress``: the first message and
every edit go through the background outbox (the loop never waits for Zoom), an edit at
most once every ``every`` seconds (default 10, like ``zn.progress``), and always a final
one when the bar closes: ``✅ done``, or ``⏹ stopped at 37/100`` for a loop left early.
"""

from __future__ import annotations

import time
from typing import Any

try:
    from tqdm.auto import tqdm as _tqdm_auto
except ImportError as exc:  # pragma: no cover - the extra is missing
    from zoom_notebook.core.errors import install_hint

    raise ImportError(f"zoom_notebook.tqdm needs tqdm: {install_hint('tqdm')}") from exc

from zoom_notebook.core.message import Mentions

__all__ = ["tqdm", "trange"]


class tqdm(_tqdm_auto):  # type: ignore[misc]
    """``tqdm.auto.tqdm``, plus one Zoom message kept up to date.

    Extra arguments: ``to_channel`` / ``to_contact`` (else the configured default),
    ``mentions``, ``reply_to``, ``every`` (seconds between edits, default 10)."""

    def __init__(self, *args: Any, to_channel: str | None = None,
                 to_contact: str | None = None, mentions: Mentions = None,
                 reply_to: str | None = None, every: float = 10.0, **kwargs: Any) -> None:
        self._zoom: Any = None
        self._zoom_last = 0.0
        self._zoom_every = float(every)
        if not kwargs.get("disable"):
            from zoom_notebook.features.alerts import progress

            # Checked (target, mentions, reply) before the bar starts, as zn.progress does.
            self._zoom = progress((), desc=str(kwargs.get("desc") or "Progress"),
                                  to_channel=to_channel, to_contact=to_contact,
                                  mentions=mentions, reply_to=reply_to, every=every)
        super().__init__(*args, **kwargs)
        if self._zoom is not None:
            self._zoom.total = self.total
            self._zoom.start()
            self._zoom_last = time.monotonic()

    def _zoom_text(self) -> str:
        fmt = dict(self.format_dict)
        fmt["ascii"] = True  # a bar of # and spaces: the same in every Zoom client
        fmt["ncols"] = 60
        return "⏳ " + str(self.format_meter(**fmt)).replace("\r", "").strip()

    def display(self, *args: Any, **kwargs: Any) -> Any:
        shown = super().display(*args, **kwargs)
        zoom = self._zoom
        if zoom is not None and time.monotonic() - self._zoom_last >= self._zoom_every:
            self._zoom_last = time.monotonic()
            zoom.n = self.n
            zoom.update(self._zoom_text())
        return shown

    def close(self) -> None:
        zoom, self._zoom = getattr(self, "_zoom", None), None
        super().close()
        if zoom is None:
            return
        zoom.n, zoom.total = self.n, self.total
        if self.total is None or self.n >= self.total:
            zoom.done()
        else:
            zoom.stopped()


def trange(*args: Any, **kwargs: Any) -> tqdm:
    """``tqdm(range(*args), **kwargs)``."""
    return tqdm(range(*args), **kwargs)
