"""Who and where: ``zn.channels()``, ``zn.contacts(search)``, a channel by name
(``to_channel="#data-science"``), a person's display name, and the ``Directory`` the
compose form's pickers page through. ONE cache: the channel list is kept on the login's
client (``account.session``), so a new login (or ``forget_clients``) forgets it too."""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import threading
from typing import Any, Callable, Iterator

from zoom_notebook.account import session
from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError

_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Channel:
    """A channel you can send to: ``to_channel=channel.id`` or ``"#" + channel.name``."""

    name: str
    id: str

    def __repr__(self) -> str:
        return f"#{self.name} ({self.id})"


@dataclasses.dataclass(frozen=True)
class Contact:
    """A person you can send to (``to_contact=contact.email``) or mention."""

    name: str
    email: str | None
    id: str | None

    def __repr__(self) -> str:
        return f"{self.name} <{self.email or self.id}>"


def display_name(person: dict[str, Any]) -> str:
    """A person as Zoom's answers name them: display name, else first and last name, else
    the email (one rule for contacts, members, users/me and the form)."""
    return str(person.get("display_name") or " ".join(filter(None, (
        person.get("first_name"), person.get("last_name")))) or person.get("email") or "?")


def _client(settings: Settings) -> Any:
    return session.client(settings)


def channels(*, refresh: bool = False, settings: Settings | None = None) -> list[Channel]:
    """The channels you belong to (every page), cached for this login; ``refresh=True``
    asks Zoom again."""
    zoom = _client(settings or Settings.load())
    with _lock:
        cached = None if refresh else getattr(zoom, "channels_seen", None)
    if cached is None:
        zoom.require("channels")
        cached = [Channel(str(c.get("name") or c["id"]), str(c["id"]))
                  for c in zoom.list_channels()]
        with _lock:
            zoom.channels_seen = cached
    return list(cached)


def contacts(search: str | None = None, *, settings: Settings | None = None
             ) -> list[Contact]:
    """Your contacts, or with ``search`` the people in your company matching it (name or
    email), as Zoom's contact search finds them."""
    settings = settings or Settings.load()
    client = _client(settings)
    found = client.search_contacts(search) if search else client.list_contacts()
    out = []
    for c in found:
        out.append(Contact(display_name(c), c.get("email"), c.get("id")))
    return out


def is_channel_name(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("#")


def resolve_channel(value: str, settings: Settings | None = None) -> str:
    """``"#name"`` -> the channel's id (names compare without case); anything else is
    returned as it is. An unknown or ambiguous name is a ``ValidationError`` that
    lists the close matches."""
    if not is_channel_name(value):
        return value
    settings = settings or Settings.load()
    name = value[1:].strip()
    if not name:
        raise ValidationError("to_channel", "'#' needs a channel name after it, e.g. "
                                            "'#data-science'")
    for refresh in (False, True):  # a channel created since the list was cached
        known = channels(refresh=refresh, settings=settings)
        same = [c for c in known if c.name.casefold() == name.casefold()]
        if len(same) == 1:
            return same[0].id
        if len(same) > 1:
            raise ValidationError("to_channel", f"{len(same)} channels are named '#{name}' ("
                                  + ", ".join(c.id for c in same) + "): pass the id instead")
    close = difflib.get_close_matches(name.casefold(), [c.name.casefold() for c in known],
                                      n=3, cutoff=0.5)
    names = [c.name for c in known if c.name.casefold() in close]
    hint = (f"did you mean {', '.join('#' + n for n in names)}?" if names
            else "zn.channels() lists the ones you can send to")
    raise ValidationError("to_channel", f"you are in no channel named '#{name}'; {hint}")


def channel_name(channel_id: str, settings: Settings) -> str | None:
    """The cached name of a channel id (no network call), for receipts."""
    zoom = session.existing(settings)
    with _lock:
        known = getattr(zoom, "channels_seen", None) or []
    return next((c.name for c in known if c.id == channel_id), None)


# ---- the compose form's pickers: paged contacts, searches, members, recent threads

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
    name = display_name(c)
    email = c.get("email")
    label = f"{name} <{email}>" if email else name
    return Entry(label, str(email or c.get("id")), "to_contact", email, name)


class Directory:
    """Caches what the API returns; every list call is paged through the client."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._contacts: list[Entry] = []
        self._contact_pages: Iterator[dict[str, Any]] | None = None
        self._contacts_done = False
        self._searches: dict[str, list[Entry]] = {}
        self._members: dict[str, list[Entry]] = {}

    @property
    def client(self) -> Any:
        return self._client_factory()

    def channels(self) -> list[Entry]:
        """The login's channels (``channels()``'s cache: one list per login)."""
        zoom = self.client
        with _lock:
            cached = getattr(zoom, "channels_seen", None)
        if cached is None:
            cached = [Channel(str(c.get("name") or c["id"]), str(c["id"]))
                      for c in zoom.list_channels()]
            with _lock:
                zoom.channels_seen = cached
        return [Entry(f"# {c.name}", c.id, "to_channel", name=c.name) for c in cached]

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
