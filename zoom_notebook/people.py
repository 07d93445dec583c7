"""Finding where to send: ``zn.channels()``, ``zn.contacts(search)``, and a channel by name
(``to_channel="#data-science"``) resolved through the channel list and cached per login.
No widgets here (the compose form's pickers use ``zoom_notebook.directory``)."""

from __future__ import annotations

import dataclasses
import difflib
import threading
from typing import Any

from .config import Settings
from .errors import ValidationError

_lock = threading.Lock()
#: (api_url, sender) -> the channels Zoom listed, in its order
_channels: dict[tuple[str, str], list["Channel"]] = {}


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


def _client(settings: Settings) -> Any:
    from .api import client

    return client(settings)


def channels(*, refresh: bool = False, settings: Settings | None = None) -> list[Channel]:
    """The channels you belong to (every page), cached for this login; ``refresh=True``
    asks Zoom again."""
    settings = settings or Settings.load()
    key = (settings.api_url, settings.user)
    with _lock:
        cached = None if refresh else _channels.get(key)
    if cached is None:
        zoom = _client(settings)
        zoom.require("channels")
        cached = [Channel(str(c.get("name") or c["id"]), str(c["id"]))
                  for c in zoom.list_channels()]
        with _lock:
            _channels[key] = cached
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
        name = (c.get("display_name") or " ".join(filter(None, (
            c.get("first_name"), c.get("last_name")))) or c.get("email") or "?")
        out.append(Contact(str(name), c.get("email"), c.get("id")))
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
    with _lock:
        known = _channels.get((settings.api_url, settings.user)) or []
    return next((c.name for c in known if c.id == channel_id), None)


def forget() -> None:
    with _lock:
        _channels.clear()
