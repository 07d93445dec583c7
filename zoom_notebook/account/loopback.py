"""The one-shot loopback listener for the browser login (RFC 8252 §7.3, §8.3).

It binds 127.0.0.1 only, on a free port, lives for one login, accepts one request on the
expected path, gives up after a timeout (at most 300 s), and is closed after success,
error, timeout or interrupt, so the port is free afterwards. Its page echoes none of the
query values (no code, no state, no error text from the URL).
"""

from __future__ import annotations

import html
import http.server
import socket
import threading
import time
from typing import Any

from zoom_notebook.core.errors import AuthError

MAX_TIMEOUT = 300.0
CALLBACK_PATH = "/callback"

_PAGE = ("<!doctype html><html><head><meta charset='utf-8'><title>zoom-notebook</title>"
         "</head><body style='font-family:system-ui,sans-serif;margin:3em'><h1>{title}</h1>"
         "<p>{text}</p></body></html>")


#: Seconds one connection may take to send its request, however slowly it drips.
REQUEST_DEADLINE = 3.0
#: Seconds the browser's page waits for the token exchange before it says "in progress".
DECISION_WAIT = 60.0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "_Server"
    timeout = REQUEST_DEADLINE  # a connection that sends nothing cannot hold the listener

    def setup(self) -> None:
        super().setup()
        # A client sending a byte now and then resets a per-read timeout forever: cut the
        # connection at a fixed deadline instead (SECURITY.md 33).
        self._cutoff = threading.Timer(REQUEST_DEADLINE, self._cut)
        self._cutoff.daemon = True
        self._cutoff.start()

    def _cut(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        self._cutoff.cancel()
        try:
            super().finish()
        except OSError:
            pass

    def _refuse(self, status: int, text: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").lower()
        port = self.server.server_port
        if host not in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            # another name for this address (DNS rebinding), or none: not the browser
            self._refuse(400, b"Bad Host")
            return
        path = self.path.partition("?")[0]
        if path != CALLBACK_PATH or self.server.result is not None:
            self._refuse(404, b"Not found")
            return
        self.server.result = f"http://127.0.0.1:{self.server.server_port}{self.path}"
        self._cutoff.cancel()  # the request is read: the page waits for the token exchange
        self.server.decided.wait(DECISION_WAIT)
        title, text = self.server.outcome or (
            "Login still in progress", f"Look at your {self.server.where} for the outcome.")
        body = _PAGE.format(title=html.escape(title), text=html.escape(text))
        data = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request line holds the code: never log it


class _Server(http.server.ThreadingHTTPServer):
    """One thread per connection: a slow client cannot keep the browser waiting."""

    daemon_threads = True
    result: str | None = None
    #: (title, text) of the page the browser gets, once the login is decided
    outcome: tuple[str, str] | None = None
    #: where the login started, for the page's words: "notebook" or "terminal"
    where = "notebook"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decided = threading.Event()
        self.handlers: list[threading.Thread] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up or was cut (a slow drip) is not news: no traceback

    def process_request(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn's, keeping the threads: close() lets the page finish writing
        thread = threading.Thread(target=self.process_request_thread,
                                  args=(request, client_address), daemon=True,
                                  name="zoom-notebook-loopback")
        self.handlers.append(thread)
        thread.start()


class LoopbackListener:
    """``with LoopbackListener() as l: ...; url = l.wait(timeout)``."""

    def __init__(self, where: str = "notebook") -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.where = where
        self.port = self._server.server_port

    def report(self, ok: bool, error: str = "", *, title: str = "Login failed") -> None:
        """The login is decided: the browser's page says so ("Logged in" only now, after
        the token exchange succeeded), in words that fit where the login started."""
        back = f"You can close this tab and return to your {self._server.where}."
        if ok:
            self._server.outcome = ("Logged in", back)
        else:
            self._server.outcome = (title, f"{error} {back}".strip())
        self._server.decided.set()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def wait(self, timeout: float = MAX_TIMEOUT) -> str:
        """Block until the browser arrives on the callback; return the full URL it used.
        The browser's page waits until ``report`` says how the login ended."""
        deadline = time.monotonic() + min(timeout, MAX_TIMEOUT)
        self._server.timeout = 0.2
        try:
            while self._server.result is None:
                if time.monotonic() >= deadline:
                    raise AuthError("The login timed out: no answer came from the browser. "
                                    "Run `%zoomchat login` again (or use --paste on a remote "
                                    "machine).")
                self._server.handle_request()
            return self._server.result
        finally:
            self._stop_listening()

    def close(self) -> None:
        self._server.decided.set()  # a page still waiting is answered now
        self._stop_listening()
        for thread in self._server.handlers:  # each is cut at REQUEST_DEADLINE at most
            thread.join(REQUEST_DEADLINE + 1)

    def _stop_listening(self) -> None:
        try:
            self._server.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.server_close()

    def __enter__(self) -> "LoopbackListener":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
