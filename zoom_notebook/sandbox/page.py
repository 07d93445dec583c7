"""The sandbox's page: every conversation it received, threads nested, mentions
highlighted, files listed. It reloads itself so a person can watch messages arrive."""

from __future__ import annotations

import datetime as dt
import html

from zoom_notebook.sandbox.state import Message, World

#: Reload every 2 s to show new messages, unless someone is typing a reply.
RELOAD = ("<script>setInterval(function(){var t=[].slice.call(document.querySelectorAll("
          "'input[name=message]')).some(function(i){return i.value||i===document."
          "activeElement});if(!t)location.reload()},2000)</script>")
INLINE = {"Bold": ("<b>", "</b>"), "Italic": ("<i>", "</i>"),
          "Strikethrough": ("<s>", "</s>"), "Underline": ("<u>", "</u>")}
SIZES = {"s": ".85em", "m": "1em", "l": "1.3em"}


def _inline(text: str, start: int, spans: list[tuple[int, int, str, str]]) -> str:
    """``text`` (which starts at ``start`` in the message) with inline formatting and
    mentions: runs of characters with the same styles, each escaped."""
    out = []
    i = 0
    while i < len(text):
        pos = start + i
        active = [(k, a) for s, e, k, a in spans if s <= pos < e]
        j = i + 1
        while j < len(text) and [(k, a) for s, e, k, a in spans
                                 if s <= start + j < e] == active:
            j += 1
        chunk = html.escape(text[i:j])
        for kind, attr in active:
            if kind in INLINE:
                chunk = INLINE[kind][0] + chunk + INLINE[kind][1]
            elif kind == "FontSize" and attr in SIZES:
                chunk = f"<span style='font-size:{SIZES[attr]}'>{chunk}</span>"
            elif kind in ("FontColor", "BackgroundColor") and len(attr) == 6 and all(
                    c in "0123456789abcdefABCDEF" for c in attr):
                prop = "color" if kind == "FontColor" else "background"
                chunk = f"<span style='{prop}:#{attr}'>{chunk}</span>"
            elif kind == "AddLink" and attr.startswith(("http://", "https://")):
                chunk = (f"<a href='{html.escape(attr, quote=True)}' rel='noopener noreferrer'"
                         f" target='_blank'>{chunk}</a>")
            elif kind == "mention":
                chunk = f"<mark class='mention' title='{html.escape(attr)}'>{chunk}</mark>"
        out.append(chunk)
        i = j
    return "".join(out)


def _rich(msg: Message) -> str:
    """The message as Zoom shows it: rich text (inline styles, links, headings, lists,
    quotes, indents) and highlighted mentions."""
    text = msg.message
    spans = [(r["start_position"], r["end_position"], r["format_type"],
              str(r.get("format_attr") or "")) for r in msg.rich_text]
    spans += [(m["start_position"], m["end_position"] + 1, "mention",
               str(m.get("at_contact", "everyone in the channel"))) for m in msg.at_items]
    lines, pos, out = text.split("\n"), 0, []
    for line in lines:
        end = pos + len(line)
        block = {k: a for s, e, k, a in spans if s <= end and e > pos
                 and k in ("BulletedList", "NumberedList", "Quote", "LeftIndent", "Paragraph")}
        body = _inline(line, pos, spans)
        if block.get("Paragraph") in ("h1", "h2", "h3"):
            body = f"<{block['Paragraph']}>{body}</{block['Paragraph']}>"
        if "BulletedList" in block:
            body = f"<ul><li>{body}</li></ul>"
        elif "NumberedList" in block:
            body = f"<ol><li>{body}</li></ol>"
        if "Quote" in block:
            body = f"<blockquote>{body}</blockquote>"
        if block.get("LeftIndent", "").isdigit():
            body = f"<div style='margin-left:{int(block['LeftIndent'])}px'>{body}</div>"
        out.append(body)
        pos = end + 1
    return "<br>".join(out)


def _reactions(world: World, msg: Message) -> str:
    if not msg.reactions:
        return ""
    chips = []
    for code, users in msg.reactions.items():
        try:
            glyph = chr(int(code[2:], 16))
        except ValueError:
            glyph = code
        names = ", ".join(world.users[u].display_name for u in users)
        chips.append(f"<span class='reaction' title='{html.escape(names)}'>"
                     f"{html.escape(glyph)} {len(users)}</span>")
    return f"<div class='reactions'>{''.join(chips)}</div>"


def _files(msg: Message) -> str:
    items = []
    for f in msg.files:
        name = html.escape(f["file_name"])
        fid = html.escape(f["file_id"], quote=True)
        if str(f.get("content_type", "")).startswith("image/"):
            items.append(f"<li class='file'><a href='/_sandbox/files/{fid}'><img class='thumb' "
                         f"src='/_sandbox/files/{fid}' alt='{name}'></a><br>{name}</li>")
        else:
            items.append(f"<li class='file'>File: <a href='/_sandbox/files/{fid}'>{name}</a> "
                         f"({f['file_size']:,} bytes)</li>")
    return f"<ul class='files'>{''.join(items)}</ul>" if items else ""


def _reply_box(world: World, conv: tuple[str, ...], thread: str | None) -> str:
    """A form to answer as a colleague (in this conversation, or in a thread)."""
    me = world.me_id
    if conv[0] == "channel":
        people = world.channels[conv[1]].members
        where = f"channel:{conv[1]}"
    else:
        people = [u for u in conv[1:] if u != me]
        where = f"contact:{me}"
    options = "".join(f"<option value='{html.escape(world.users[u].email, quote=True)}'>"
                      f"{html.escape(world.users[u].display_name)}</option>"
                      for u in people if u != me)
    if not options:
        return ""
    hidden = (f"<input type='hidden' name='reply_main_message_id' "
              f"value='{html.escape(thread, quote=True)}'>" if thread else "")
    label = "Reply in thread as" if thread else "New message here (not a thread reply) as"
    return (f"<form class='reply' method='post' action='/_sandbox/reply_form'>"
            f"<input type='hidden' name='conversation' value='{html.escape(where, quote=True)}'>"
            f"{hidden}<label>{label} <select name='as'>{options}</select></label> "
            "<input name='message' required maxlength='1024' placeholder='Type a reply'> "
            "<button>Send</button></form>")


def _render_message(world: World, msg: Message, replies: list[Message]) -> str:
    sender = world.sender(msg.sender).display_name
    when = dt.datetime.fromtimestamp(msg.timestamp, dt.timezone.utc).strftime("%H:%M:%S")
    edited = " <i>(edited)</i>" if msg.edited else ""
    body = (f"<div class='msg' id='m-{html.escape(msg.id)}'><span class='who'>"
            f"{html.escape(sender)}</span> <span class='when'>{when}</span>{edited}"
            f"<div class='text'>{_rich(msg)}</div>{_files(msg)}{_reactions(world, msg)}")
    if replies:
        body += "<div class='thread'>" + "".join(
            _render_message(world, r, []) for r in replies) + "</div>"
    if not msg.reply_main_message_id:
        body += _reply_box(world, msg.conversation(), msg.id)
    return body + "</div>"


def _drafts(world: World) -> str:
    with world.lock:
        drafts = sorted(world.drafts.values(), key=lambda d: d.due)
    if not drafts:
        return ""
    rows = []
    for d in drafts:
        f = d.fields
        where = (f"# {world.channels[f['target']].name}" if f["kind"] == "to_channel"
                 else world.users[f["target"]].display_name)
        due = dt.datetime.fromtimestamp(d.due, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rows.append(f"<li><span class='due'>{due}</span> → {html.escape(where)}: "
                    f"{html.escape(f['message'][:200])}</li>")
    return f"<section class='drafts'><h2>Scheduled</h2><ul>{''.join(rows)}</ul></section>"


def _title(world: World, conv: tuple[str, ...]) -> str:
    if conv[0] == "channel":
        channel = world.channels[conv[1]]
        return f"# {channel.name}"
    names = [world.users[uid].display_name for uid in conv[1:]]
    return " ↔ ".join(names)


def render(world: World) -> str:
    with world.lock:
        msgs = [world.messages[mid] for mid in world.order]
    convs: dict[tuple[str, ...], list[Message]] = {}
    for m in msgs:
        convs.setdefault(m.conversation(), []).append(m)
    sections = []
    for conv, items in convs.items():
        replies: dict[str, list[Message]] = {}
        for m in items:
            if m.reply_main_message_id:
                replies.setdefault(m.reply_main_message_id, []).append(m)
        mains = [m for m in items if not m.reply_main_message_id]
        rendered = "".join(_render_message(world, m, replies.get(m.id, [])) for m in mains)
        sections.append(f"<section><h2>{html.escape(_title(world, conv))}</h2>{rendered}"
                        f"{_reply_box(world, conv, None)}</section>")
    content = _drafts(world) + ("".join(sections)
                                or "<p class='empty'>No messages yet. Send one!</p>")
    me = world.users[world.me_id]
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
        "section{border:1px solid #ddd;border-radius:8px;padding:0 1em 1em;margin:1em 0}"
        ".msg{margin:.6em 0}.who{font-weight:600}.when{color:#888;font-size:.85em}"
        ".text{white-space:pre-wrap}.thread{margin-left:1.5em;border-left:3px solid #0b5cff;"
        "padding-left:.8em}mark.mention{background:#dbe7ff;color:#0b5cff;border-radius:3px}"
        ".files{margin:.2em 0;padding-left:1.2em;list-style:none}"
        "img.thumb{max-width:240px;max-height:160px;border:1px solid #ddd;border-radius:4px}"
        ".reaction{display:inline-block;border:1px solid #ccd;border-radius:1em;"
        "padding:0 .5em;margin-right:.3em;font-size:.9em;background:#f5f7ff}"
        "blockquote{border-left:3px solid #ccc;margin:.2em 0;padding-left:.6em;color:#555}"
        ".text ul,.text ol{margin:0;padding-left:1.4em}.text h1,.text h2,.text h3{margin:.2em 0}"
        "form.reply{margin:.4em 0 0;font-size:.9em}form.reply input[name=message]{width:20em}"
        ".drafts .due{font-weight:600;color:#0b5cff}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>Zoom sandbox</title>"
        f"<style>{style}</style></head><body><h1>Zoom Team Chat sandbox</h1>"
        f"<p>Signed-in user: {html.escape(me.display_name)} ({html.escape(me.email)}). "
        f"{len(msgs)} message(s). JSON: <a href='/_sandbox/messages'>/_sandbox/messages"
        f"</a></p>{content}{RELOAD}</body></html>"
    )


