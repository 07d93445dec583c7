"""The errors zoom-notebook raises: one root, few leaves, each saying what to do next.

No message or ``repr`` here ever contains a token, a client secret or an OAuth code.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

__all__ = [
    "AskTimeout",
    "AuthError",
    "ConnectFailed",
    "LoginDenied",
    "MissingScope",
    "OutcomeUnknown",
    "RateLimited",
    "ReauthRequired",
    "ValidationError",
    "ZoomAPIError",
    "ZoomNotebookError",
    "hint_for",
]

#: What to do next for the Zoom error codes users meet most. Keyed by Zoom's ``code``.
_HINTS: dict[int, str] = {
    124: "The access token is invalid or has expired: log in again with `%zoomchat login` "
    "(or zn.login()), or set a fresh ZOOM_ACCESS_TOKEN.",
    300: "Zoom rejected a parameter: check the field it names.",
    1001: "Zoom does not know this user or contact: check the email or user id, and that the "
    "person is in your Zoom account or your contacts.",
    4130: "Zoom does not know this channel: check the channel id or '#name' (zn.channels() "
    "lists yours).",
    5301: "Zoom could not deliver the message: try again in a moment.",
    5402: "Replies can only go to a thread's main message, not to another reply: pass the "
    "main message id (reply_to='last' does this for you).",
    5403: "Files are not allowed in this conversation: send the text only.",
    5418: "This user cannot chat (Team Chat is disabled for them).",
    5420: "The channel is archived: unarchive it in Zoom or pick another channel.",
    5421: "The contact is blocked.",
    429: "Zoom's rate limit was reached: wait until the time given and try again.",
}


def install_hint(extra: str) -> str:
    """How to add an extra, true for a checkout, a wheel and (later) PyPI."""
    return (f"install the {extra} extra: pip install -e '.[{extra}]' in a checkout, or "
            f"pip install 'zoom_notebook-VERSION-py3-none-any.whl[{extra}]' from a wheel "
            f"(pip install 'zoom-notebook[{extra}]' once it is on PyPI)")


#: Zoom's "the token lacks scopes" codes: the hint names the scopes Zoom listed
SCOPE_CODES = (4700, 4711)


def hint_for(code: int | None, status: int | None = None, message: str = "") -> str:
    """Return what to do next for a Zoom error ``code`` (or HTTP ``status``), or ``""``.
    For 4700/4711, ``message`` (Zoom's, which lists the scopes) makes the hint exact."""
    if code in SCOPE_CODES:
        from zoom_notebook.core.features import hint_for_missing

        return hint_for_missing(message)
    if code is not None and code in _HINTS:
        return _HINTS[code]
    if status == 429:
        return _HINTS[429]
    if status == 401:
        return _HINTS[124]
    return ""


class ZoomNotebookError(Exception):
    """Root of every error zoom-notebook raises."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a long traceback: the error and what to do.
        return [f"{type(self).__name__}: {self}"]


class ValidationError(ZoomNotebookError, ValueError):
    """Raised when: an argument is wrong, before any token or network work.

    ``.field`` names the argument or payload field at fault.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class ZoomAPIError(ZoomNotebookError):
    """Raised when: Zoom answered a request with an error.

    Carries the HTTP ``status``, Zoom's ``code``, Zoom's ``message``, the ``tracking_id``
    (give it to Zoom support) and a ``hint`` saying what to do next.
    """

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        tracking_id: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        hint: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.tracking_id = tracking_id
        self.errors = errors or []
        self.hint = hint if hint is not None else hint_for(code, status, message)
        super().__init__(self._text())

    def _text(self) -> str:
        parts = [f"Zoom error {self.code if self.code is not None else '-'} (HTTP {self.status}): "
                 f"{self.message}"]
        for err in self.errors:
            field = err.get("field")
            msg = err.get("message")
            if field or msg:
                parts.append(f"[{field}: {msg}]")
        if self.hint:
            parts.append(f"— {self.hint}")
        if self.tracking_id:
            parts.append(f"(tracking id {self.tracking_id})")
        return " ".join(parts)


class RateLimited(ZoomAPIError):
    """Raised when: a Zoom rate limit will not clear within the retry budget.

    ``.retry_at`` is an aware UTC datetime (when Zoom says to try again, or None if it
    did not say); ``.limit_type`` is Zoom's ``X-RateLimit-Type`` (``QPS``,
    ``Daily-limit``) or ``channel`` for a per-channel flood block.
    """

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        tracking_id: str | None = None,
        *,
        retry_at: _dt.datetime | None = None,
        limit_type: str | None = None,
    ) -> None:
        self.retry_at = retry_at
        self.limit_type = limit_type
        when = (
            retry_at.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if retry_at is not None
            else "a later time"
        )
        kind = f" ({limit_type})" if limit_type else ""
        hint = f"Rate limited{kind}: try again after {when}."
        super().__init__(status, code, message, tracking_id, hint=hint)


class OutcomeUnknown(ZoomNotebookError):
    """Raised when: the request may have reached Zoom but no answer came back.

    (A read timeout, a connection reset after sending, HTTP 500/502/504.) The message
    may or may not have been delivered, so it is NOT sent again automatically: look
    in Zoom, and resend by hand if it is missing. ``.target`` and ``.text`` say what
    was being sent.
    """

    def __init__(self, method: str, path: str, reason: str, *,
                 target: str | None = None, text: str | None = None) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.target = target
        self.text = text
        #: why reading Zoom back did not settle it (set by zoom_notebook.resolve)
        self.resolution: str | None = None
        super().__init__(method, path, reason)

    def __str__(self) -> str:
        where = f" to {self.target}" if self.target else ""
        checked = (f" Reading the conversation back did not settle it: {self.resolution}."
                   if self.resolution else "")
        return (f"Outcome unknown for {self.method} {self.path}{where}: {self.reason}."
                f"{checked} The message may or may not have been delivered; it was not sent "
                "again automatically. Check the conversation in Zoom and resend it by hand "
                "if it is missing.")


class AskTimeout(ZoomNotebookError):
    """Raised when: ``zn.ask`` waited ``timeout`` seconds and no allowed reply came.

    ``.question`` is the question's text and ``.message_id`` its id in Zoom (an answer
    given later is still in its thread)."""

    def __init__(self, message: str, *, question: str = "", message_id: str | None = None
                 ) -> None:
        super().__init__(message)
        self.question = question
        self.message_id = message_id


class ConnectFailed(ZoomNotebookError):
    """Raised when: Zoom could not be reached at all, even after retrying.

    Nothing was sent, so resending later is safe.
    """


class AuthError(ZoomNotebookError):
    """Raised when: there are no usable credentials."""


class ReauthRequired(AuthError):
    """Raised when: the saved login can no longer be refreshed; log in again."""


class MissingScope(AuthError):
    """Raised when: the login is known (from the scopes Zoom granted it) to lack what a
    feature needs, before any request of that feature.

    ``.feature`` names the feature, ``.scopes`` the names to add to the app (empty when
    no scope can give it to this kind of app: use a user login)."""

    def __init__(self, feature: str, scopes: list[str], message: str) -> None:
        self.feature = feature
        self.scopes = scopes
        super().__init__(message)


class LoginDenied(AuthError):
    """Raised when: the user denied consent on Zoom's page."""
