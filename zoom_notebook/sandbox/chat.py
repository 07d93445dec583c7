"""The Team Chat endpoints the sandbox serves, as Zoom's OpenAPI document describes them:
messages (post, edit, read, delete, react, thread), scheduled messages, channels, members,
contacts, users/me, files and the Incoming Webhook."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from zoom_notebook.sandbox.limits import iso
from zoom_notebook.sandbox.routing import (
    _ISO_Z,
    MAX_MESSAGE,
    RICH_TYPES,
    SCHEDULE_MAX,
    SCHEDULE_MIN,
    ApiError,
    Routing,
    file_limit,
    invalid,
    iso_ms,
    json_response,
    no_content,
)
from zoom_notebook.sandbox.state import Draft, Message, Token


class ChatEndpoints(Routing):
    """Team Chat, the Users call the package makes, and files."""

    def on_post_message(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "sendaChatMessage")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "Request body must be a JSON object.")
        text = body.get("message")
        file_ids = body.get("file_ids") or []
        if not isinstance(text, str) or (not text and not file_ids):
            raise invalid("message", "message is required.")
        if len(text) > MAX_MESSAGE:
            raise invalid("message", f"The message must be at most {MAX_MESSAGE} characters.")
        kind, target = self._target(body, sender)
        at_items = body.get("at_items") or []
        self._check_at_items(at_items, text, kind)
        rich_text = self._check_rich_text(body.get("rich_text") or [], text)
        cards = self._check_cards(body.get("interactive_cards") or [])
        files = self._take_files(file_ids, sender)
        reply = self._check_reply(body.get("reply_main_message_id"), kind, target, sender)
        fields: dict[str, Any] = {"sender": sender, "kind": kind, "target": target, "message": text,
                  "at_items": at_items, "reply_main_message_id": reply, "files": files,
                  "rich_text": rich_text, "interactive_cards": cards}
        when = body.get("scheduled_time")
        if when is not None:
            due = self._check_schedule(when)
            draft = Draft(id=str(uuid.uuid4()), sender=sender, due=due,
                          created=self.world.now(), fields=fields)
            with self.world.lock:
                self.world.drafts[draft.id] = draft
            self._release_files(file_ids, files)
            return json_response({"id": draft.id}, 201)  # the draft's id (the spec)
        self._rate_channel(kind, target)
        msg = self.world.add_message(**fields)
        self._release_files(file_ids, files)
        return json_response({"id": msg.id}, 201)

    def _check_schedule(self, when: Any) -> float:
        if not isinstance(when, str) or not _ISO_Z.match(when):
            raise invalid("scheduled_time", "must be yyyy-MM-dd'T'HH:mm:ss'Z'")
        due = dt.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.timezone.utc).timestamp()
        ahead = due - self.world.now()
        if not SCHEDULE_MIN < ahead <= SCHEDULE_MAX:
            raise ApiError(400, 300, "Invalid parameter: send_time. The time requirement is "
                                     "more than 30 minutes from now and within 180 days.")
        return due

    def _check_rich_text(self, items: Any, text: str) -> list[dict[str, Any]]:
        if not isinstance(items, list):
            raise invalid("rich_text", "must be an array")
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise invalid("rich_text", "each item must be an object")
            start, end = item.get("start_position"), item.get("end_position")
            kind, attr = item.get("format_type"), item.get("format_attr")
            if not (type(start) is int and type(end) is int and 0 <= start < end <= len(text)):
                raise invalid("rich_text.start_position",
                              "positions must lie within the message, start before end")
            if kind not in RICH_TYPES:
                raise invalid("rich_text.format_type", f"must be one of {', '.join(RICH_TYPES)}")
            ok: Callable[[str], bool] | None = {
                  "FontSize": lambda a: a in ("s", "m", "l"),
                  "FontColor": lambda a: bool(re.fullmatch(r"[0-9A-Fa-f]{6}", a)),
                  "BackgroundColor": lambda a: bool(re.fullmatch(r"[0-9A-Fa-f]{6}", a)),
                  "LeftIndent": lambda a: a.isdigit() and int(a) > 0,
                  "Paragraph": lambda a: a in ("h1", "h2", "h3"),
                  "AddLink": lambda a: bool(re.match(r"^https?://[^\s]+$", a))}.get(kind)
            if ok is not None and not (isinstance(attr, str) and ok(attr)):
                raise invalid("rich_text.format_attr", f"not a valid value for {kind}")
            if kind == "AddLink" and "\n" in text[start:end]:
                raise invalid("rich_text", "AddLink cannot cross lines")
            out.append({k: item[k] for k in ("start_position", "end_position", "format_type",
                                             "format_attr") if k in item})
        return out

    def _check_cards(self, cards: Any) -> list[dict[str, Any]]:
        if not isinstance(cards, list) or len(cards) > 5:
            raise invalid("interactive_cards", "at most 5 cards")
        out = []
        for card in cards:
            raw = card.get("card_json") if isinstance(card, dict) else None
            try:
                parsed = json.loads(raw) if isinstance(raw, str) else None
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("content"), dict):
                raise ApiError(400, 5405, "Failed to create interactive card.")
            out.append({"card_id": secrets.token_hex(8), "card_json": raw})
        return out

    def _take_files(self, file_ids: Any, sender: str) -> list[dict[str, Any]]:
        if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
            raise invalid("file_ids", "must be an array of file ids")
        if len(file_ids) > 6:
            raise invalid("file_ids", "At most 6 files.")
        with self.world.lock:
            missing = [f for f in file_ids if f not in self.world.uploads
                       or self.world.uploads[f]["owner"] != sender]
            if missing:
                raise ApiError(400, 5404, f"File does not exist: {', '.join(missing)}.")
            return [{k: v for k, v in self.world.uploads[f].items() if k != "owner"}
                    for f in file_ids]

    def _release_files(self, file_ids: list[str], files: list[dict[str, Any]]) -> None:
        with self.world.lock:  # an uploaded file is sent once
            for fid in file_ids:
                self.world.uploads.pop(fid, None)

    def _check_at_items(self, items: Any, text: str, kind: str) -> None:
        if not isinstance(items, list):
            raise invalid("at_items", "must be an array")
        spans: list[tuple[int, int]] = []
        for item in items:
            if not isinstance(item, dict):
                raise invalid("at_items", "each item must be an object")
            at_type, start, end = (item.get("at_type"), item.get("start_position"),
                                   item.get("end_position"))
            if at_type not in (1, 2) or isinstance(at_type, bool):
                raise invalid("at_items.at_type", "must be 1 or 2")
            if not (type(start) is int and type(end) is int and 0 <= start <= end < len(text)):
                raise invalid("at_items.start_position",
                              "positions must lie within the message")
            if text[start] != "@":
                raise invalid("at_items.start_position", "must point at '@'")
            if any(not (end < s or start > e) for s, e in spans):
                raise invalid("at_items", "mentions overlap")
            spans.append((start, end))
            if at_type == 2 and kind != "to_channel":
                raise invalid("at_items.at_type", "Mentioning all is only for channels.")
            if at_type == 1:
                contact = item.get("at_contact")
                if not isinstance(contact, str) or not contact:
                    raise invalid("at_items.at_contact", "required when at_type is 1")
                if self.world.find_user(contact) is None:
                    raise ApiError(404, 1001, f"User does not exist: {contact}.")

    def _own_message(self, mid: str, sender: str, kind: str, target: str) -> Message:
        """The message ``mid`` in this conversation, sent by ``sender`` (edit, delete)."""
        msg = self._message_in(mid, sender, kind, target)
        if msg.sender != sender:
            raise ApiError(400, 200, "Only the sender of this message can make updates.")
        return msg

    def on_edit_message(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "editMessage")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "Request body must be a JSON object.")
        kind, target = self._target(body, sender)
        text = body.get("message")
        if not isinstance(text, str) or not text or len(text) > MAX_MESSAGE:
            raise invalid("message", f"must be 1 to {MAX_MESSAGE} characters")
        rich_text = self._check_rich_text(body.get("rich_text") or [], text)
        with self.world.lock:
            msg = self._own_message(mid, sender, kind, target)
            msg.message = text
            msg.at_items = []
            msg.rich_text = rich_text
            msg.edited = self.world.now()
        return no_content()

    def on_get_message(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "getChatMessage")
        conv = self._conversation_for(request, sender)
        with self.world.lock:
            msg = self.world.messages.get(mid)
        if msg is None or msg.conversation() != conv:
            raise ApiError(400, 300, f"Message does not exist: {mid}.")
        out = self._message_json(msg)
        for r in out.get("reactions", []):  # this answer names ids, not senders
            users = [self.world.users[u] for u in msg.reactions[r["emoji"]]]
            r.pop("senders", None)
            r["user_ids"] = [u.id for u in users]
            r["member_ids"] = [u.member_id for u in users]
        out.pop("status", None)
        return json_response(out)

    def on_delete_message(self, request: Request, token: Token, user: str, mid: str
                          ) -> Response:
        sender = self._sender(token, user)
        self._need(token, "deleteChatMessage")
        body = {k: request.args[k] for k in ("to_contact", "to_channel") if k in request.args}
        if not body:
            raise ApiError(400, 300, 'You must provide the "to_contact" or the "to_channel" '
                                     'query parameter.')
        kind, target = self._target(body, sender)
        with self.world.lock:
            self._own_message(mid, sender, kind, target)
            self.world.delete_message(mid)
        return no_content()

    def on_react(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "reactMessage")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise invalid("body", "Request body must be a JSON object.")
        action, emoji = body.get("action"), body.get("emoji")
        if action not in ("add", "remove"):
            raise invalid("action", "must be add or remove")
        if not isinstance(emoji, str) or not re.fullmatch(r"U\+[0-9A-Fa-f]{4,6}", emoji):
            raise invalid("emoji", "must be a unicode value such as U+1F600")
        kind, target = self._target(body, sender)
        conv = Message(id="", sender=sender, kind=kind, target=target, message="",
                       at_items=[], reply_main_message_id=None, timestamp=0).conversation()
        with self.world.lock:
            msg = self.world.messages.get(mid)
            if msg is None or msg.conversation() != conv:
                raise ApiError(400, 300, f"Message does not exist: {mid}")
            who = msg.reactions.setdefault(emoji.upper().replace("U+", "U+"), [])
            if action == "add" and sender not in who:
                who.append(sender)
            elif action == "remove" and sender in who:
                who.remove(sender)
            msg.reactions = {e: u for e, u in msg.reactions.items() if u}
        return no_content()

    def on_list_schedule(self, request: Request, token: Token) -> Response:
        me = self._sender(token, "me") if token.kind == "user" else None
        self._need(token, "listScheduledMessages")
        if not (request.args.get("to_channel") or request.args.get("to_contact")):
            # the spec: "You must provide this parameter or the to_contact parameter"
            raise ApiError(400, 300, "Must provide either to_contact or to_channel parameter.")
        probe = None
        if me is not None and (request.args.get("to_channel") or request.args.get("to_contact")):
            probe = self._conversation_for(request, me)
        channel = request.args.get("to_channel")
        if me is None and channel is not None and channel not in self.world.channels:
            raise ApiError(404, 4130, f"Channel does not exist: {channel}.")
        with self.world.lock:
            drafts = sorted(self.world.drafts.values(), key=lambda d: d.created)
        items = []
        for d in drafts:
            if me is not None and d.sender != me:
                continue
            f = d.fields
            if me is None and channel is not None and (f["kind"], f["target"]) != (
                    "to_channel", channel):
                continue
            if probe is not None and Message(id="", timestamp=0, **{
                    k: f[k] for k in ("sender", "kind", "target", "message", "at_items",
                                      "reply_main_message_id")}).conversation() != probe:
                continue
            item: dict[str, Any] = {"draft_id": d.id, "create_date": iso(d.created),
                                    "scheduled_time": iso(d.due), "message": f["message"]}
            if f["at_items"]:
                item["at_items"] = f["at_items"]
            if f["rich_text"]:  # this listing's schema requires format_attr on every item
                # (UNVERIFIED what Zoom puts there for Bold and the like: "" here)
                item["rich_text"] = [{"format_attr": "", **r} for r in f["rich_text"]]
            if f["reply_main_message_id"]:
                item["reply_main_message_id"] = f["reply_main_message_id"]
            if f["files"]:
                item["files"] = [{k: x[k] for k in ("file_id", "file_name", "file_size")}
                                 for x in f["files"]]
            items.append(item)
        return self._paged(request, "messages", items, 10, 50)

    def on_delete_schedule(self, request: Request, token: Token, draft: str) -> Response:
        me = self._sender(token, "me") if token.kind == "user" else None
        self._need(token, "deleteScheduleMessage")
        if not (request.args.get("to_channel") or request.args.get("to_contact")):
            raise ApiError(400, 300, "Must provide either to_contact or to_channel parameter.")
        with self.world.lock:
            found = self.world.drafts.get(draft)
            if found is None or (me is not None and found.sender != me):
                raise ApiError(400, 5404, f"Invalid draft id: {draft}.")
            del self.world.drafts[draft]
        return no_content()

    def _conversation_for(self, request: Request, sender: str) -> tuple[str, ...]:
        body = {k: request.args.get(k) for k in ("to_contact", "to_channel")
                if request.args.get(k) is not None}
        kind, target = self._target(body, sender)
        probe = Message(id="", sender=sender, kind=kind, target=target, message="",
                        at_items=[], reply_main_message_id=None, timestamp=0)
        return probe.conversation()

    def on_incoming_hook(self, request: Request, hook: str) -> Response:
        """Zoom's Incoming Webhook app: ``Authorization: <verification token>``, JSON
        ``{"content": {"head": {"text"}, "body": [{"type": "message", "text"}]}}`` with
        ``?format=full``, else the body is the text. Posts into the hook's channel."""
        found = self.world.webhooks.get(hook)
        if found is None:
            response = json_response({"code": 404, "message": "Webhook not found"}, 404)
        elif request.headers.get("Authorization", "") != found[1]:
            response = json_response({"code": 401, "message": "Invalid verification token"},
                                     401)
        else:
            text = self._hook_text(request)
            if isinstance(text, Response):
                response = text
            else:
                with self.world.lock:
                    self.world.add_message(sender="incoming-webhook", kind="to_channel",
                                           target=found[0], message=text, at_items=[],
                                           reply_main_message_id=None)
                response = Response(status=200)
        self._log(request, response.status_code, "handled")
        return response

    @staticmethod
    def _hook_text(request: Request) -> str | Response:
        def bad(why: str) -> Response:
            return json_response({"code": 400, "message": why}, 400)

        if request.args.get("format") != "full":
            text = request.get_data(as_text=True)
            return text if text.strip() and len(text) <= 4000 else bad("Invalid message")
        try:
            content = json.loads(request.get_data(as_text=True))["content"]
            head = str(content.get("head", {}).get("text", ""))
            parts = [str(b["text"]) for b in content["body"] if b.get("type") == "message"]
        except (ValueError, KeyError, TypeError, AttributeError):
            return bad("Invalid request body: content.body is required")
        body = "\n".join(parts)
        if not parts or len(head) > 250 or len(body) > 4000:
            return bad("Invalid message: head at most 250 characters, body 1 to 4000")
        return head + "\n" + body if head and body != head else (head or body)

    def _message_json(self, msg: Message) -> dict[str, Any]:
        sender = self.world.sender(msg.sender)
        out: dict[str, Any] = {
            "id": msg.id, "message": msg.message, "sender": sender.email,
            # the spec's name, and the name earlier sandboxes served
            "send_member_id": sender.member_id, "sender_member_id": sender.member_id,
            "sender_display_name": sender.display_name,
            "date_time": iso_ms(msg.timestamp), "timestamp": int(msg.timestamp * 1000),
            "at_items": msg.at_items, "status": "Edited" if msg.edited else "Normal",
        }
        if msg.rich_text:
            out["rich_text"] = msg.rich_text
        if msg.interactive_cards:
            out["interactive_cards"] = msg.interactive_cards
        if msg.reactions:
            out["reactions"] = [
                {"emoji": e, "total_count": len(u), "senders": [
                    {"user_id": x, "member_id": self.world.users[x].member_id} for x in u]}
                for e, u in msg.reactions.items()]
        if msg.reply_main_message_id:
            out["reply_main_message_id"] = msg.reply_main_message_id
            main = self.world.messages.get(msg.reply_main_message_id)
            if main is not None:
                out["reply_main_message_timestamp"] = int(main.timestamp * 1000)
        if msg.files:
            out["files"] = [{k: f[k] for k in ("file_id", "file_name", "file_size")}
                            for f in msg.files]
        return out

    def on_list_messages(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "getChatMessages")
        conv = self._conversation_for(request, sender)
        start, end = self._window(request)
        msgs = [m for m in self.world.conversation_messages(conv)
                if start <= m.timestamp < end]
        if request.args.get("exclude_child_message") == "true":
            msgs = [m for m in msgs if m.reply_main_message_id is None]
        items = [self._message_json(m) for m in reversed(msgs)]
        return self._paged(request, "messages", items, 10, 50)

    def on_thread(self, request: Request, token: Token, user: str, mid: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "retrieveThread")
        since = request.args.get("from")
        if not since:
            raise ApiError(400, 4233, "The `from` cannot be blank.")
        if not _ISO_Z.match(since):
            raise invalid("from", "must be yyyy-MM-dd'T'HH:mm:ss'Z'")
        raw_limit = request.args.get("limit", "10")
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise invalid("limit", "must be an integer from 1 to 100")
        if int(raw_limit) > 100:
            raise ApiError(400, 4231, "The 'limit' cannot exceed 100.")
        sort = request.args.get("sort", "desc")
        if sort not in ("asc", "desc"):
            raise ApiError(400, 4232, "The `sort` can only be passed `asc` or `desc`.")
        if "to_channel" in request.args and not request.args["to_channel"]:
            raise ApiError(400, 4234, "The `to_channel` cannot be blank.")
        conv = self._conversation_for(request, sender)
        with self.world.lock:
            main = self.world.messages.get(mid)
        if main is None or main.conversation() != conv:
            raise ApiError(404, 4131, f"Message does not exist: {mid}.")
        if main.reply_main_message_id:
            main = self.world.messages[main.reply_main_message_id]
        since_ts = self._time_arg(request, "from") or 0.0
        until_ts = self._time_arg(request, "to")
        until_ts = self.world.now() + 1.0 if until_ts is None else until_ts + 1.0
        thread = [m for m in self.world.conversation_messages(conv)
                  if (m.id == main.id or m.reply_main_message_id == main.id)
                  and since_ts <= m.timestamp < until_ts]
        thread.sort(key=lambda m: m.timestamp)  # "sorted by the reply time"
        if sort == "desc":
            thread.reverse()
        out = []
        for m in thread[:int(raw_limit)]:
            u = self.world.sender(m.sender)
            out.append({"msg_id": m.id, "message": m.message,
                        "is_reply": m.reply_main_message_id is not None,
                        "timestamp": int(m.timestamp * 1000), "sender_user_id": u.id,
                        "sender_email": u.email, "sender_display_name": u.display_name,
                        "files": [{k: f[k] for k in ("file_id", "file_name", "file_size")}
                                  for f in m.files]})
        return json_response({"total": len(thread), "messages": out})

    def on_my_channels(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "getChannels")
        items = [{"id": c.id, "jid": c.jid, "name": c.name, "type": c.type}
                 for c in self.world.channels.values() if sender in c.members]
        return self._paged(request, "channels", items, 10, 1000, total=True)

    def on_members(self, request: Request, token: Token, cid: str) -> Response:
        self._need(token, "listUserLevelChannelMembers")
        channel = self.world.channels.get(cid)
        if channel is None:
            raise ApiError(404, 4130, f"Channel does not exist: {cid}.")
        items = []
        for i, uid in enumerate(channel.members):
            u = self.world.users[uid]
            items.append({"id": u.id, "email": u.email, "first_name": u.first_name,
                          "last_name": u.last_name, "member_id": u.member_id,
                          "name": u.display_name, "role": "owner" if i == 0 else "member"})
        return self._paged(request, "members", items, 30, 100, total=True)

    def _contact_json(self, u: Any) -> dict[str, Any]:
        return {"id": u.id, "email": u.email, "first_name": u.first_name,
                "last_name": u.last_name, "member_id": u.member_id}

    def on_my_contacts(self, request: Request, token: Token) -> Response:
        me = self._sender(token, "me")
        self._need(token, "getUserContacts")
        items = [self._contact_json(u) for u in self.world.users.values() if u.id != me]
        return self._paged(request, "contacts", items, 10, 50)

    def on_search_contacts(self, request: Request, token: Token) -> Response:
        self._need(token, "searchCompanyContacts")
        key = (request.args.get("search_key") or "").strip().lower()
        if not key:
            raise invalid("search_key", "search_key is required.")
        items = []
        for u in self.world.users.values():
            if key in u.email or key in u.display_name.lower():
                items.append({**self._contact_json(u), "display_name": u.display_name,
                              "contact_type": 1, "user_status": "active"})
        return self._paged(request, "contacts", items, 1, 25)

    def on_users_me(self, request: Request, token: Token, user: str) -> Response:
        me = self._sender(token, user)
        self._need(token, "getUser")
        u = self.world.users[me]
        return json_response({"id": u.id, "email": u.email, "first_name": u.first_name,
                              "last_name": u.last_name, "display_name": u.display_name,
                              "account_id": self.world.account_id, "type": 2,
                              "status": "active"})

    # ------------------------------------------------------------------ files
    def on_file_redirect(self, request: Request, user: str) -> Response:
        # Zoom's file API hands uploads to a regional file server.
        location = request.url.replace("/file/v2/", "/file-us01/v2/", 1)
        return Response(status=307, headers={"Location": location})

    def on_post_file(self, request: Request, token: Token, user: str) -> Response:
        sender = self._sender(token, user)
        self._need(token, "sendChatFile")
        uploads = request.files.getlist("files")
        if len(uploads) != 1:
            raise invalid("files", "Send exactly one file.")
        upload = uploads[0]
        content = upload.read()
        name = upload.filename or "file"
        if len(content) > file_limit(name):
            raise ApiError(400, 300, "The file is too large.")
        form = {k: v for k, v in request.form.items()}
        contact = form.get("to_contact")
        if contact is not None and "@" in contact:
            raise invalid("to_contact", "The file API takes a user id or member id, not an "
                                        "email.")
        kind, target = self._target(form, sender)
        reply = self._check_reply(form.get("reply_main_message_id"), kind, target, sender)
        self._rate_channel(kind, target)
        file_id = secrets.token_urlsafe(16)
        with self.world.lock:
            self.world.files[file_id] = content
        msg = self.world.add_message(sender=sender, kind=kind, target=target, message="",
                                     at_items=[], reply_main_message_id=reply,
                                     files=[{"file_id": file_id, "file_name": name,
                                             "file_size": len(content),
                                             "content_type": upload.mimetype}])
        return json_response({"id": msg.id}, 201)

    def on_upload_file(self, request: Request, token: Token, user: str) -> Response:
        """Upload a file to send later in a message's ``file_ids`` (at most 6)."""
        sender = self._sender(token, user)
        self._need(token, "uploadAChatFile")
        uploads = request.files.getlist("file")
        if len(uploads) != 1:
            raise invalid("file", "Send exactly one file, in the form field 'file'.")
        upload = uploads[0]
        content = upload.read()
        name = upload.filename or "file"
        limit = file_limit(name)
        if len(content) > limit:
            raise ApiError(400, 300, f"Maximum file size exceeded: {limit}")
        file_id = secrets.token_urlsafe(16)
        with self.world.lock:
            self.world.files[file_id] = content
            self.world.uploads[file_id] = {"file_id": file_id, "file_name": name,
                                           "file_size": len(content),
                                           "content_type": upload.mimetype, "owner": sender}
        return json_response({"id": file_id}, 201)

