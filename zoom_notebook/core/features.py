"""Which Zoom calls each feature makes (typed by hand), the scopes Zoom accepts for each
call (``_spec_scopes``, generated from Zoom's OpenAPI document, plus the Users API call),
and what a 4700/4711 answer means. Data and two small readers: ``core.errors`` reads it for
the 4711 hint, ``core.scopes`` derives everything else from it."""

from __future__ import annotations

import re

from zoom_notebook.core._spec_scopes import OPERATIONS as _TEAM_CHAT

#: The Users API call (``GET /users/{userId}``, who is logged in) is not in the Team Chat
#: document; its scopes are from Zoom's Users API reference (classic ``user:read``,
#: granular ``user:read:user``), typed here once. The Users API also accepts
#: ``user:read:email`` etc. for parts of the answer; we need the whole user.
_USERS_API = {
    "getUser": ("GET", "/users/{userId}",
                ("user:read", "user:read:admin", "user:read:user", "user:read:user:admin"),
                ("user:read", "user:read:admin"), ("user:read:user", "user:read:user:admin")),
}


#: operationId -> (method, path, every accepted scope, classic, granular)
OPERATIONS = {**_TEAM_CHAT, **_USERS_API}


#: feature -> (what it does with Zoom, the calls it makes: Zoom's operationIds)
FEATURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "send": ("zn.send, %%zoomchat, alerts: post a message", ("sendaChatMessage",)),
    "edit": ("zn.progress, the tqdm and Dask bars: edit the one message as it goes",
             ("editMessage",)),
    "files": ("files=, figures and tables from %%zoomchat: upload for the message",
              ("uploadAChatFile",)),
    "file message": ("ZoomChatClient.send_file: a file posted as a message of its own",
                     ("sendChatFile",)),
    "read back": ("settle an unknown outcome by reading the conversation back; `-r last` "
                  "from the shell", ("getChatMessages",)),
    "threads": ("zn.ask and stop from chat: read the replies in a thread",
                ("retrieveThread",)),
    "schedule": ("at=, zn.scheduled(), .cancel(), zn.watchdog: scheduled messages",
                 ("sendaChatMessage", "listScheduledMessages", "deleteScheduleMessage")),
    "channels": ("zn.channels(), '#name' targets, the form's channel picker",
                 ("getChannels",)),
    "members": ("the form's @mention picker: a channel's members",
                ("listUserLevelChannelMembers",)),
    "contacts": ("zn.contacts(), the form's person picker and directory search",
                 ("getUserContacts", "searchCompanyContacts")),
    "status": ("zn.status(): who is logged in; the sender's name in read-backs",
               ("getUser",)),
}


_LISTED = re.compile(r"scopes?\s*:?\s*\[([^\]]*)\]", re.I)


def listed_in(message: str) -> list[str]:
    """The scope names a 4700/4711 message lists (``does not contain scopes:[a, b]``)."""
    found = _LISTED.search(message or "")
    if not found:
        return []
    return [s.strip() for s in found.group(1).split(",") if s.strip()]


def hint_for_missing(message: str) -> str:
    """What to do about Zoom's 4700/4711: the scopes it listed, the feature that needs
    them, the names to add for that kind of app."""
    listed = listed_in(message)
    if not listed:
        return ("The login lacks a scope this call needs: `zn.status()` (or `zoom-notebook "
                "status`) lists what each feature needs; add it to the app's scopes in the "
                "Zoom App Marketplace, then log in again.")
    user = [n for n in listed if not n.endswith(":admin")]
    admin = [n for n in listed if n.endswith(":admin")]
    if user and admin:
        what = (f"{' or '.join(user)} (a user-managed app; {' or '.join(admin)} for "
                "Server-to-Server)")
    else:
        what = " or ".join(listed)
    ops = [op for op, spec in OPERATIONS.items() if set(listed) & set(spec[2])]
    feature = next((f for f, (_, calls) in FEATURES.items() if set(calls) & set(ops)), None)
    for_what = f", needed for {feature} ({FEATURES[feature][0]})" if feature else ""
    return (f"The login lacks the scope {what}{for_what}: add it to the app's scopes in the "
            "Zoom App Marketplace (Scopes page), then log in again.")
