"""Markdown as Zoom rich text: ``to_rich_text(md) -> (text, rich_text items)``.

Parsed with markdown-it-py (CommonMark, the parser Jupyter Book and MyST use; imported
on first use only) and walked token by token: no regular expressions over Markdown.

What becomes what (CONTRACT-2026-12, "Formatting"): ``**bold**`` Bold, ``*italic*``
Italic, ``~~struck~~`` Strikethrough, ``#``..``###`` Paragraph h1..h3 (deeper headings:
Bold), ``-`` items BulletedList, ``1.`` items NumberedList, ``>`` Quote, ``[text](https://…)``
AddLink (a link that is not http/https keeps its text and gets no link). Zoom has no
code style, so code spans keep their backticks and fenced or indented blocks are kept
line for line as they were written. The markers themselves (``**``, ``#``, ``-``, ``>``)
are not in the text Zoom shows; list items keep no bullet character (Zoom draws it).

Positions: code points of the final text (what Python's ``str`` indexes; the same unit as
``at_items``, ``zoom_notebook.message``), and ``end_position`` is EXCLUSIVE: the
send-message schema's own ``rich_text`` example bolds the first character of "Hello" with
start 0, end 1. (``at_items`` follows its own example, "@Shrijana" -> 0..8, inclusive; the
two fields disagree in Zoom's document and each follows its own example.)
"""

from __future__ import annotations

from typing import Any

#: markdown-it token -> Zoom format_type, for inline spans
_INLINE = {"strong": "Bold", "em": "Italic", "s": "Strikethrough"}
#: heading tags Zoom has a Paragraph style for (format_attr); deeper ones are Bold
_HEADINGS = ("h1", "h2", "h3")

_parser: Any = None


def _md() -> Any:
    global _parser
    if _parser is None:
        from markdown_it import MarkdownIt

        _parser = MarkdownIt("commonmark").enable("strikethrough")
    return _parser


def to_rich_text(source: str) -> tuple[str, list[dict[str, Any]]]:
    """The text Zoom shows and its ``rich_text`` items (sorted by start position)."""
    if not any(ch in source for ch in "*_~#->[`1234567890"):
        return source, []  # nothing Markdown could mean: skip the parser
    lines = source.split("\n")
    out: list[str] = []  # pieces of the final text
    items: list[dict[str, Any]] = []
    length = 0
    blocks: list[tuple[str, str | None, int]] = []  # open (format_type, attr, start)
    lists: list[str] = []
    first_block = True
    inside = False  # just opened a list item or quote: its first block shares its start

    def put(text: str) -> None:
        nonlocal length
        out.append(text)
        length += len(text)

    def new_block(level: int, container: bool = False) -> None:
        # top-level blocks the user wrote apart stay apart (a blank line); lines inside
        # a list or quote (level > 0) follow each other. The first block inside a list
        # item or a quote starts where the item does (no second separator).
        nonlocal first_block, inside
        if inside:
            inside = False
        elif not first_block:
            put("\n" if level > 0 else "\n\n")
        first_block = False
        inside = container

    def span(kind: str, start: int, attr: str | None = None) -> None:
        if length > start:
            item: dict[str, Any] = {"start_position": start, "end_position": length,
                                    "format_type": kind}
            if attr is not None:
                item["format_attr"] = attr
            items.append(item)

    for token in _md().parse(source):
        kind = token.type
        if kind == "paragraph_open":
            if not token.hidden:  # a paragraph in a tight list item shares its line
                new_block(token.level)
            inside = False
        elif kind == "heading_open":
            new_block(token.level)
            heading = token.tag in _HEADINGS
            blocks.append(("Paragraph" if heading else "Bold",
                           token.tag if heading else None, length))
        elif kind == "heading_close":
            fmt, attr, start = blocks.pop()
            span(fmt, start, attr)
        elif kind in ("bullet_list_open", "ordered_list_open"):
            new_block(token.level, container=True)
            lists.append("BulletedList" if kind == "bullet_list_open" else "NumberedList")
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            new_block(token.level, container=True)
            blocks.append((lists[-1], None, length))
        elif kind == "list_item_close":
            fmt, attr, start = blocks.pop()
            span(fmt, start, attr)
        elif kind == "blockquote_open":
            new_block(token.level, container=True)
            blocks.append(("Quote", None, length))
        elif kind == "blockquote_close":
            fmt, attr, start = blocks.pop()
            span(fmt, start, attr)
        elif kind in ("fence", "code_block"):
            new_block(token.level)
            begin, end = token.map or (0, 0)
            put("\n".join(lines[begin:end]).rstrip("\n"))
        elif kind == "hr":
            new_block(token.level)
            begin, end = token.map or (0, 0)
            put("\n".join(lines[begin:end]))
        elif kind == "html_block":
            new_block(token.level)
            put(token.content.rstrip("\n"))
        elif kind == "inline":
            _inline(token.children or [], put, span, lambda: length)
    text = "".join(out)
    items = [i for i in items if not (i["format_type"] == "AddLink" and
                                      "\n" in text[i["start_position"]:i["end_position"]])]
    # the spec's format rules 4 and 5: inside a Quote only links, lists and italics apply
    # (a Quote clears the rest): those spans are left out, the text stays
    quotes = [(i["start_position"], i["end_position"]) for i in items
              if i["format_type"] == "Quote"]
    items = [i for i in items if i["format_type"] in _IN_QUOTE or not any(
        i["start_position"] < end and start < i["end_position"] for start, end in quotes)]
    return text, sorted(items, key=lambda i: (i["start_position"], -i["end_position"]))


#: what may apply within a Quote (the send-message spec's rich_text rules 4 and 5)
_IN_QUOTE = frozenset({"Quote", "AddLink", "NumberedList", "BulletedList", "Italic"})


def _valid_link(href: str) -> bool:
    """An ``AddLink`` Zoom takes: http(s), a host, no spaces (``https://`` alone makes
    Zoom refuse the whole message; such a link keeps its text, unlinked)."""
    from urllib.parse import urlsplit

    if not href.startswith(("http://", "https://")) or any(c.isspace() for c in href):
        return False
    try:
        parts = urlsplit(href)
        return bool(parts.hostname)
    except ValueError:
        return False


def _inline(children: list[Any], put: Any, span: Any, where: Any) -> None:
    opened: list[tuple[str, str | None, int]] = []
    for child in children:
        kind = child.type
        if kind == "text" or kind == "html_inline":
            put(child.content)
        elif kind == "code_inline":
            put(child.markup + child.content + child.markup)  # kept as written
        elif kind in ("softbreak", "hardbreak"):
            put("\n")
        elif kind.endswith("_open") and kind[:-5] in _INLINE:
            opened.append((_INLINE[kind[:-5]], None, where()))
        elif kind == "link_open":
            href = str(child.attrs.get("href") or "")
            ok = _valid_link(href)
            opened.append(("AddLink" if ok else "", href if ok else None, where()))
        elif kind.endswith("_close") and opened:
            fmt, attr, start = opened.pop()
            if fmt:
                span(fmt, start, attr)
        elif kind == "image":
            put(child.content or str(child.attrs.get("src") or ""))
