"""The sandbox's world: users, channels, messages, tokens, page tokens, counters.

All mutation happens under ``World.lock``; the HTTP layer (``app.py``) holds it for the
duration of each request's decision, so the sandbox behaves like one consistent server.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import threading
import time
import uuid
from typing import Any

NAMED_USERS = [
    ("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Katherine", "Johnson"),
    ("Edsger", "Dijkstra"), ("Barbara", "Liskov"), ("Donald", "Knuth"),
    ("Margaret", "Hamilton"), ("Claude", "Shannon"), ("Frances", "Allen"),
]
CHANNELS = [
    ("general", None), ("data-science", 6), ("alerts", 4), ("random", None), ("ml-ops", 3),
]


@dataclasses.dataclass
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    member_id: str

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclasses.dataclass
class Channel:
    id: str
    jid: str
    name: str
    members: list[str]  # user ids
    type: int = 3  # public channel


@dataclasses.dataclass
class Message:
    id: str
    sender: str  # user id
    kind: str  # "to_channel" | "to_contact"
    target: str  # channel id, or the other user's id
    message: str
    at_items: list[dict[str, Any]]
    reply_main_message_id: str | None
    timestamp: float
    files: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    edited: float | None = None
    rich_text: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    interactive_cards: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    #: emoji ("U+1F600") -> ids of the users who reacted with it, in order
    reactions: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def conversation(self) -> tuple[str, ...]:
        if self.kind == "to_channel":
            return ("channel", self.target)
        return ("contact", *tuple(sorted((self.sender, self.target))))


@dataclasses.dataclass
class Draft:
    """A message with a ``scheduled_time``: posted by the sandbox clock when it is due."""

    id: str
    sender: str
    due: float
    created: float
    fields: dict[str, Any]  # what add_message takes, but the timestamp


@dataclasses.dataclass
class Token:
    value: str
    kind: str  # "user" | "account"
    user_id: str | None  # the user for "user" tokens
    client_id: str
    expires_at: float
    scopes: str


def _rid(rng: random.Random, n: int = 22) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(rng.choice(alphabet) for _ in range(n))


class World:
    """Everything the sandbox knows. Seeded deterministically (ids are stable per seed)."""

    def __init__(self, *, seed: int = 7, extra_contacts: int = 0) -> None:
        self.lock = threading.RLock()
        rng = random.Random(seed)
        self.account_id = "sandbox-account-" + _rid(rng, 8)
        self.users: dict[str, User] = {}
        for first, last in NAMED_USERS:
            self._add_user(rng, first, last)
        for i in range(extra_contacts):
            self._add_user(rng, "Person", f"{i + 1:04d}")
        ids = list(self.users)
        self.me_id = ids[0]  # Ada: who a user login signs in as
        self.channels: dict[str, Channel] = {}
        for name, size in CHANNELS:
            members = ids[: len(NAMED_USERS)] if size is None else ids[:size]
            cid = _rid(rng, 32).lower()
            self.channels[cid] = Channel(id=cid, jid=f"{cid}@conference.xmpp.zoom.us",
                                         name=name, members=list(members))
        self.messages: dict[str, Message] = {}
        self.order: list[str] = []  # message ids in arrival order
        self.tokens: dict[str, Token] = {}
        self.page_tokens: dict[str, tuple[int, float]] = {}
        self.files: dict[str, bytes] = {}
        #: uploaded files (``POST /chat/users/{userId}/files``) not yet sent: id -> meta
        self.uploads: dict[str, dict[str, Any]] = {}
        self.drafts: dict[str, Draft] = {}
        #: seconds the sandbox clock runs ahead of the machine's (tests move it forward)
        self.offset = 0.0
        # OAuth apps: confidential (id + secret) and public (id only).
        self.client_id = "sandbox-client-" + _rid(rng, 8)
        self.client_secret = secrets.token_urlsafe(24)  # fresh per run, never in the package
        self.public_client_id = "sandbox-public-" + _rid(rng, 8)
        self.counters: dict[str, int] = {}
        # Zoom's Incoming Webhook app, connected in #alerts (``/inc connect``): the hook id,
        # its verification token, and the bot that posts (not a contact, not a member)
        self.bots: dict[str, User] = {"incoming-webhook": User(
            "incoming-webhook", "incoming-webhook@bots.zoom.us", "Incoming", "Webhook",
            "incoming-webhook")}
        alerts = next(c.id for c in self.channels.values() if c.name == "alerts")
        self.webhooks: dict[str, tuple[str, str]] = {
            _rid(rng, 22): (alerts, secrets.token_urlsafe(16))}

    def sender(self, uid: str) -> User:
        """A message's sender: a user, or a bot (the Incoming Webhook)."""
        return self.users.get(uid) or self.bots[uid]

    def _add_user(self, rng: random.Random, first: str, last: str) -> None:
        uid = _rid(rng)
        email = f"{first}.{last}@example.com".lower()
        self.users[uid] = User(id=uid, email=email, first_name=first, last_name=last,
                               member_id=_rid(rng, 44))

    # ------------------------------------------------------------------ lookups
    def find_user(self, key: str) -> User | None:
        """By user id, email (any case) or member id."""
        if key in self.users:
            return self.users[key]
        lowered = key.lower()
        for user in self.users.values():
            if user.email == lowered or user.member_id == key:
                return user
        return None

    def channel_by_name(self, name: str) -> Channel | None:
        for channel in self.channels.values():
            if channel.name == name:
                return channel
        return None

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n

    # ------------------------------------------------------------------ tokens
    def issue_token(self, *, kind: str, user_id: str | None, client_id: str,
                    lifetime: float, scopes: str) -> Token:
        token = Token(value=secrets.token_urlsafe(32), kind=kind, user_id=user_id,
                      client_id=client_id, expires_at=time.time() + lifetime, scopes=scopes)
        with self.lock:
            self.tokens[token.value] = token
        return token

    def check_token(self, value: str | None) -> Token | None:
        if not value:
            return None
        with self.lock:
            token = self.tokens.get(value)
        if token is None or token.expires_at <= time.time():
            return None
        return token

    # ------------------------------------------------------------------ the clock
    def now(self) -> float:
        """The sandbox's time: the machine's, plus what tests moved it forward by."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> list[Message]:
        """Move the sandbox clock forward; returns the scheduled messages now posted."""
        with self.lock:
            self.offset += seconds
        return self.post_due()

    def post_due(self) -> list[Message]:
        """Post every draft whose scheduled time has come (at that time)."""
        now = self.now()
        with self.lock:
            due = sorted((d for d in self.drafts.values() if d.due <= now),
                         key=lambda d: d.due)
            for draft in due:
                del self.drafts[draft.id]
        return [self.add_message(timestamp=d.due, **d.fields) for d in due]

    # ------------------------------------------------------------------ messages
    def add_message(self, timestamp: float | None = None, **fields: Any) -> Message:
        msg = Message(id=str(uuid.uuid4()),
                      timestamp=self.now() if timestamp is None else timestamp, **fields)
        with self.lock:
            self.messages[msg.id] = msg
            self.order.append(msg.id)
        return msg

    def delete_message(self, mid: str) -> None:
        """Remove a message and its replies."""
        with self.lock:
            gone = {mid} | {m.id for m in self.messages.values()
                            if m.reply_main_message_id == mid}
            for key in gone:
                self.messages.pop(key, None)
            self.order = [k for k in self.order if k not in gone]

    def conversation_messages(self, conv: tuple[str, ...]) -> list[Message]:
        with self.lock:
            return [self.messages[mid] for mid in self.order
                    if self.messages[mid].conversation() == conv]

    # ------------------------------------------------------------------ paging
    def page(self, items: list[Any], page_size: int, token: str | None, ttl: float
             ) -> tuple[list[Any], str] | None:
        """One page of ``items`` and the next token ("" when done); None if the token is
        unknown or expired (Zoom's page tokens expire after 15 minutes)."""
        offset = 0
        if token:
            with self.lock:
                entry = self.page_tokens.get(token)
            if entry is None or entry[1] <= time.time():
                return None
            offset = entry[0]
        chunk = items[offset: offset + page_size]
        nxt = ""
        if offset + page_size < len(items):
            nxt = secrets.token_urlsafe(16)
            with self.lock:
                self.page_tokens[nxt] = (offset + page_size, time.time() + ttl)
        return chunk, nxt
