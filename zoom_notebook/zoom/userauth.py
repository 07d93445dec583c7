"""The saved user login as a credential source, refreshed safely with rotating tokens.

Zoom's refresh tokens rotate: each refresh returns a new one and kills the old one. With
several kernels (processes) and threads sharing one store, exactly ONE of them may
refresh per rotation; the others must adopt its result from disk (SECURITY.md 12).
So every refresh runs under the store's cross-process lock as read-decide-refresh-write:

1. re-read the store; if it holds a usable token that is not the one Zoom rejected,
   adopt it (no call to Zoom);
2. else refresh, and save the new tokens before the lock is released;
3. on ``invalid_grant``, re-read once; if nothing newer is there, log out and raise
   ``ReauthRequired`` (no loop) (SECURITY.md 13).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable

from zoom_notebook.core.errors import AuthError, ReauthRequired
from zoom_notebook.core.retry import TOKEN_TIMEOUT, refresh_margin
from zoom_notebook.core.secret import Secret, hide, hide_token
from zoom_notebook.core.store import StoreReadOnly, TokenStore
from zoom_notebook.zoom.http import exchange

LOGGED_OUT = ("You are not logged in to Zoom (or the login expired): run `%zoomchat login` "
              "(or zn.login()) to log in again.")


class InvalidGrant(Exception):
    """Zoom refused the refresh token (used, revoked or expired)."""


def token_record(token: dict[str, Any], *, method: str, client_id: str,
                 now: float | None = None) -> dict[str, Any]:
    """What the store keeps of a token response; ``expires_at`` is always an integer."""
    now = time.time() if now is None else now
    try:
        lifetime = int(float(token.get("expires_in") or 3600))
    except (TypeError, ValueError, OverflowError):
        lifetime = 3600  # an answer without a usable lifetime: Zoom's hour
    return {
        "access_token": hide(token["access_token"]),
        "refresh_token": hide(token.get("refresh_token")),
        "token_type": token.get("token_type", "bearer"),
        "scope": token.get("scope", ""),
        "api_url": token.get("api_url"),
        "expires_in": lifetime,
        "expires_at": int(now) + lifetime,
        "method": method,
        "client_id": client_id,
        "saved_at": int(now),
    }


def oauth_errors(*also: type[Exception]) -> tuple[type[Exception], ...]:
    """What a token or revoke call raises when Zoom answers with an OAuth error
    (authlib's ``OAuthError``, carrying ``.error``) or with a body that is not a token
    (``ValueError``, ``KeyError``). Imported on first use: authlib loads only when a
    login or refresh happens. Network errors (``requests.RequestException``) are added
    by the caller through ``also`` where it treats them alike."""
    from authlib.integrations.base_client import OAuthError

    return (OAuthError, ValueError, KeyError, *also)


def oauth_session(client_id: str, client_secret: str | None, **kwargs: Any) -> Any:
    """An authlib session for this app: HTTP Basic for confidential clients, none
    (client_id in the body, PKCE instead of a secret) for public clients."""
    from authlib.integrations.requests_client import OAuth2Session

    method = "client_secret_basic" if client_secret else "none"
    return OAuth2Session(client_id, client_secret or None, token_endpoint_auth_method=method,
                         revocation_endpoint_auth_method=method, **kwargs)


class UserLogin:
    """Access tokens from the token store, refreshed under its lock."""

    kind = "user"
    default_user = "me"

    def __init__(self, store: TokenStore, *, oauth_url: str, client_id: str | None,
                 client_secret: str | None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._token_url = oauth_url.rstrip("/") + "/oauth/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._cached: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self.refreshes = 0  # refresh calls this object made (for tests and status)

    def __repr__(self) -> str:
        return f"UserLogin(store={str(self.store.path)!r}, tokens=<hidden>)"

    def _fresh(self, record: dict[str, Any] | None) -> bool:
        if not record:
            return False
        try:
            remaining = float(record["expires_at"]) - self._clock()
            lifetime = float(record.get("expires_in") or 3600)
        except (TypeError, ValueError, KeyError):
            return False  # a damaged time: renew (the refresh writes correct ones)
        if not (math.isfinite(remaining) and math.isfinite(lifetime)):
            return False
        return bool(remaining > refresh_margin(lifetime))

    def access_token(self) -> str:
        record = self._cached
        if self._fresh(record):
            assert record is not None
            return Secret(record["access_token"])
        return self._renew(rejected=None)

    def force_refresh(self, rejected: str) -> bool:
        self._renew(rejected=rejected)
        return True

    def granted(self) -> tuple[str, ...] | None:
        """The scopes Zoom granted at login (or the last refresh), kept in the store."""
        record = self._cached or self.store.read()
        return tuple(str((record or {}).get("scope") or "").split()) or None

    def _renew(self, rejected: str | None) -> str:
        try:
            return self._renew_locked(rejected)
        except StoreReadOnly:
            # A read-only home: a token still valid on disk can be used; a refresh cannot
            # be saved (and rotation would lose the login), so it is refused plainly.
            with self._lock:
                record = self.store.read()
                if record is not None and record["access_token"] != rejected and (
                        self._fresh(record)):
                    self._cached = record
                    return Secret(record["access_token"])
            raise

    def _renew_locked(self, rejected: str | None) -> str:
        with self._lock, self.store.lock():
            record = self.store.read()
            if record is None:
                self._cached = None
                raise ReauthRequired(LOGGED_OUT)
            if record["access_token"] != rejected and self._fresh(record):
                self._cached = record  # another thread or kernel refreshed: adopt it
                return Secret(record["access_token"])
            try:
                new = self._refresh(record)
            except InvalidGrant:
                again = self.store.read()
                if again is None or again.get("refresh_token") == record.get("refresh_token"):
                    self.store.delete()
                    self._cached = None
                    raise ReauthRequired(LOGGED_OUT) from None
                if again["access_token"] != rejected and self._fresh(again):
                    self._cached = again
                    return Secret(again["access_token"])
                try:
                    new = self._refresh(again)
                except InvalidGrant:
                    self.store.delete()
                    self._cached = None
                    raise ReauthRequired(LOGGED_OUT) from None
            self.store.write(new)  # saved before the lock is released
            self._cached = new
            return Secret(new["access_token"])

    def _refresh(self, record: dict[str, Any]) -> dict[str, Any]:
        import requests

        refresh_token = record.get("refresh_token")
        if not refresh_token:
            raise InvalidGrant()
        client_id = record.get("client_id") or self._client_id
        if not client_id:
            raise AuthError("ZOOM_CLIENT_ID is not set: set it to your app's client id.")
        session = oauth_session(client_id, self._client_secret)
        self.refreshes += 1
        try:
            token = exchange(lambda: session.refresh_token(
                self._token_url, refresh_token=refresh_token, timeout=TOKEN_TIMEOUT),
                "renewing the Zoom login", connect_retries=True, keep=hide_token)
        except requests.RequestException as exc:
            raise AuthError(f"Could not reach Zoom's token endpoint ({type(exc).__name__}) "
                            "to refresh the login; try again.") from None
        except oauth_errors() as exc:
            error = getattr(exc, "error", None)
            if error == "invalid_grant":
                raise InvalidGrant() from None
            raise AuthError(f"Zoom refused to refresh the login ({error or type(exc).__name__})"
                            "; run `%zoomchat login` to log in again.") from None
        finally:
            session.close()
        return token_record(dict(token), method=str(record.get("method", "browser")),
                            client_id=client_id, now=self._clock())
