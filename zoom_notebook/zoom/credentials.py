"""Where access tokens come from.

A credential source gives the client a valid access token and, after Zoom rejects one
(code 124), may be asked once to get a fresh one. Sources:

- ``StaticToken``: ``ZOOM_ACCESS_TOKEN``, used as is and never written anywhere.
- ``ServerToServer``: ``grant_type=account_credentials`` through authlib, cached in
  memory and renewed before expiry.
- The interactive user login (token store with rotating refresh tokens) plugs in here too.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import AuthError, ValidationError
from zoom_notebook.core.retry import TOKEN_TIMEOUT, refresh_margin
from zoom_notebook.core.secret import Secret, hide, hide_token
from zoom_notebook.zoom.http import exchange
from zoom_notebook.zoom.userauth import oauth_errors


class Credentials(Protocol):
    """What the client needs from a credential source."""

    #: "access-token", "server-to-server", "user"
    kind: str
    #: the sender to use when the caller does not name one: "me" or a user id/email
    default_user: str

    def access_token(self) -> str:
        """Return a valid access token, renewing it first if it is about to expire."""

    def force_refresh(self, rejected: str) -> bool:
        """Zoom rejected ``rejected``; get a new token. False if this source cannot."""

    def granted(self) -> tuple[str, ...] | None:
        """The scopes Zoom granted this login (its token answer's ``scope``), or None
        when they are not known (a bare access token)."""


class StaticToken:
    """An access token given by the user (``ZOOM_ACCESS_TOKEN``): used as is, never stored."""

    kind = "access-token"

    def __init__(self, token: str, user: str = "me") -> None:
        self._token = Secret(token)
        self.default_user = user

    def access_token(self) -> str:
        return self._token

    def force_refresh(self, rejected: str) -> bool:
        return False

    def granted(self) -> tuple[str, ...] | None:
        return None  # a token handed to us: what it may do is not known, nothing is blocked

    def __repr__(self) -> str:
        return f"StaticToken(user={self.default_user!r}, token=<hidden>)"


class ServerToServer:
    """Server-to-Server OAuth (``account_credentials``), for unattended jobs.

    The token lives in memory only, is renewed before it expires, and is shared by
    the threads of this process.
    """

    kind = "server-to-server"

    def __init__(self, *, account_id: str, client_id: str, client_secret: str,
                 oauth_url: str, user: str, clock: Any = time.time) -> None:
        if not user or user == "me":
            raise ValidationError(
                "ZOOM_USER", "Server-to-Server apps cannot send as 'me': set ZOOM_USER to the "
                "sender's email or user id"
            )
        self._account_id = account_id
        self._client_id = client_id
        self._client_secret = Secret(client_secret)
        self._token_url = oauth_url.rstrip("/") + "/oauth/token"
        self.default_user = user
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Secret | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0
        self._session: Any = None
        self._scope: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        return (f"ServerToServer(account_id={self._account_id!r}, client_id="
                f"{self._client_id!r}, user={self.default_user!r}, secret=<hidden>)")

    def _fresh_enough(self) -> bool:
        remaining = self._expires_at - self._clock()
        return self._token is not None and remaining > refresh_margin(self._lifetime)

    def access_token(self) -> str:
        if self._fresh_enough():
            assert self._token is not None
            return self._token
        with self._lock:
            if not self._fresh_enough():
                self._fetch()
            assert self._token is not None
            return self._token

    def force_refresh(self, rejected: str) -> bool:
        with self._lock:
            if self._token == rejected or self._token is None:
                self._fetch()
        return True

    def granted(self) -> tuple[str, ...] | None:
        self.access_token()  # the scopes come with the token (not a Team Chat request)
        return self._scope

    def _fetch(self) -> None:
        import requests
        from authlib.integrations.requests_client import OAuth2Session

        if self._session is None:
            self._session = OAuth2Session(
                self._client_id, self._client_secret,
                token_endpoint_auth_method="client_secret_basic",  # noqa: S106
            )
        try:
            token = exchange(lambda: self._session.fetch_token(
                self._token_url, grant_type="account_credentials",
                account_id=self._account_id, timeout=TOKEN_TIMEOUT,
            ), "getting a Server-to-Server token", connect_retries=True, keep=hide_token)
        except requests.RequestException as exc:
            raise AuthError(
                f"Could not reach Zoom's token endpoint ({type(exc).__name__}); check "
                "ZOOM_OAUTH_URL and your network, then try again."
            ) from None
        except oauth_errors() as exc:
            error = getattr(exc, "error", None) or type(exc).__name__
            raise AuthError(
                f"Zoom refused the Server-to-Server credentials ({error}): check "
                "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET, and that the app "
                "is activated."
            ) from None
        lifetime = float(token.get("expires_in") or 3600)
        self._token = hide(token["access_token"])
        self._scope = tuple(str(token.get("scope") or "").split()) or None
        self._lifetime = lifetime
        self._expires_at = self._clock() + lifetime


def from_settings(settings: Settings) -> Credentials:
    """Pick the credential source the settings call for.

    ``ZOOM_ACCESS_TOKEN`` wins (and is never saved); then Server-to-Server when
    ``ZOOM_ACCOUNT_ID`` is set; then the saved user login.
    """
    if settings.access_token:
        return StaticToken(settings.access_token, settings.user)
    if settings.account_id:
        missing = [name for name, value in (("ZOOM_CLIENT_ID", settings.client_id),
                                            ("ZOOM_CLIENT_SECRET", settings.client_secret))
                   if not value]
        if missing:
            raise AuthError(f"ZOOM_ACCOUNT_ID is set for Server-to-Server OAuth, but "
                            f"{' and '.join(missing)} is not: set it in the environment.")
        assert settings.client_id and settings.client_secret
        return ServerToServer(account_id=settings.account_id, client_id=settings.client_id,
                              client_secret=settings.client_secret,
                              oauth_url=settings.oauth_url, user=settings.user)
    return _user_login(settings)


def _user_login(settings: Settings) -> Credentials:
    from zoom_notebook.core.locking import check_rotating_login
    from zoom_notebook.core.store import TokenStore
    from zoom_notebook.zoom.userauth import UserLogin

    store = TokenStore(settings.home_dir)
    check_rotating_login(settings.home_dir)  # before any refresh can rotate the token
    if store.read() is None:
        raise AuthError(
            "No Zoom credentials: run `%zoomchat login` (or zn.login()), or set "
            "ZOOM_ACCESS_TOKEN, or ZOOM_ACCOUNT_ID + ZOOM_CLIENT_ID + ZOOM_CLIENT_SECRET for "
            "Server-to-Server OAuth."
        )
    return UserLogin(store, oauth_url=settings.oauth_url, client_id=settings.client_id,
                     client_secret=settings.client_secret)
