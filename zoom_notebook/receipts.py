"""Inline receipts: shown when a send starts, updated in place to "sent" or to the error
with what to do. HTML for the notebook, ``text/plain`` beside it. A receipt is plain
output: re-opening or re-rendering a saved notebook shows it and never sends again."""

from __future__ import annotations

import dataclasses
import html
import sys
from typing import Any

from .errors import ZoomAPIError


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _table(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(
        f"<tr><th style='text-align:left;padding-right:1em;vertical-align:top'>"
        f"{html.escape(k)}</th><td style='white-space:pre-wrap'>{html.escape(v)}</td></tr>"
        for k, v in rows) + "</table>"


@dataclasses.dataclass
class Sending:
    """A message on its way."""

    target: str
    text: str
    note: str = "sending…"

    def __repr__(self) -> str:
        return f"Zoom: {self.note} to {self.target}"

    def _repr_html_(self) -> str:
        return (f"<div class='zoom-notebook-receipt'><b>⏳ Zoom: {html.escape(self.note)}</b>"
                f"{_table([('to', self.target), ('message', _preview(self.text))])}</div>")


@dataclasses.dataclass
class Failed:
    """A message that was not (or may not have been) delivered, and what to do."""

    target: str
    text: str
    error: str
    hint: str = ""
    code: int | None = None
    unknown: bool = False

    @classmethod
    def from_error(cls, exc: BaseException, target: str, text: str, kept: bool,
                   not_kept: str | None = None) -> "Failed":
        """``kept``: the outbox holds it; ``not_kept``: why it could not (receipts never
        claim "kept" for what was not written: SECURITY.md 29)."""
        from .errors import OutcomeUnknown

        code = exc.code if isinstance(exc, ZoomAPIError) else None
        hint = ""
        if not kept and not_kept:
            hint = (f"It could NOT be kept in the outbox ({not_kept}): copy the message from "
                    "here if you need it.")
        if kept:
            hint = ("It may or may not have arrived, so it was not resent; it is kept in "
                    "the outbox: `%zoomchat outbox --unknown` resends it."
                    if isinstance(exc, OutcomeUnknown)
                    else "It is kept in the outbox: `%zoomchat outbox` retries it.")
        return cls(target, text, f"{type(exc).__name__}: {exc}", hint, code,
                   isinstance(exc, OutcomeUnknown))

    def _rows(self) -> list[tuple[str, str]]:
        rows = [("to", self.target), ("error", self.error)]
        if self.hint:
            rows.append(("what now", self.hint))
        rows.append(("message", _preview(self.text)))
        return rows

    def __repr__(self) -> str:
        head = "Zoom: outcome unknown" if self.unknown else "Zoom: NOT sent"
        return "\n".join([head] + [f"  {k}: {v}" for k, v in self._rows()])

    def _repr_html_(self) -> str:
        head = "? Zoom: outcome unknown" if self.unknown else "✗ Zoom: not sent"
        return (f"<div class='zoom-notebook-receipt' style='color:#a00'><b>{head}</b>"
                f"{_table(self._rows())}</div>")


def _preview(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class Receipt:
    """A display that can be updated in place (a no-op outside IPython)."""

    def __init__(self, initial: Any, *, show: bool = True) -> None:
        self._handle: Any = None
        if show and _shell() is not None:
            from IPython.display import display

            self._handle = display(initial, display_id=True)  # type: ignore[no-untyped-call]

    def update(self, obj: Any) -> None:
        if self._handle is not None:
            self._handle.update(obj)
