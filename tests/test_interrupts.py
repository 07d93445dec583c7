"""Issue 12 finding 1 / SECURITY.md 30: an interrupt at any point of a refresh or a send
leaves no secret in a ``%xmode Verbose`` traceback. Each socket operation of the call is
interrupted in turn (KeyboardInterrupt raised from inside requests/urllib3), and the
verbose traceback IPython would print is scanned for every secret the sandbox issued."""

from __future__ import annotations

import socket
import threading

import pytest
from IPython.core.ultratb import VerboseTB

import zoom_notebook as zn
from zoom_notebook import api

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.slow]


def verbose(exc: BaseException) -> str:
    return VerboseTB().text(type(exc), exc, exc.__traceback__)


def interrupt_points(monkeypatch, run, limit: int = 40) -> list[str]:
    """Run ``run`` once per socket operation, interrupting it at operation N."""
    texts = []
    for n in range(1, limit + 1):
        count = [0]
        real = {name: getattr(socket.socket, name) for name in ("sendall", "recv_into")}

        def make(name, n=n, count=count, real=real):
            def op(self, *a, **k):
                # Ctrl-C reaches the main thread: the sandbox's own server threads (which
                # share the socket class) are not interrupted, and print no tracebacks
                if threading.current_thread() is not threading.main_thread():
                    return real[name](self, *a, **k)
                count[0] += 1
                if count[0] == n:
                    raise KeyboardInterrupt
                return real[name](self, *a, **k)
            return op

        for name in real:
            monkeypatch.setattr(socket.socket, name, make(name))
        try:
            run()
        except KeyboardInterrupt as exc:
            texts.append(verbose(exc))
        except Exception as exc:  # urllib3 may turn it into a connection error: shown too
            texts.append(verbose(exc))
        finally:
            for name, fn in real.items():
                monkeypatch.setattr(socket.socket, name, fn)
        if count[0] < n:  # ran to the end without reaching operation n
            break
    return texts


def test_finding_1_interrupted_refresh_and_send_leave_no_secret(fake_browser, monkeypatch):
    sb = fake_browser.sandbox
    zn.login(method="browser")
    ch = sb.channel_id("general")

    def refresh_and_send():
        sb.expire_access_tokens()
        api.forget_clients()
        zn.send("interrupted?", to_channel=ch)

    texts = interrupt_points(monkeypatch, refresh_and_send)
    assert len(texts) >= 4  # interrupted in the refresh and in the send
    secrets = {s for s in sb.secrets() if len(s) >= 8}
    assert secrets
    for text in texts:
        leaked = [s for s in secrets if s in text]
        assert not leaked, text[-3000:]
        assert "Basic " not in text and "refresh_token=" not in text


@pytest.mark.raw_http
def test_finding_1_interrupted_server_to_server_token_leaves_no_secret(s2s_env, monkeypatch):
    ch = s2s_env.channel_id("general")

    def send():
        api.forget_clients()
        zn.send("s2s interrupted?", to_channel=ch)

    texts = interrupt_points(monkeypatch, send)
    assert texts
    for text in texts:
        assert s2s_env.client_secret not in text and "Basic " not in text
