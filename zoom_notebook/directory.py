"""Who and where you can write to: channels, contacts, company search, channel members,
recent threads. Cached and paged, for pickers (the compose form). No widgets here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from typing import Any, Callable, Iterator

CONTACT_PAGE = 50


@dataclasses.dataclass(frozen=True)
class Entry:
    """One choice in a picker: what to show, and the id/email to send to."""

    label: str
    value: str
    kind: str  # "to_channel" | "to_contact"
    email: str | None = None
    #: a person's display name as Zoom gives it (a mention's text)
    name: str | None = None


def _person(c: dict[str, Any]) -> Entry:
    name = (c.get("display_name") or " ".join(
        filter(None, (c.get("first_name"), c.get("last_name")))) or c.get("email") or "?")
    email = c.get("email")
    label = f"{name} <{email}>" if email else name
    return Entry(label, str(email or c.get("id")), "to_contact", email, name)


class Directory:
    """Caches what the API returns; every list call is paged through the client."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._channels: list[Entry] | None = None
        self._contacts: list[Entry] = []
        self._contact_pages: Iterator[dict[str, Any]] | None = None
        self._contacts_done = False
        self._searches: dict[str, list[Entry]] = {}
        self._members: dict[str, list[Entry]] = {}

    @property
    def client(self) -> Any:
        return self._client_factory()

    def channels(self) -> list[Entry]:
        with self._lock:
            if self._channels is None:
                self._channels = [Entry(f"# {c.get('name') or c['id']}", str(c["id"]),
                                        "to_channel", name=c.get("name") or None)
                                  for c in self.client.list_channels()]
            return list(self._channels)

    def contacts(self) -> list[Entry]:
        """The contacts loaded so far (call ``more_contacts`` for the next page)."""
        with self._lock:
            if not self._contacts and not self._contacts_done:
                self._load_page()
            return list(self._contacts)

    @property
    def has_more_contacts(self) -> bool:
        return not self._contacts_done

    def more_contacts(self) -> list[Entry]:
        with self._lock:
            self._load_page()
            return list(self._contacts)

    def _load_page(self) -> None:
        if self._contacts_done:
            return
        if self._contact_pages is None:
            self._contact_pages = iter(self.client.list_contacts(page_size=CONTACT_PAGE))
        for _ in range(CONTACT_PAGE):
            try:
                contact = next(self._contact_pages)
            except StopIteration:
                self._contacts_done = True
                return
            self._contacts.append(_person(contact))

    def search(self, query: str, kind: str) -> list[Entry]:
        """Channels or people matching ``query`` (loaded ones, plus a company search)."""
        q = query.strip().lower()
        if kind == "to_channel":
            return [e for e in self.channels() if q in e.label.lower()]
        found = [e for e in self.contacts() if q in e.label.lower()]
        if len(q) >= 2:
            with self._lock:
                if q not in self._searches:
                    self._searches[q] = [_person(c) for c in self.client.search_contacts(q)]
                remote = self._searches[q]
            seen = {e.value for e in found}
            found += [e for e in remote if e.value not in seen]
        return found

    def members(self, channel_id: str) -> list[Entry]:
        with self._lock:
            if channel_id not in self._members:
                self._members[channel_id] = [
                    _person({**m, "display_name": m.get("name")})
                    for m in self.client.list_channel_members(channel_id)]
            return list(self._members[channel_id])

    def recent_threads(self, kind: str, target: str, limit: int = 20
                       ) -> list[tuple[str, str]]:
        """Recent main messages of a conversation: ``(label, message id)``, newest first."""
        out = []
        for msg in self.client.list_messages(exclude_child_message=True,
                                             **{kind: target}):
            if msg.get("reply_main_message_id"):
                continue
            text = (msg.get("message") or "(file)").replace("\n", " ")
            when = msg.get("date_time", "")
            try:
                when = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).strftime(
                    "%d %b %H:%M")
            except ValueError:
                pass
            label = f"{when} · {text[:60]}{'…' if len(text) > 60 else ''}"
            out.append((label, str(msg["id"])))
            if len(out) >= limit:
                break
        return out
