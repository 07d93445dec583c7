"""``Secret``: a string that hides itself from ``repr``.

Tokens are kept as ``Secret`` so that a debugger, a log line with ``%r`` or a verbose
notebook traceback (``%xmode Verbose`` prints every local variable) shows ``<hidden>``
instead of the value. ``str()``, f-strings and JSON still give the real text, which is
what the HTTP layer needs.
"""

from __future__ import annotations

from typing import Any


class Secret(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"

    def __reduce__(self) -> Any:  # pickles as a Secret too
        return (Secret, (str(self),))


def hide(value: Any) -> Any:
    """Wrap a string in :class:`Secret`; leave None and other values alone."""
    return Secret(value) if isinstance(value, str) and not isinstance(value, Secret) else value
