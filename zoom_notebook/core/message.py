"""Build and check Team Chat message payloads (pure functions: no network, no tokens).

Positions in ``at_items`` are counted in code points (what Python's ``str`` indexes and
what JSON Schema's ``maxLength`` counts). Zoom does not document the unit; this is the
one place that choice lives (see docs/zoom-facts.md).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence, Union

from zoom_notebook.core.errors import ValidationError

MAX_MESSAGE_LENGTH = 1024
#: files in one message (Zoom's ``file_ids``: at most 6)
MAX_FILES = 6
MAX_FILE_IDS = 6

_EMAIL_RE = re.compile(r"^[^@\s\"<>(),;:]+@[^@\s\"<>(),;:]+\.[^@\s\"<>(),;:.]{2,}$")

Mentions = Union[None, str, Sequence[str], Mapping[str, str]]


def is_plausible_email(value: str) -> bool:
    """True when ``value`` looks like an email address (one '@', a dot in the domain)."""
    return bool(_EMAIL_RE.match(value)) and len(value) <= 254


_SURROGATE = re.compile("[\ud800-\udfff]")


def sendable(text: str) -> str:
    """``text`` with unpaired surrogates (e.g. a file name from ``os.fsdecode``) shown
    as U+FFFD, for text the user did not type (a cell's output, a traceback)."""
    return _SURROGATE.sub("\ufffd", text)


def check_text(field: str, value: Any, *, allow_empty: bool = False) -> str:
    """Return ``value`` if it is a string Zoom can carry, else raise ValidationError."""
    if not isinstance(value, str):
        raise ValidationError(field, f"must be text (str), not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(field, "must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(
            field, "contains an unpaired surrogate character that cannot be sent; "
            "remove it or encode the text properly"
        ) from None
    return value


def check_id(field: str, value: Any) -> str:
    """Ids (channel, user, message) are opaque non-empty strings."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty id string")
    check_text(field, value)
    return value.strip()


def check_target(to_contact: Any, to_channel: Any) -> tuple[str, str]:
    """Return ``("to_contact"|"to_channel", id)``; exactly one must be given."""
    given = [(k, v) for k, v in (("to_contact", to_contact), ("to_channel", to_channel))
             if v is not None]
    if len(given) != 1:
        raise ValidationError(
            "to_contact/to_channel",
            "give exactly one target: a contact (email or user id) or a channel id"
            + (", not both" if given else ""),
        )
    kind, value = given[0]
    return kind, check_id(kind, value)


def _normalize_mentions(mentions: Mentions, is_channel: bool) -> list[tuple[str, str | None]]:
    """Return ``[(text after '@', email or None for @all)]``."""
    if mentions is None:
        return []
    items: list[tuple[str, str | None]] = []
    if isinstance(mentions, str):
        mentions = [mentions]
    if isinstance(mentions, Mapping):
        pairs: Iterable[tuple[Any, Any]] = mentions.items()
    elif isinstance(mentions, (list, tuple, set, frozenset)):
        pairs = ((m, m) for m in mentions)
    else:
        raise ValidationError(
            "mentions", "must be emails, 'all', or a dict of display name -> email"
        )
    for name, email in pairs:
        if not isinstance(name, str) or not isinstance(email, str):
            raise ValidationError("mentions", "each mention must be text")
        name = name.strip().lstrip("@").strip()
        email = email.strip()
        if name.lower() == "all" and email.lower() in ("all", "@all"):
            if not is_channel:
                raise ValidationError("mentions", "@all is only for channels, not direct "
                                                  "messages")
            items.append(("all", None))
            continue
        if not name:
            raise ValidationError("mentions", "a display name must not be empty")
        check_text("mentions", name)
        if "\n" in name or "\r" in name:
            raise ValidationError("mentions", f"display name {name!r} must be on one line")
        if not is_plausible_email(email):
            raise ValidationError(
                "mentions", f"{email!r} is not an email address; mention people by email "
                "(or pass a dict of display name -> email)"
            )
        items.append((name, email))
    seen: set[str] = set()
    unique = []
    for name, email in items:
        if name not in seen:
            seen.add(name)
            unique.append((name, email))
    return unique


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _find_mentions(text: str, token: str) -> list[int]:
    """Start positions of ``'@' + token`` in ``text`` at word boundaries."""
    needle = "@" + token
    out = []
    start = text.find(needle)
    while start != -1:
        end = start + len(needle)
        before_ok = start == 0 or not _is_word(text[start - 1])
        after = text[end] if end < len(text) else ""
        after_next = text[end + 1] if end + 1 < len(text) else ""
        after_ok = not after or (
            not _is_word(after)
            and after != "@"
            and not (after in ".-+" and after_next and _is_word(after_next))
        )
        if before_ok and after_ok:
            out.append(start)
        start = text.find(needle, start + 1)
    return out


def _assign_mentions(
    text: str, wanted: list[tuple[str, str | None]]
) -> tuple[list[dict[str, Any]], set[str]]:
    """Return the ``at_items`` for ``wanted`` in ``text`` and the names placed.

    Longer names claim their text first ("@Ann Lee" before "@Ann"); spans never overlap.
    """
    claimed: list[tuple[int, int]] = []
    at_items: list[dict[str, Any]] = []
    found: set[str] = set()
    for name, email in sorted(wanted, key=lambda m: -len(m[0])):
        for start in _find_mentions(text, name):
            end = start + len(name)  # inclusive: '@' plus len(name) characters
            if any(not (end < s or start > e) for s, e in claimed):
                continue
            claimed.append((start, end))
            found.add(name)
            item: dict[str, Any] = {"at_type": 2 if email is None else 1,
                                    "start_position": start, "end_position": end}
            if email is not None:
                item["at_contact"] = email
            at_items.append(item)
    at_items.sort(key=lambda item: item["start_position"])
    return at_items, found


def build_message(
    message: Any,
    *,
    to_contact: str | None = None,
    to_channel: str | None = None,
    reply_to: str | None = None,
    mentions: Mentions = None,
    rich_text: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the JSON body for ``POST /chat/users/{userId}/messages``.

    Raises ``ValidationError`` naming the field for any bad input. Mentions listed
    but missing from the text are put in front of it (and ``rich_text`` spans, computed
    on ``message``, move with the text, so both agree on the final text).
    """
    kind, target = check_target(to_contact, to_channel)
    text = check_text("message", message)
    is_channel = kind == "to_channel"
    wanted = _normalize_mentions(mentions, is_channel)

    at_items, found = _assign_mentions(text, wanted)
    missing = [name for name, _ in wanted if name not in found]
    shift = 0
    if missing:
        prefix = " ".join("@" + name for name in missing) + " "
        shift = len(prefix)
        text = prefix + text
        at_items, found = _assign_mentions(text, wanted)
        if len(found) != len(wanted):  # pragma: no cover - defensive
            raise ValidationError("mentions", "could not place every mention in the text")

    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValidationError(
            "message",
            f"is {len(text)} characters; Zoom allows {MAX_MESSAGE_LENGTH}. Split it "
            "(zoom_notebook.message.split_message) or send it as a file",
        )

    payload: dict[str, Any] = {"message": text, kind: target}
    if at_items:
        payload["at_items"] = at_items
    if rich_text:
        spans = [{**item, "start_position": item["start_position"] + shift,
                  "end_position": min(len(text), item["end_position"] + shift)}
                 for item in rich_text]
        spans = [i for i in spans if i["start_position"] < i["end_position"]]  # a cut text
        if spans:
            payload["rich_text"] = spans
    if reply_to is not None:
        payload["reply_main_message_id"] = check_id("reply_to", reply_to)
    check_payload(payload)
    return payload


def check_payload(payload: Mapping[str, Any]) -> None:
    """Check a message body against Zoom's rules (SECURITY.md 23); raise ValidationError."""
    text = check_text("message", payload.get("message"))
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValidationError("message", f"longer than {MAX_MESSAGE_LENGTH} characters")
    kind, _ = check_target(payload.get("to_contact"), payload.get("to_channel"))
    spans: list[tuple[int, int]] = []
    at_items = payload.get("at_items") or []
    if not isinstance(at_items, (list, tuple)):
        raise ValidationError("at_items", "must be a list of mention objects")
    for i, item in enumerate(at_items):
        field = f"at_items[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError(field, "must be an object with at_type, start_position "
                                         "and end_position")
        mention: Any = item
        at_type = mention.get("at_type")
        start, end = mention.get("start_position"), mention.get("end_position")
        if at_type not in (1, 2) or isinstance(at_type, bool):
            raise ValidationError(field, "at_type must be 1 (a contact) or 2 (all)")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise ValidationError(field, "start_position and end_position must be integers")
        if not 0 <= start <= end < len(text):
            raise ValidationError(field, "positions must satisfy 0 <= start <= end < "
                                         "len(message)")
        if text[start] != "@":
            raise ValidationError(field, "start_position must point at an '@'")
        if at_type == 2 and kind != "to_channel":
            raise ValidationError(field, "@all (at_type 2) is only for channels")
        if at_type == 1 and not (isinstance(item.get("at_contact"), str)
                                 and item["at_contact"].strip()):
            raise ValidationError(field, "at_contact (an email or member id) is required")
        if any(not (end < s or start > e) for s, e in spans):
            raise ValidationError(field, "mentions must not overlap")
        spans.append((start, end))
    if "reply_main_message_id" in payload:
        check_id("reply_to", payload["reply_main_message_id"])
    if len(payload.get("file_ids") or []) > MAX_FILE_IDS:
        raise ValidationError("file_ids", f"at most {MAX_FILE_IDS} files per message")


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters, on line boundaries.

    A single line longer than ``limit`` is cut into ``limit``-sized pieces.
    """
    if limit < 1:
        raise ValidationError("limit", "must be at least 1")
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    # the line breaks between chunks are where they were cut, not content: no chunk is
    # blank (Zoom refuses an empty message)
    return [c.strip("\n") for c in chunks if c.strip()]


def fit_text(text: str, budget: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut ``text`` to ``budget`` characters, keeping its first line (what happened) and
    the end of the rest (the latest output, the error)."""
    if len(text) <= budget:
        return text
    first, _, rest = text.partition("\n")
    first = first[: budget // 2]
    room = budget - len(first) - 2
    return first + "\n…" + (rest[-room:] if room > 0 else "")
