"""The sandbox's own routes (its page, ``/_sandbox/...``: state, replies as a colleague,
the clock, faults, configuration) and the OAuth token endpoint; ``SandboxApp`` is the
whole application."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from zoom_notebook.sandbox.chat import ChatEndpoints
from zoom_notebook.sandbox.limits import iso
from zoom_notebook.sandbox.routing import (
    MAX_MESSAGE,
    S2S_SCOPES,
    ApiError,
    app_scopes,
    invalid,
    json_response,
)
from zoom_notebook.sandbox.state import Message


class SandboxApp(ChatEndpoints):
    """The sandbox's WSGI application: routing, Team Chat endpoints and control routes."""

    # ------------------------------------------------------------------ OAuth
    def on_oauth_token(self, request: Request) -> Response:
        from werkzeug.datastructures import Authorization

        self.world.count("token_requests")
        # Zoom takes the parameters in the query string or the form body
        grant = request.form.get("grant_type") or request.args.get("grant_type")
        auth = Authorization.from_header(request.headers.get("Authorization"))
        handler = self.extra_grants.get(grant or "")
        if grant == "account_credentials":
            if (auth is None or auth.type != "basic" or auth.username != self.world.client_id
                    or auth.password != self.world.client_secret):
                return json_response({"reason": "Invalid client_id or client_secret",
                                      "error": "invalid_client"}, 401)
            if (request.form.get("account_id") or request.args.get("account_id")
                    ) != self.world.account_id:
                return json_response({"reason": "Invalid account_id",
                                      "error": "invalid_request"}, 400)
            token = self.world.issue_token(kind="account", user_id=None,
                                           client_id=auth.username,
                                           lifetime=self.config["token_lifetime"],
                                           scopes=S2S_SCOPES)
            self.world.count("account_credentials")
            return json_response({"access_token": token.value, "token_type": "bearer",
                                  "expires_in": int(self.config["token_lifetime"]),
                                  "scope": token.scopes, "api_url": request.host_url
                                  .rstrip("/")})
        if handler is not None:
            return handler(request, auth)
        return json_response({"reason": "Unsupported grant type",
                              "error": "unsupported_grant_type"}, 400)

    # ------------------------------------------------------------------ the page and JSON
    def on_page(self, request: Request) -> Response:
        from zoom_notebook.sandbox.page import render

        return Response(render(self.world), mimetype="text/html")

    def on_sb_state(self, request: Request) -> Response:
        w = self.world
        return json_response({
            "account_id": w.account_id, "me": w.me_id,
            "users": [self._contact_json(u) | {"display_name": u.display_name}
                      for u in w.users.values()],
            "channels": [{"id": c.id, "name": c.name, "members": c.members}
                         for c in w.channels.values()],
            "counters": dict(w.counters), "faults_fired": dict(self.faults.fired),
            "rate_limited": self.limiter.rejected,
            "app_scopes": self.config["app_scopes"].split(),
            "scope_requests": list(self.scope_requests),
        })

    def received(self, *, with_contents: bool = False) -> list[dict[str, Any]]:
        """Every message received, oldest first (with file bytes if asked)."""
        with self.world.lock:
            msgs = [self.world.messages[mid] for mid in self.world.order]
        out = []
        for m in msgs:
            item = self._message_json(m)
            item.update({"kind": m.kind, "target": m.target, "sender_id": m.sender,
                         "edited": m.edited is not None})
            if with_contents:
                item["file_contents"] = [self.world.files[f["file_id"]] for f in m.files]
            out.append(item)
        return out

    def configure(self, options: dict[str, Any]) -> None:
        """Change limits (``qps``, ``daily``, ``channel_limits``) or timings
        (``token_lifetime``, ``page_token_ttl``, ``device_interval``,
        ``device_expires_in``) or the app's scopes (``app_scopes``: tokens issued from
        then on carry them, as after changing an app's scopes and logging in again)
        while running."""
        options = dict(options)
        if "app_scopes" in options:
            self.config["app_scopes"] = app_scopes(options.pop("app_scopes"))
        for key in ("qps", "daily", "channel_limits"):
            if key in options:
                setattr(self.limiter, key, options.pop(key))
        for key in ("token_lifetime", "page_token_ttl", "device_interval",
                    "device_expires_in"):
            if key in options:
                self.config[key] = float(options.pop(key))
        if options:
            raise TypeError(f"unknown option(s): {', '.join(options)}")

    def reply_as(self, body: dict[str, Any]) -> Message:
        """A message from another seeded user (``as``: email, id or first name), to a
        channel or to a contact, optionally in a thread: how a colleague answers."""
        who = str(body.get("as") or "")
        user = self.world.find_user(who) or next(
            (u for u in self.world.users.values() if u.first_name.lower() == who.lower()),
            None)
        if user is None:
            raise ApiError(404, 1001, f"User does not exist: {who}.")
        text = body.get("message")
        if not isinstance(text, str) or not text or len(text) > MAX_MESSAGE:
            raise invalid("message", f"must be 1 to {MAX_MESSAGE} characters")
        target_body = {k: body[k] for k in ("to_channel", "to_contact") if body.get(k)}
        if "to_contact" not in target_body and "to_channel" not in target_body:
            target_body["to_contact"] = self.world.me_id
        kind, target = self._target(target_body, user.id)
        reply = self._check_reply(body.get("reply_main_message_id") or None, kind, target,
                                  user.id)
        return self.world.add_message(sender=user.id, kind=kind, target=target, message=text,
                                      at_items=[], reply_main_message_id=reply)

    def on_sb_reply(self, request: Request) -> Response:
        try:
            msg = self.reply_as(request.get_json(silent=True) or {})
        except ApiError as err:
            return json_response({"code": err.code, "message": err.message}, err.status)
        return json_response({"id": msg.id}, 201)

    def on_sb_reply_form(self, request: Request) -> Response:
        """The reply box on the sandbox page (a person answering as a colleague)."""
        form = request.form
        body: dict[str, Any] = {"as": form.get("as"), "message": form.get("message"),
                                "reply_main_message_id": form.get("reply_main_message_id")}
        conv = form.get("conversation", "")
        kind, _, target = conv.partition(":")
        if kind == "channel":
            body["to_channel"] = target
        elif kind == "contact":
            body["to_contact"] = target
        try:
            self.reply_as(body)
        except ApiError as err:
            from html import escape

            return Response(f"<p>Not sent: {escape(err.message)}</p><a href='/'>back</a>",
                            status=400, mimetype="text/html")
        return Response(status=303, headers={"Location": "/"})

    def on_sb_clock(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        try:
            posted = self.world.advance(float(body.get("advance", 0)))
        except (TypeError, ValueError):
            return json_response({"error": "advance: a number of seconds"}, 400)
        return json_response({"now": iso(self.world.now()),
                              "posted": [m.id for m in posted]})

    def on_sb_file(self, request: Request, fid: str) -> Response:
        with self.world.lock:
            content = self.world.files.get(fid)
            meta = next((f for m in self.world.messages.values() for f in m.files
                         if f["file_id"] == fid), None)
        if content is None or meta is None:
            return json_response({"code": 404, "message": "Not Found"}, 404)
        kind = meta.get("content_type") or "application/octet-stream"
        if not kind.startswith("image/"):
            kind = "application/octet-stream"
        return Response(content, mimetype=kind,
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Disposition": "inline" if kind.startswith(
                                     "image/") else "attachment"})

    def on_sb_messages(self, request: Request) -> Response:
        return json_response({"messages": self.received()})

    def on_sb_requests(self, request: Request) -> Response:
        with self.world.lock:
            return json_response({"requests": list(self.request_log)})

    def on_sb_faults(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        if body.get("clear"):
            self.faults.clear()
            return json_response({"ok": True})
        kind = body.pop("kind", None)
        try:
            self.faults.add(kind, **body)
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"ok": True})

    def on_sb_config(self, request: Request) -> Response:
        try:
            self.configure(request.get_json(silent=True) or {})
        except (TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"ok": True})
