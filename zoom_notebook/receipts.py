"""Inline receipts: shown when a send starts, updated in place to "sent" or to the error
with what to do. HTML for the notebook, ``text/plain`` beside it. A receipt is plain
output: re-opening or re-rendering a saved notebook shows it and never sends again."""

from __future__ import annotations

import dataclasses

from .display import Card, Live, Shown, preview
from .errors import ZoomAPIError

#: a receipt that can be updated in place (see ``zoom_notebook.display.Live``)
Receipt = Live


@dataclasses.dataclass(repr=False)
class Sending(Shown):
    """A message on its way."""

    target: str
    text: str
    note: str = "sending…"

    def card(self) -> Card:
        return Card(f"⏳ Zoom: {self.note} to {self.target}",
                    [("to", self.target)], body=preview(self.text), tone="pending")


@dataclasses.dataclass(repr=False)
class Failed(Shown):
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

    def card(self) -> Card:
        rows = [("to", self.target), ("error", self.error)]
        if self.hint:
            rows.append(("what now", self.hint))
        head = "? Zoom: outcome unknown" if self.unknown else "✗ Zoom: NOT sent"
        return Card(head, rows, body=preview(self.text),
                    tone="unknown" if self.unknown else "error")
