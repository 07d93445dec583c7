"""What Zoom will show for a message body, as HTML: the compose form's live preview.

Reads the request the one pipeline built (``delivery.draft.prepare(...).payload``): its final text,
its ``rich_text`` items (positions in code points, end exclusive: see
``zoom_notebook.markdown``) and its ``at_items`` (end inclusive). Inline styles become
``<b>``, ``<i>``, ``<s>``, ``<u>``, links and coloured spans; line styles (headings,
lists, quotes, indents) style the lines they cover; mentions are highlighted. No widget
here: the form puts the HTML in a widget, tests read it as it is.
"""

from __future__ import annotations

import bisect
import html
import re
from typing import Any, Mapping

#: line styles: Zoom applies them to whole lines
_LINE = ("Paragraph", "BulletedList", "NumberedList", "Quote", "LeftIndent")
_SIZES = {"h1": "1.5em", "h2": "1.3em", "h3": "1.15em", "s": "0.85em", "m": "1em",
          "l": "1.25em"}
_HEX = re.compile(r"[0-9A-Fa-f]{6}")


def to_html(payload: Mapping[str, Any], files: list[str] | None = None) -> str:
    """The message as Zoom would show it, with the names of the files it carries."""
    text = str(payload.get("message", ""))
    n = len(text)
    inline: list[set[tuple[str, str]]] = [set() for _ in range(n)]
    line_style: dict[int, set[tuple[str, str]]] = {}
    starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def line_of(pos: int) -> int:
        return max(0, bisect.bisect_right(starts, pos) - 1)

    for item in payload.get("rich_text") or []:
        start, end = int(item["start_position"]), int(item["end_position"])
        kind, attr = str(item["format_type"]), str(item.get("format_attr") or "")
        if kind in _LINE:
            for k in range(line_of(start), line_of(max(start, end - 1)) + 1):
                line_style.setdefault(k, set()).add((kind, attr))
        else:
            for i in range(max(0, start), min(n, end)):
                inline[i].add((kind, attr))
    for item in payload.get("at_items") or []:
        for i in range(int(item["start_position"]), min(n, int(item["end_position"]) + 1)):
            inline[i].add(("Mention", ""))

    lines_html = []
    number = 0
    for k, start in enumerate(starts):
        end = starts[k + 1] - 1 if k + 1 < len(starts) else n
        styles = line_style.get(k, set())
        kinds = {kind: attr for kind, attr in styles}
        number = number + 1 if "NumberedList" in kinds else 0
        body = _runs(text, inline, start, end) or "&nbsp;"
        css = ["margin:0", "white-space:pre-wrap"]
        prefix = ""
        if "Paragraph" in kinds:
            css += ["font-weight:bold", f"font-size:{_SIZES.get(kinds['Paragraph'], '1em')}"]
        if "BulletedList" in kinds:
            prefix = "• "
        elif "NumberedList" in kinds:
            prefix = f"{number}. "
        if "Quote" in kinds:
            css += ["border-left:3px solid #bbb", "padding-left:0.6em", "color:#555"]
        indent = kinds.get("LeftIndent", "")
        if indent.isdigit() or prefix:
            css.append(f"margin-left:{int(indent) if indent.isdigit() else 12}px")
        lines_html.append(f"<div class='zn-line' style='{';'.join(css)}'>{prefix}{body}</div>")
    out = "".join(lines_html)
    if files:
        names = ", ".join(html.escape(f) for f in files)
        out += f"<div class='zn-preview-files' style='color:#555'>📎 {names}</div>"
    return out


def _runs(text: str, inline: list[set[tuple[str, str]]], start: int, end: int) -> str:
    parts = []
    i = start
    while i < end:
        j = i
        while j < end and inline[j] == inline[i]:
            j += 1
        parts.append(_wrap(html.escape(text[i:j]), inline[i]))
        i = j
    return "".join(parts)


def _wrap(chunk: str, styles: set[tuple[str, str]]) -> str:
    css = []
    for kind, attr in sorted(styles):
        if kind == "Bold":
            chunk = f"<b>{chunk}</b>"
        elif kind == "Italic":
            chunk = f"<i>{chunk}</i>"
        elif kind == "Strikethrough":
            chunk = f"<s>{chunk}</s>"
        elif kind == "Underline":
            chunk = f"<u>{chunk}</u>"
        elif kind == "AddLink" and attr.startswith(("http://", "https://")):
            chunk = (f"<a href='{html.escape(attr, quote=True)}' target='_blank' "
                     "rel='noopener' style='color:#0b5cad;text-decoration:underline'>"
                     f"{chunk}</a>")
        elif kind == "FontColor" and _HEX.fullmatch(attr):
            css.append(f"color:#{attr}")
        elif kind == "BackgroundColor" and _HEX.fullmatch(attr):
            css.append(f"background:#{attr}")
        elif kind == "FontSize" and attr in _SIZES:
            css.append(f"font-size:{_SIZES[attr]}")
        elif kind == "Mention":
            chunk = (f"<span class='zn-mention' style='background:#e3efff;color:#0b5cad;"
                     f"border-radius:3px'>{chunk}</span>")
    return f"<span style='{';'.join(css)}'>{chunk}</span>" if css else chunk
