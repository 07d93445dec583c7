"""The sandbox's page: every conversation it received, threads nested, mentions
highlighted, files listed. It reloads itself so a person can watch messages arrive."""

from __future__ import annotations

import datetime as dt
import html

from .state import Message, World


def _highlight(msg: Message) -> str:
    text = msg.message
    out, pos = [], 0
    for item in sorted(msg.at_items, key=lambda i: i["start_position"]):
        start, end = item["start_position"], item["end_position"] + 1
        out.append(html.escape(text[pos:start]))
        title = html.escape(str(item.get("at_contact", "everyone in the channel")))
        out.append(f"<mark class='mention' title='{title}'>{html.escape(text[start:end])}"
                   "</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _render_message(world: World, msg: Message, replies: list[Message]) -> str:
    sender = world.users[msg.sender].display_name
    when = dt.datetime.fromtimestamp(msg.timestamp, dt.timezone.utc).strftime("%H:%M:%S")
    files = "".join(
        f"<li class='file'>File: {html.escape(f['file_name'])} ({f['file_size']:,} bytes)</li>"
        for f in msg.files)
    edited = " <i>(edited)</i>" if msg.edited else ""
    body = (f"<div class='msg' id='m-{html.escape(msg.id)}'><span class='who'>"
            f"{html.escape(sender)}</span> <span class='when'>{when}</span>{edited}"
            f"<div class='text'>{_highlight(msg)}</div>")
    if files:
        body += f"<ul class='files'>{files}</ul>"
    if replies:
        body += "<div class='thread'>" + "".join(
            _render_message(world, r, []) for r in replies) + "</div>"
    return body + "</div>"


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
                        "</section>")
    content = "".join(sections) or "<p class='empty'>No messages yet. Send one!</p>"
    me = world.users[world.me_id]
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
        "section{border:1px solid #ddd;border-radius:8px;padding:0 1em 1em;margin:1em 0}"
        ".msg{margin:.6em 0}.who{font-weight:600}.when{color:#888;font-size:.85em}"
        ".text{white-space:pre-wrap}.thread{margin-left:1.5em;border-left:3px solid #0b5cff;"
        "padding-left:.8em}mark.mention{background:#dbe7ff;color:#0b5cff;border-radius:3px}"
        ".files{margin:.2em 0;padding-left:1.2em}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='2'><title>Zoom sandbox</title>"
        f"<style>{style}</style></head><body><h1>Zoom Team Chat sandbox</h1>"
        f"<p>Signed-in user: {html.escape(me.display_name)} ({html.escape(me.email)}). "
        f"{len(msgs)} message(s). JSON: <a href='/_sandbox/messages'>/_sandbox/messages"
        f"</a></p>{content}</body></html>"
    )


