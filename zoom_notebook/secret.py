"""``Secret``: a string that hides itself from ``repr``.

Tokens are kept as ``Secret`` so that a debugger, a log line with ``%r`` or a verbose
notebook traceback (``%xmode Verbose`` prints every local variable) shows ``<hidden>``
instead of the value. ``str()``, f-strings and JSON still give the real text, which is
what the HTTP layer needs.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

T = TypeVar("T")


class Secret(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"

    def __reduce__(self) -> Any:  # pickles as a Secret too
        return (Secret, (str(self),))


def hide(value: Any) -> Any:
    """Wrap a string in :class:`Secret`; leave None and other values alone."""
    return Secret(value) if isinstance(value, str) and not isinstance(value, Secret) else value


def guarded(call: Callable[[], T], what: str) -> T:
    """Run ``call``: a request that carries a secret (a token, a refresh token, a code, the
    client secret in a Basic header). An interrupt inside it comes out as a fresh
    ``KeyboardInterrupt`` raised here, with no frames below this one and no chained
    exception: the frames of requests, urllib3 and authlib hold the secret in plain
    text (request bodies, encoded headers), and ``%xmode Verbose`` would print them into
    the notebook (SECURITY.md 30)."""
    interrupted = False
    try:
        return call()
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:  # raised outside the except block: no __context__ to show
        raise KeyboardInterrupt(f"interrupted while {what}")
    raise AssertionError("unreachable")  # pragma: no cover
