"""The one client per login this process keeps (per credential source and sender: changing
``%config ZoomChat.default_channel`` must not make a second client and token), what the
login may do (``require``), and Zoom's clock as this process knows it."""

from __future__ import annotations

import threading
import time
from typing import Any

from zoom_notebook.core.config import Settings

_lock = threading.Lock()
#: one client per credential source and sender (not per settings value: changing
#: ``%config ZoomChat.default_channel`` must not make a second client and token)
_clients: dict[tuple[Any, ...], Any] = {}


def credential_key(settings: Settings) -> tuple[Any, ...]:
    """What identifies a client: where it sends, and the credential source it uses."""
    urls = (settings.api_url, settings.file_api_url, settings.user)
    if settings.access_token:
        return ("access-token", settings.access_token, *urls)
    if settings.account_id:
        return ("server-to-server", settings.oauth_url, settings.account_id,
                settings.client_id, settings.client_secret, *urls)
    return ("user", str(settings.home_dir), settings.oauth_url, settings.client_id,
            settings.client_secret, *urls)


def zoom_now(settings: Settings) -> float:
    """Zoom's clock, as far as this process knows it: ours plus the skew its client saw
    in Zoom's ``Date`` header (a kernel whose clock is 2 minutes behind would otherwise
    ask for "30 minutes" that Zoom counts as 28). Ours before any answer from Zoom."""
    skew = getattr(existing(settings), "skew", None)
    return time.time() + (skew if isinstance(skew, (int, float)) else 0.0)


def _client_for(settings: Settings) -> Any:
    from zoom_notebook.zoom.client import ZoomChatClient

    key = credential_key(settings)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = ZoomChatClient.from_settings(settings)
            _clients[key] = client
        return client


def client(settings: Settings | None = None) -> Any:
    """The shared ``ZoomChatClient`` for the current settings."""
    return _client_for(settings or Settings.load())


def require(feature: str, settings: Settings | None = None) -> None:
    """Raise ``MissingScope`` before any request when the login
    is known not to allow ``feature`` (``scopes.FEATURES``). Nothing is said when there is
    no login yet (sending says that) or in a dry run."""
    from zoom_notebook.core.errors import AuthError, ConnectFailed, MissingScope

    settings = settings or Settings.load()
    if settings.dry_run:
        return
    try:
        _client_for(settings).require(feature)
    except MissingScope:
        raise
    except (AuthError, ConnectFailed):
        # no login, or its scopes cannot be learned now (a Server-to-Server token endpoint
        # out of reach): not known, so not blocked; the send says what is wrong, or keeps
        # an alert in the outbox
        return


def existing(settings: Settings) -> Any:
    """The client these settings already have, or None (no client is made)."""
    with _lock:
        return _clients.get(credential_key(settings))


def forget_clients() -> None:
    """Drop the shared clients (after login or logout, and in tests), and with them what
    they learnt: the channel list (``account.people``), the scopes, Zoom's clock."""
    with _lock:
        _clients.clear()
