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
