"""``Secret``: a string that hides itself from ``repr``.

Tokens are kept as ``Secret`` so that a debugger, a log line with ``%r`` or a verbose
notebook traceback (``%xmode Verbose`` prints every local variable) shows ``<hidden>``
instead of the value. ``str()``, f-strings and JSON still give the real text, which is
what the HTTP layer needs.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, TypeVar, overload

T = TypeVar("T")
U = TypeVar("U")
F = TypeVar("F", bound=Callable[..., Any])

#: the fields of a token response that are secrets
TOKEN_FIELDS = ("access_token", "refresh_token", "id_token")
#: environment variables whose values are secrets the package knows (SECURITY.md 36)
SECRET_ENV = ("ZOOM_CLIENT_SECRET", "ZOOM_ACCESS_TOKEN", "ZOOM_WEBHOOK_TOKEN",
              "ZOOM_WEBHOOK_URL")
#: what a known secret becomes in anything the package posts or attaches
REDACTED = "[redacted]"
#: shorter values are not redacted (they would match ordinary text)
MIN_SECRET = 8


#: more values this process was told are secret (a batch run's ``-p api_key ...``)
_remembered: set[str] = set()


def remember_secret(value: Any) -> None:
    """Treat ``value`` as a secret in everything posted from now on."""
    if isinstance(value, str) and len(value) >= MIN_SECRET:
        _remembered.add(value)


def known_secrets(settings: Any = None) -> list[str]:
    """The secret values this process knows (the settings' client secret, access token,
    webhook URL and token; the same variables in the environment; the webhook's hook id),
    longest first, for ``redact``."""
    import os

    values = {os.environ.get(name) for name in SECRET_ENV} | _remembered
    if settings is not None:
        values |= {getattr(settings, field, None) for field in
                   ("client_secret", "access_token", "webhook_token", "webhook_url")}
    for url in [v for v in values if v and "/" in str(v)]:
        values.add(str(url).rstrip("/").rsplit("/", 1)[-1].split("?")[0])  # the hook id
    return sorted({str(v) for v in values if v and len(str(v)) >= MIN_SECRET},
                  key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every known secret value replaced by ``[redacted]``."""
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def redact_bytes(blob: bytes, secrets: list[str]) -> bytes:
    """The same for a file's bytes (an output notebook, a log): UTF-8 occurrences."""
    for value in secrets:
        raw = value.encode("utf-8")
        if raw in blob:
            blob = blob.replace(raw, REDACTED.encode("ascii"))
    return blob


class Secret(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"

    def __reduce__(self) -> Any:  # pickles as a Secret too
        return (Secret, (str(self),))


def hide(value: Any) -> Any:
    """Wrap a string in ``Secret``; leave None and other values alone."""
    return Secret(value) if isinstance(value, str) and not isinstance(value, Secret) else value


def hide_token(token: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a token response with its secrets wrapped in ``Secret``."""
    return {k: hide(v) if k in TOKEN_FIELDS else v for k, v in dict(token).items()}


@overload
def guarded(call: Callable[[], T], what: str) -> T: ...


@overload
def guarded(call: Callable[[], Any], what: str, keep: Callable[[Any], U]) -> U: ...


def guarded(call: Callable[[], Any], what: str, keep: Callable[[Any], Any] | None = None
            ) -> Any:
    """Run ``call``: a request that carries a secret (a token, a refresh token, a code, the
    client secret in a Basic header). An interrupt inside it comes out as a fresh
    ``KeyboardInterrupt`` raised here, with no frames below this one and no chained
    exception: the frames of requests, urllib3 and authlib hold the secret in plain
    text (request bodies, encoded headers), and ``%xmode Verbose`` would print them into
    the notebook (SECURITY.md 30). ``keep`` turns the result into what the caller keeps
    (``hide_token`` for a token response) inside the same protection, so no frame
    ever holds the plain result either."""
    interrupted = False
    try:
        return call() if keep is None else keep(call())  # no local holds the result
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:  # raised outside the except block: no __context__ to show
        raise KeyboardInterrupt(f"interrupted while {what}")
    raise AssertionError("unreachable")  # pragma: no cover


def guard(what: str) -> Callable[[F], F]:
    """Decorate a function whose frames hold secrets in plain text (a token file's text,
    the bytes being written): an interrupt inside it comes out as a fresh
    ``KeyboardInterrupt`` with no frames below the caller's, as ``guarded``."""
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return guarded(functools.partial(fn, *args, **kwargs), what)
        return wrapper  # type: ignore[return-value]
    return decorate


class _RedactingFilter:
    """A logging filter: a log line that would show a known secret (urllib3's DEBUG line
    holds the webhook's URL path, i.e. its hook id) shows ``[redacted]`` instead."""

    def filter(self, record: Any) -> bool:
        secrets = known_secrets()
        if secrets:
            message = record.getMessage()
            cleaned = redact(message, secrets)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


_filtered = False


def redact_library_logs() -> None:
    """Install the filter on the HTTP libraries' loggers (once, when the package first
    talks HTTP)."""
    global _filtered
    if not _filtered:
        import logging

        _filtered = True
        # a filter acts on the logger a line is made in: the ones that log request URLs
        for name in ("urllib3.connectionpool", "urllib3.util.retry"):
            logging.getLogger(name).addFilter(_RedactingFilter())
