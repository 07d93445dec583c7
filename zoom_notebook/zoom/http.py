"""The one choke point for HTTP with Zoom: every exchange this package makes — Team Chat
calls (``zoom.client``), token requests (login, refresh, Server-to-Server, device codes,
revocation) and Incoming Webhook posts — goes through ``exchange``. It applies, in one
place: secrets never reach a traceback (``core.secret.guarded``: an interrupt or an error
inside comes out without frames that hold a token); a retry only where nothing can have
been sent (``core.retry.with_connect_retries``: the connection was not even opened, so a
rotating refresh token cannot have been used up); a whole-exchange deadline where a slow
server must not hold the caller (the webhook). What to wait and whether to retry after an
ANSWER is ``core.retry.POLICY``'s (``after_answer``, ``later``); the REST client applies it.
tests/test_layers.py checks that nothing else calls ``guarded`` around a request."""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from zoom_notebook.core.retry import POLICY
from zoom_notebook.core.secret import guarded

T = TypeVar("T")


def exchange(call: Callable[[], Any], what: str, *, connect_retries: bool = False,
             deadline: float | None = None, keep: Callable[[Any], Any] | None = None
             ) -> Any:
    """Run ``call`` (one request with the ``requests`` library or authlib's session).

    ``what``: what is being done, for an interrupt ("interrupted while renewing the Zoom
    login"). ``connect_retries``: try again while the connection cannot even be opened
    (token requests). ``deadline``: seconds the whole exchange may take, else
    ``TimeoutError`` (the caller treats it as an unknown outcome). ``keep``: passed to
    ``guarded`` (what of an error to keep, with secrets hidden)."""
    run: Callable[[], Any] = call
    if deadline is not None:
        bounded, limit = run, deadline
        run = lambda: within(limit, bounded)  # noqa: E731
    if connect_retries:
        once = run
        run = lambda: POLICY.connect_retries(once)  # noqa: E731
    if keep is None:
        return guarded(run, what)
    return guarded(run, what, keep=keep)


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``, or TimeoutError once ``seconds`` have passed (the call goes on in a
    daemon thread and its result is dropped: the caller treats it as unknown)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    worker = threading.Thread(target=run, name="zoom-notebook-http-deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
