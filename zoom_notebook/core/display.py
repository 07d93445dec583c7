"""Everything zoom-notebook shows inline, drawn in one place.

Receipts (sending, sent, dry run, failed), the login status, login prompts and outbox
failures each describe their content once, as a ``Card`` (a headline, rows of
label and value, an optional preformatted block, a tone). This module turns a card into
HTML for the notebook and ``text/plain`` for terminals, logs and saved notebooks, with
one table style (left-aligned: JupyterLab right-aligns and centres tables by default),
one preview cut and one "are we in IPython?" check. No IPython import at module level:
the core stays importable without it.
"""

from __future__ import annotations

import dataclasses
import html
import sys
from typing import Any, Sequence

#: how many characters of a message a receipt shows
PREVIEW = 600

#: headline colour per tone (the text itself says the same, for screen readers and logs)
_COLOURS = {"ok": "", "pending": "", "info": "", "error": "#a00", "unknown": "#a60"}

_TABLE = "border-collapse:collapse;margin:0.2em 0 0.2em 0;table-layout:auto"
_CELL = "text-align:left;vertical-align:top;padding:0 1em 0 0;white-space:pre-wrap"


@dataclasses.dataclass(frozen=True)
class Card:
    """One inline thing: what it says, independent of how it is drawn."""

    #: the first line, e.g. "Sent to channel #data-science"
    head: str
    #: (label, value) rows
    rows: Sequence[tuple[str, str]] = ()
    #: a preformatted block under the rows (a message preview, a request)
    body: str | None = None
    #: ok | pending | info | error | unknown
    tone: str = "ok"
    #: the CSS class name suffix: receipt, status, login, …
    kind: str = "receipt"
    #: trusted HTML shown after the rows (a link button); its text form is ``link_text``
    html_extra: str = ""
    link_text: str = ""


def preview(text: str, limit: int = PREVIEW) -> str:
    """A message cut to ``limit`` characters, keeping its start and its end (where an
    alert's error line is), with how much was left out in between."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    left_out = len(text) - head - tail
    return f"{text[:head]}\n… ({left_out} characters not shown) …\n{text[-tail:]}"


def text(card: Card) -> str:
    """The ``text/plain`` form: the headline, then indented rows, then the block."""
    lines = [card.head] + [f"  {k}: {v}" for k, v in card.rows]
    if card.link_text:
        lines.append(card.link_text)
    if card.body is not None:
        lines += ["  " + line for line in card.body.splitlines() or [""]]
    return "\n".join(lines)


def to_html(card: Card) -> str:
    """The ``text/html`` form. Every value is escaped; only ``html_extra`` (built here in
    the package, never from user text) is trusted."""
    colour = _COLOURS.get(card.tone, "")
    style = f" style='color:{colour}'" if colour else ""
    parts = [f"<div class='zoom-notebook-{card.kind}'{style}><b>{html.escape(card.head)}</b>"]
    if card.rows:
        parts.append(f"<table style='{_TABLE}'>" + "".join(
            f"<tr><th style='{_CELL};font-weight:bold'>{html.escape(k)}</th>"
            f"<td style='{_CELL}'>{html.escape(v)}</td></tr>" for k, v in card.rows)
            + "</table>")
    parts.append(card.html_extra)
    if card.body is not None:
        parts.append("<pre style='white-space:pre-wrap;text-align:left;margin:0.2em 0'>"
                     f"{html.escape(card.body)}</pre>")
    parts.append("</div>")
    return "".join(parts)


class Shown:
    """A mixin: the object describes itself as a ``card``; its ``repr`` and its HTML
    come from that one description."""

    def card(self) -> Card:
        raise NotImplementedError

    def __repr__(self) -> str:
        return text(self.card())

    def _repr_html_(self) -> str:
        return to_html(self.card())


def shell() -> Any:
    """The running IPython shell, or None (a script, the CLI, a worker)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a terminal IPython, not a script)."""
    sh = shell()
    return sh is not None and type(sh).__name__ == "ZMQInteractiveShell"


def show(obj: Any) -> None:
    """Show a card (or an object with ``_repr_html_``) inline in IPython, or print its
    text form elsewhere."""
    if isinstance(obj, Card):
        bundle = {"text/plain": text(obj), "text/html": to_html(obj)}
        if shell() is not None:
            from IPython.display import display

            display(bundle, raw=True)  # type: ignore[no-untyped-call]
        else:
            print(bundle["text/plain"], flush=True)
        return
    if shell() is not None:
        from IPython.display import display

        display(obj)  # type: ignore[no-untyped-call]
    else:
        print(repr(obj), flush=True)


class Live:
    """A display that can be updated in place (nothing is shown outside IPython)."""

    def __init__(self, initial: Any, *, show: bool = True) -> None:
        self._handle: Any = None
        if show and shell() is not None:
            from IPython.display import display

            self._handle = display(initial, display_id=True)  # type: ignore[no-untyped-call]

    def update(self, obj: Any) -> None:
        if self._handle is not None:
            self._handle.update(obj)
