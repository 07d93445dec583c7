"""Resolve an unknown outcome by reading Zoom back (SECURITY.md 26).

A POST that timed out after sending, was reset, got 500/502/504, or was in flight when
its process died may or may not have reached Zoom. Sending it again blindly duplicates
it (Zoom has no idempotency key); giving up loses it. So before anything is re-sent,
the conversation is read back in the time window of the attempt:

- a message from this sender with the same text (and thread) that no other send has
  claimed -> it was delivered: use its id;
- the listing worked and has no such message -> provably absent: send it again;
- the listing is refused for lack of a read scope (4711/4700, 403) -> it stays
  "unknown": shown to the user, never re-sent by itself;
- the listing itself failed (network, 5xx, rate limit) -> try the resolution later.

Main messages are read with ``GET /chat/users/{userId}/messages`` (``from``/``to``);
replies with the thread endpoint; a scheduled message (a draft until it is due) with
``GET /chat/messages/schedule``. ``send_resolved`` is the one POST-with-resolution
that ``zn.send`` (via ``zoom_notebook.api``) and the outbox both use.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
import time
from typing import Any, Callable, Iterable, Mapping

from zoom_notebook.core.errors import OutcomeUnknown, ZoomAPIError, ZoomNotebookError

#: Seconds before the first attempt and after now that the read-back window spans
#: (clock skew between this machine and Zoom).
READ_SLACK = 300.0
#: With Zoom's clock known (its ``Date`` header), the read-back window's margin instead.
SKEW_MARGIN = 10.0
#: Seconds to let Zoom settle before reading back (UNVERIFIED: how soon a message that
#: Zoom accepted shows in its listing; the sandbox shows it at once).
SETTLE = 1.0
#: How many times one message may be sent after provably absent answers.
MAX_ROUNDS = 3
#: Zoom codes that mean "this token may not read the conversation".
NO_READ_CODES = (4711, 4700, 403)

_claim_lock = threading.Lock()
_claimed: collections.OrderedDict[str, None] = collections.OrderedDict()
_CLAIMED_MAX = 20_000


def claim(message_id: str | None) -> None:
    """Note a message id as delivered by some send (it cannot be matched again)."""
    if not message_id:
        return
    with _claim_lock:
        _claimed[message_id] = None
        while len(_claimed) > _CLAIMED_MAX:
            _claimed.popitem(last=False)


def _stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class Resolution:
    #: "delivered" (``message_id`` found), "absent", "unreadable" (no read scope) or
    #: "error" (the read-back failed; try later)
    state: str
    message_id: str | None = None
    reason: str = ""


def sender_matches(msg: Mapping[str, Any], me: Mapping[str, str] | None) -> bool:
    if not me:
        return True  # we do not know who we are (no user:read): text and window decide
    emails = {str(msg.get(k, "")).lower() for k in ("sender", "sender_email")} - {""}
    ids = {str(msg.get(k, "")) for k in ("sender_user_id", "sender_member_id",
                                           "send_member_id")} - {""}
    if not emails and not ids:
        return True
    return bool(emails & {me.get("email", "").lower()} or ids & {me.get("id", ""),
                                                                 me.get("member_id", "")})


def resolve(client: Any, payload: Mapping[str, Any], *, user: str | None, since: float,
            clock: Callable[[], float] = time.time) -> Resolution:
    """Did ``payload`` (first attempted at wall time ``since``) reach Zoom?"""
    kind = "to_channel" if payload.get("to_channel") else "to_contact"
    target = str(payload[kind])
    text = payload.get("message")
    thread = payload.get("reply_main_message_id")
    # The window in Zoom's time: from just before the first attempt to now. Where Zoom's
    # clock is known (its Date header), a small margin; else a wide one for skew.
    skew = getattr(client, "skew", None)
    before, after = (since + skew - SKEW_MARGIN, clock() + skew + SKEW_MARGIN) if isinstance(
        skew, (int, float)) else (since - READ_SLACK, clock() + READ_SLACK)
    window = {"from": _stamp(before), "to": _stamp(after)}

    def match(msg: Mapping[str, Any], me: Mapping[str, str] | None) -> str | None:
        """Claim ``msg`` if it is ours and unclaimed; its id, or None."""
        if msg.get("message") != text or not msg.get("id") or not sender_matches(msg, me):
            return None
        mid = str(msg["id"])
        with _claim_lock:
            if mid in _claimed:
                return None
            _claimed[mid] = None
        return mid

    found: Iterable[Mapping[str, Any]]
    try:
        me = client.identity(user)
        if payload.get("scheduled_time"):  # a draft is not in the conversation yet
            found = ({"id": m.get("draft_id"), **m}
                     for m in client.list_scheduled(**{kind: target})
                     if m.get("scheduled_time") == payload["scheduled_time"])
            me = None  # Zoom lists this user's drafts only
        elif thread:
            body = client.get_thread(str(thread), user=user, since=dt.datetime.fromtimestamp(
                before, dt.timezone.utc), limit=100, **{kind: target})
            found = sorted(({"id": m.get("msg_id"), **m} for m in body.get("messages") or []
                            if m.get("is_reply")), key=lambda m: m.get("timestamp") or 0)
        else:  # newest first, page by page: stop at the first match
            found = (m for m in client.list_messages(user=user, **{kind: target}, **window)
                     if not m.get("reply_main_message_id"))
        for msg in found:
            mid = match(msg, me)
            if mid is not None:
                return Resolution("delivered", mid)
    except ZoomAPIError as exc:
        if exc.code in NO_READ_CODES or exc.status == 403:
            return Resolution("unreadable", reason=f"Zoom refused to list the conversation "
                              f"({exc.code}): the login lacks the read-back scope "
                              "(team_chat:read:list_user_messages, classic chat_message:read)")
        return Resolution("error", reason=f"reading back failed: {exc}")
    except (ZoomNotebookError, OSError, ValueError) as exc:
        return Resolution("error", reason=f"reading back failed: {type(exc).__name__}: {exc}")
    return Resolution("absent")


@dataclasses.dataclass
class Outcome:
    """What ``send_resolved`` made of one message."""

    #: "sent" (``message_id`` may be None: Zoom answered 201 without one) or "unknown"
    state: str
    message_id: str | None = None
    #: for "unknown": the error, and whether a later resolution may still settle it
    error: OutcomeUnknown | None = None
    retry_resolution: bool = False
    resent: int = 0  # times it was sent again after a provably absent read-back


def send_resolved(client: Any, payload: Mapping[str, Any], *, user: str | None,
                  since: float | None = None, resolve_first: bool = False,
                  sleep: Callable[[float], None] = time.sleep,
                  on_send: Callable[[], None] | None = None) -> Outcome:
    """POST ``payload``; on an unknown outcome read Zoom back, and send again only if the
    message is provably absent. ``resolve_first``: it may already have been sent (at wall
    time ``since``) by a process that died; read back before sending. ``on_send`` is
    called before every POST (the outbox marks the record "in flight" on disk then).

    Errors that say nothing was delivered (``ZoomAPIError``,
    ``ConnectFailed``, ``RateLimited``, ``AuthError``) propagate.
    """
    since = time.time() if since is None else since
    error: OutcomeUnknown | None = None
    resent = 0
    pending_check = resolve_first
    for _ in range(MAX_ROUNDS + 1):
        if pending_check:
            sleep(SETTLE)
            found = resolve(client, payload, user=user, since=since)
            if found.state == "delivered":
                return Outcome("sent", found.message_id, resent=resent)
            if found.state != "absent":
                unknown = error or OutcomeUnknown(
                    "POST", "messages", "it was being sent when its process stopped",
                    target=str(payload.get("to_channel") or payload.get("to_contact")),
                    text=str(payload.get("message")))
                unknown.resolution = found.reason
                return Outcome("unknown", error=unknown,
                               retry_resolution=found.state == "error", resent=resent)
            if error is not None or resolve_first:
                resent += 1
        if on_send is not None:
            on_send()
        try:
            mid = client.send_message(payload, user=user)
        except OutcomeUnknown as exc:
            error = exc
            pending_check = True
            continue
        if mid is None:  # 201 without an id: delivered; learn the id if Zoom lists it
            found = resolve(client, payload, user=user, since=since)
            mid = found.message_id if found.state == "delivered" else None
        claim(mid)
        return Outcome("sent", mid, resent=resent)
    assert error is not None
    error.resolution = f"still absent after {MAX_ROUNDS} sends"
    return Outcome("unknown", error=error, retry_resolution=True, resent=resent)
