"""Zoom's Incoming Webhook app as a sender: alerts with no OAuth app.

A channel admin adds the "Incoming Webhook" app and types ``/inc connect NAME`` in a
channel; Zoom answers with an endpoint URL (``https://inbots.zoom.us/incoming/hook/ID``)
and a verification token. Set ``ZOOM_WEBHOOK_URL`` and ``ZOOM_WEBHOOK_TOKEN``; then
alerts with no channel named, and ``zn.send(..., via="webhook")``, post there.

The request (NOTES.md, "Incoming Webhook app", read from apprise's and Keep's clients;
UNVERIFIED against a live account): ``POST URL?format=full`` with the header
``Authorization: <token>`` (no "Bearer") and ``{"content": {"head": {"text": TITLE},
"body": [{"type": "message", "text": BODY}]}}``; 200 or 204 is success. Title at most
250 characters, body at most 4,000.

What a webhook cannot do, and what we do about it: no mentions, no direct messages, no
thread replies, no files (a ``ValidationError`` before any request), no message id
(nothing to edit: ``zn.progress`` posts its start and its end only) and no way to read the
channel back (an unknown outcome stays unknown and is kept, never resent by itself).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.secret import hide, redact_library_logs
from zoom_notebook.zoom.http import exchange

#: the ``to_webhook`` value of a payload: the URL and token come from the settings of
#: the process that delivers it (the journal holds neither)
TARGET = "webhook"
MAX_TITLE = 250
MAX_BODY = 4000
#: what ``%zoomchat``/``zn.send`` options a webhook cannot carry, and why
CANNOT = {
    "mentions": "an Incoming Webhook cannot @mention anyone; send through your login instead",
    "reply_to": "an Incoming Webhook cannot reply in a thread (Zoom gives it no message id)",
    "files": "an Incoming Webhook cannot send files",
    "at": "an Incoming Webhook cannot schedule a message (Zoom gives it no draft to keep)",
    "to_contact": "an Incoming Webhook posts to its own channel only, not to a person",
    "to_channel": "an Incoming Webhook posts to the channel it was connected in: leave "
                  "to_channel out (or send without via='webhook')",
}


def configured(settings: Settings) -> bool:
    return bool(settings.webhook_url and settings.webhook_token)


def check_settings(settings: Settings) -> None:
    if not settings.webhook_url:
        raise ValidationError("ZOOM_WEBHOOK_URL", "set it to the endpoint URL Zoom's Incoming "
                                                  "Webhook app gave you (`zoom-notebook docs "
                                                  "zoom-app`)")
    if not settings.webhook_token:
        raise ValidationError("ZOOM_WEBHOOK_TOKEN", "set it to the verification token Zoom's "
                                                    "Incoming Webhook app gave you")
    parts = urlsplit(settings.webhook_url)
    local = parts.hostname in ("127.0.0.1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ValidationError("ZOOM_WEBHOOK_URL", "must be an https:// address (the token "
                                                  "travels with every post)")


def where(settings: Settings) -> str:
    """How a receipt names the webhook: its host and the end of its id, not all of it."""
    parts = urlsplit(settings.webhook_url or "")
    tail = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"Incoming Webhook …{tail[-4:]} ({parts.hostname})"


def body(text: str) -> dict[str, Any]:
    """The ``format=full`` JSON: the first line as the card's head, the rest as its body
    (one line is the head alone, with itself as the body: Zoom requires a body)."""
    head, _, rest = text.partition("\n")
    content: dict[str, Any] = {"head": {"text": head[:MAX_TITLE]},
                               "body": [{"type": "message", "text": rest or head}]}
    return {"content": content}


def check_text(text: Any, fit: bool) -> str:
    """The message for a webhook post: checked, or cut to fit (alerts)."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("message", "must be non-empty text")
    head, _, rest = text.partition("\n")
    if len(head) > MAX_TITLE or len(rest) > MAX_BODY:
        if not fit:
            raise ValidationError("message", f"a webhook post's first line is at most "
                                             f"{MAX_TITLE} characters and the rest at most "
                                             f"{MAX_BODY}")
        from zoom_notebook.core.message import fit_text

        head = head[:MAX_TITLE]
        rest = fit_text(rest, MAX_BODY) if rest else ""
        text = head + ("\n" + rest if rest else "")
    return str(text)


#: seconds one webhook post may take in all (connecting, sending, the whole answer)
DEADLINE = 45.0


def post(text: str, settings: Settings, *, timeout: tuple[float, float] = (5.0, 30.0)) -> None:
    """POST one message to the webhook. Raises ConnectFailed (nothing sent),
    OutcomeUnknown (it may have arrived: a webhook cannot be read back), RateLimited, or
    ZoomAPIError (401: the token is wrong; 404: the webhook was removed)."""
    import requests

    from zoom_notebook.core.errors import ConnectFailed, OutcomeUnknown, RateLimited, ZoomAPIError
    from zoom_notebook.core.retry import is_connect_error, parse_retry_after

    check_settings(settings)
    redact_library_logs()  # urllib3's DEBUG log would show the hook id
    url = hide(str(settings.webhook_url))  # the hook id is a secret: '<hidden>' in a repr
    headers = {"Authorization": hide(str(settings.webhook_token)),
               "Content-Type": "application/json"}
    try:
        # never follows a redirect (a 302 would turn the post into a GET, a 307 send the
        # text to another host); the whole exchange has a deadline, however slowly a
        # server answers, so one slow webhook cannot hold the other alerts
        resp = exchange(lambda: requests.post(
            url, params={"format": "full"}, json=body(text), headers=headers,
            timeout=timeout, allow_redirects=False), "posting to the Incoming Webhook",
            deadline=DEADLINE)
    except TimeoutError:
        raise OutcomeUnknown("POST", "incoming webhook", f"no whole answer within "
                             f"{DEADLINE:g} s", target=where(settings), text=text) from None
    except requests.RequestException as exc:
        if is_connect_error(exc):
            raise ConnectFailed(f"Could not connect to {urlsplit(url).hostname} "
                                f"({type(exc).__name__}); nothing was sent.") from None
        raise OutcomeUnknown("POST", "incoming webhook", type(exc).__name__,
                             target=where(settings), text=text) from None
    finally:
        headers.clear()
    if resp.status_code in (200, 204):
        return
    if 300 <= resp.status_code < 400:
        raise ZoomAPIError(resp.status_code, None, "the webhook answered with a redirect, "
                           "which is not followed (the text is not sent elsewhere)", None,
                           hint="check ZOOM_WEBHOOK_URL: use the address /inc connect gave")
    if resp.status_code >= 500 and resp.status_code != 503:
        raise OutcomeUnknown("POST", "incoming webhook", f"HTTP {resp.status_code}",
                             target=where(settings), text=text)
    try:
        answer = resp.json()
    except ValueError:
        answer = {}
    message = str(answer.get("message") or resp.reason or "")[:200]
    code = answer.get("code") if isinstance(answer.get("code"), int) else None
    if resp.status_code in (429, 503):
        raise RateLimited(resp.status_code, code, message, None,
                          retry_at=parse_retry_after(resp.headers.get("Retry-After")),
                          limit_type=resp.headers.get("X-RateLimit-Type"))
    hint = {401: "check ZOOM_WEBHOOK_TOKEN (the verification token /inc connect showed)",
            404: "the webhook was removed or ZOOM_WEBHOOK_URL is wrong: run /inc connect in "
                 "the channel again"}.get(resp.status_code)
    raise ZoomAPIError(resp.status_code, code, message or "the webhook refused the post",
                       None, hint=hint)
