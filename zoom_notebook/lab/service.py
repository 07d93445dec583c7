"""What the server extension does, without tornado: cells that ended, kernels that died,
what the panel lists. Every message goes through ``features.alerts.post_alert`` (the
``QUEUED`` policy: the outbox delivers it, keeps it when Zoom is unreachable, and shows it
in the panel's lists). Only names, ids, texts this package wrote and statuses leave here:
never a token, a secret or a settings object."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import re
import socket
import threading
import time
from pathlib import PurePosixPath
from typing import Any

from zoom_notebook.core.errors import ValidationError, ZoomNotebookError
from zoom_notebook.core.message import check_target
from zoom_notebook.features import texts

MODES = ("off", "end", "failure", "after")
#: the newest messages this server sent, for the panel
KEEP_SENT = 50
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclasses.dataclass
class Sent:
    """A message this server posted: where from (notebook, cell), where to, and the
    outbox item that carries it (its status is read when the panel asks)."""

    kind: str  # "cell" or "kernel"
    path: str
    cell_id: str | None
    target: dict[str, str]
    text: str
    at: float
    item: Any = None

    def public(self) -> dict[str, Any]:
        item = self.item
        status = getattr(item, "status", "sent" if item is None else "queued")
        return {"id": getattr(item, "id", None), "kind": self.kind, "path": self.path,
                "cell_id": self.cell_id, "target": _where(self.target), "at": self.at,
                "text": self.text[:300], "status": status,
                "message_id": getattr(item, "message_id", None),
                "error": server_words(str(getattr(item, "error", None) or ""))
                if status in ("failed", "unknown") else None,
                # the outbox holds it (Retry retries it there) or not (Retry sends anew)
                "kept": status in ("failed", "unknown") and not getattr(item, "dropped", True)}


#: the server is not a Python kernel: its advice is a command for the server's terminal
_SERVER_WORDS = [
    (re.compile(r"`?%zoomchat login`? \(or zn\.login\(\)\)|`%zoomchat login`|zn\.login\(\)"),
     "`zoom-notebook login` (in a terminal where this Jupyter server runs, then retry)"),
    (re.compile(r"`?%zoomchat status`?|zn\.status\(\)"), "`zoom-notebook status`"),
]


def server_words(text: str) -> str:
    for pattern, replacement in _SERVER_WORDS:
        text = pattern.sub(replacement, text)
    return text


def _where(target: dict[str, str]) -> str:
    (kind, value), = target.items()
    return value if kind == "to_contact" or value.startswith("#") else f"channel {value}"


def check_target_of(data: Any, field: str = "target") -> dict[str, str]:
    """``{"to_channel": ...}`` or ``{"to_contact": ...}`` from the browser (or a notebook's
    metadata), checked before anything is posted."""
    if not isinstance(data, dict):
        raise ValidationError(field, "set the notebook's Zoom target first (the notebook "
                                     "toolbar's Zoom button)")
    target = {k: data[k] for k in ("to_channel", "to_contact") if data.get(k)}
    if len(target) != 1 or not all(isinstance(v, str) for v in target.values()):
        raise ValidationError(field, "one of to_channel (a channel id or #name) or "
                                     "to_contact (an email or user id)")
    (value,) = target.values()
    if not value.startswith("#"):
        check_target(target.get("to_contact"), target.get("to_channel"))
    return target


def _text(value: Any, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(field, "text")
    return value[:limit]


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValidationError(field, "a number of seconds, 0 or more")
    return float(value)


class LabService:
    """One per Jupyter server."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or socket.gethostname()
        self._lock = threading.Lock()
        self.sent: collections.deque[Sent] = collections.deque(maxlen=KEEP_SENT)
        #: notebook path -> its target as the browser last said (unsaved edits included)
        self.targets: dict[str, dict[str, str]] = {}
        #: notebook path -> the cell running now, as a person reads it ("In [7]", "cell 3")
        self.running: dict[str, str] = {}

    # ------------------------------------------------------------------ cells
    def cell_started(self, data: dict[str, Any]) -> dict[str, Any]:
        path = _text(data.get("path"), "path", 1024)
        label = _text(data.get("cell"), "cell", 40)
        with self._lock:
            self.running[path] = label
            if isinstance(data.get("target"), dict):
                self.targets[path] = check_target_of(data["target"])
        return {"ok": True}

    def cell_ended(self, data: dict[str, Any]) -> dict[str, Any]:
        """A watched cell ended in the browser: post the alert autonotify would, if its
        mode says so. Returns what the panel shows of it (or ``{"posted": False}``)."""
        path = _text(data.get("path"), "path", 1024)
        if not path:
            raise ValidationError("path", "the notebook's path")
        mode = data.get("mode")
        if mode not in MODES:
            raise ValidationError("mode", f"one of {', '.join(MODES)}")
        took = _number(data.get("took", 0), "took")
        failed = bool(data.get("failed"))
        after = _number(data.get("after", 0), "after")
        target = check_target_of(data.get("target"))
        with self._lock:
            self.targets[path] = target
            self.running.pop(path, None)
        due = (mode == "end" or (mode == "failure" and failed)
               or (mode == "after" and (failed or took >= after)))
        if not due:
            return {"posted": False}
        count = data.get("count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else " "
        error = _ANSI.sub("", _text(data.get("error"), "error", 4000)).strip()
        where = f"{PurePosixPath(path).name} on {self.host}"
        text = texts.cell(count, took, failed, where, error)
        return self._post("cell", path, _text(data.get("cell_id"), "cell_id", 100) or None,
                          target, text)

    # ------------------------------------------------------------------ kernels
    def kernel_died(self, path: str, metadata_target: Any) -> dict[str, Any] | None:
        """The kernel of ``path`` died without being asked to: post one message, if the
        notebook is watched (a target in its metadata, or set in the browser)."""
        with self._lock:
            target = self.targets.get(path)
            running = self.running.pop(path, None)
        if target is None:
            try:
                target = check_target_of(metadata_target)
            except ValidationError:
                return None  # not a watched notebook
        text = texts.kernel_died(PurePosixPath(path).name, self.host, running)
        return self._post("kernel", path, None, target, text)

    # ------------------------------------------------------------------ posting
    def _post(self, kind: str, path: str, cell_id: str | None, target: dict[str, str],
              text: str) -> dict[str, Any]:
        from zoom_notebook.features.alerts import post_alert

        record = Sent(kind, path, cell_id, target, text, time.time())
        try:
            record.item = post_alert(text, show=False, claims_last=False,
                                     to_channel=target.get("to_channel"),
                                     to_contact=target.get("to_contact"))
        except ZoomNotebookError as exc:  # bad target, no login: said to the browser
            record.item = _Refused(server_words(f"{type(exc).__name__}: {exc}"))
        with self._lock:
            self.sent.appendleft(record)
        return {"posted": True, **record.public()}

    # ------------------------------------------------------------------ the panel
    def sent_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.public() for s in self.sent]

    def status(self) -> dict[str, Any]:
        from zoom_notebook.account.login import status

        s = status()
        return {"logged_in": s.logged_in, "method": s.method, "user_name": s.user_name,
                "user_email": s.user_email, "can": s.can if s.scopes is not None else None,
                "missing": s.missing, "error": s.error, "host": self.host}

    def outbox(self) -> list[dict[str, Any]]:
        from zoom_notebook.delivery.outbox import get_outbox

        out = []
        for rec in get_outbox().saved():
            payload = rec.get("payload") or {}
            target = {k: payload[k] for k in ("to_channel", "to_contact") if k in payload}
            out.append({"id": rec.get("id"), "status": rec.get("status"),
                        "error": rec.get("error"), "created": rec.get("created"),
                        "text": str(rec.get("latest") or payload.get("message", ""))[:300],
                        "target": _where(target) if len(target) == 1 else "?"})
        return out

    def outbox_action(self, action: Any, ids: Any = None) -> dict[str, Any]:
        """``retry`` or ``discard`` what the outbox keeps: every record, or with ``ids``
        (a list of record ids from ``outbox()``) just those."""
        from zoom_notebook.delivery.outbox import get_outbox

        if ids is not None and not (isinstance(ids, list) and len(ids) <= 1000
                                    and all(isinstance(i, str) for i in ids)):
            raise ValidationError("ids", "a list of the outbox's record ids")
        only = set(ids) if ids is not None else None
        box = get_outbox()
        if action == "retry":
            items = box.retry_saved(include_unknown=only is not None, only=only)
            return {"retried": len(items),
                    "sent": sum(1 for i in items if i.status == "sent")}
        if action == "discard":
            return {"discarded": box.discard_saved(only)}
        raise ValidationError("action", "retry or discard")

    def scheduled(self) -> list[dict[str, Any]]:
        from zoom_notebook.delivery.scheduled import scheduled

        try:
            found = scheduled()
        except ValidationError:  # this home scheduled nothing: nothing to list
            return []
        return [{"id": m.id, "text": m.message[:300], "target": m.target,
                 "when": m.scheduled_for.isoformat() if m.scheduled_for else None,
                 "to_channel": m.to_channel, "to_contact": m.to_contact} for m in found]

    def cancel(self, data: dict[str, Any]) -> dict[str, Any]:
        from zoom_notebook.delivery.receipts import SentMessage

        draft_id = _text(data.get("id"), "id", 200)
        target = check_target_of(data)
        msg = SentMessage(id=draft_id, message="", to_channel=target.get("to_channel"),
                          to_contact=target.get("to_contact"),
                          scheduled_for=dt.datetime.now(dt.timezone.utc))
        msg.cancel()
        return {"cancelled": draft_id}


@dataclasses.dataclass
class _Refused:
    """A message refused before it reached the outbox (it is shown, not kept)."""

    error: str
    status: str = "failed"
    id: str | None = None
    message_id: str | None = None
