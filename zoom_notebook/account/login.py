"""Logging in to Zoom: browser (PKCE + loopback), paste, device, Server-to-Server;
``status()`` and ``logout()``. All OAuth goes through authlib's ``OAuth2Session``.

A login asks for no scopes by default: Zoom gives the token the scopes configured on the
app (as Zoom's own SDK does; a ``scope`` naming scopes the app lacks can make Zoom refuse
the login). ``scopes=scopes_for("send", "edit")`` asks for less (SECURITY.md 7, 41).
Which scope each feature needs, for each kind of app, is ``zoom_notebook.scopes``;
the scopes Zoom granted are kept with the login and shown by ``status``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import html
import os
import time
from typing import Any, Callable, Sequence
from urllib.parse import parse_qs, urlsplit

from zoom_notebook.core.config import Settings
from zoom_notebook.core.display import Card, Shown, in_notebook, show
from zoom_notebook.core.errors import AuthError, LoginDenied, ValidationError, ZoomNotebookError
from zoom_notebook.core.retry import TOKEN_TIMEOUT
from zoom_notebook.core.scopes import FEATURES
from zoom_notebook.core.scopes import scopes_for as scopes_for  # re-exported: zn.auth.scopes_for
from zoom_notebook.core.secret import hide, hide_token
from zoom_notebook.core.store import TokenStore
from zoom_notebook.zoom.http import exchange
from zoom_notebook.zoom.userauth import oauth_errors, oauth_session, token_record

#: The features a login can be narrowed to (``--only``), as in ``zoom_notebook.scopes``.
FEATURE_SCOPES = FEATURES
#: What a login asks for by default: nothing, so the app's configured scopes apply.
DEFAULT_SCOPES: tuple[str, ...] = ()
#: A narrower login (granular names): sending with read-back and status.
SEND_SCOPES = scopes_for("send", "read back", "status")
#: Environment markers of kernels whose browser is on another machine.
REMOTE_MARKERS = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER", "COLAB_RELEASE_TAG",
                  "COLAB_GPU", "COLAB_JUPYTER_IP", "ZOOM_NOTEBOOK_REMOTE")
#: Where the browser is sent in the paste method. Nothing listens there: the person copies
#: the address the browser ends on. Zoom ignores the port of a loopback redirect.
PASTE_REDIRECT_URI = "http://127.0.0.1:8976/callback"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
METHODS = ("auto", "browser", "paste", "device")


def _scope_arg(scopes: Sequence[str]) -> dict[str, str]:
    """``scope=`` for the authorize request only when the caller narrowed the login."""
    return {"scope": " ".join(scopes)} if scopes else {}


def is_remote() -> bool:
    """True on JupyterHub, Colab and the like, where a loopback redirect cannot arrive."""
    return any(os.environ.get(name) for name in REMOTE_MARKERS)


def _forget_clients() -> None:
    from zoom_notebook.account import session

    session.forget_clients()


@dataclasses.dataclass(repr=False)
class LoginStatus(Shown):
    """Who is logged in, how, until when, and where the login is kept. Never the token."""

    logged_in: bool
    method: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    expires_at: dt.datetime | None = None
    store: str | None = None
    error: str | None = None
    #: e.g. the client secret is in the kernel's environment (``!env`` shows it)
    warnings: tuple[str, ...] = ()
    #: where the app's client secret comes from (never the secret itself)
    client_secret_from: str | None = None
    #: the scopes Zoom granted this login (None: not known, e.g. ZOOM_ACCESS_TOKEN)
    scopes: tuple[str, ...] | None = None
    #: feature -> (scope names to add, possible at all), from the granted scopes
    features: dict[str, tuple[list[str], bool]] = dataclasses.field(default_factory=dict)

    @property
    def can(self) -> list[str]:
        """The features this login can use (all of them when its scopes are unknown)."""
        if self.scopes is None:
            return list(FEATURES)
        return [f for f, (add, possible) in self.features.items() if possible and not add]

    @property
    def missing(self) -> dict[str, list[str]]:
        """feature -> the scope names to add for it ([] when no scope can give it)."""
        return {f: add for f, (add, possible) in self.features.items() if add or not possible}

    def _scope_rows(self) -> list[tuple[str, str]]:
        if not self.logged_in:
            return []
        if self.scopes is None:
            return [("can do", "not known (a bare access token: Zoom did not say its scopes); "
                               "nothing is blocked, a missing scope shows as Zoom's 4711")]
        from zoom_notebook.core.scopes import needed_sentence

        rows = [("can do", ", ".join(self.can) or "nothing")]
        for feature in self.missing:
            rows.append((f"cannot: {feature}", needed_sentence(feature, self.scopes,
                                                               who="This login")))
        return rows

    def _rows(self) -> list[tuple[str, str]]:
        rows = self._login_rows() + self._scope_rows()
        if self.client_secret_from:
            rows.append(("client secret from", self.client_secret_from))
        rows += [("warning", w) for w in self.warnings]
        return rows

    def _login_rows(self) -> list[tuple[str, str]]:
        if not self.logged_in:
            return [("status", "not logged in — run %zoomchat login (or zn.login())")]
        who = (f"{self.user_name or self.user_email} <{self.user_email or '?'}>"
               if self.user_name or self.user_email else
               "not known (this login may not read its user: see 'cannot: status')"
               if "status" in self.missing else "not known")
        rows = [("user", who),
                ("method", self.method or "?")]
        if self.expires_at is not None:
            rows.append(("access token expires",
                         self.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC") +
                         " (renewed automatically)" * (self.method not in (
                             "access token (ZOOM_ACCESS_TOKEN)",))))
        rows.append(("stored in", self.store or "memory only (nothing on disk)"))
        if self.error:
            rows.append(("problem", self.error))
        return rows

    def card(self) -> Card:
        head = "✓ Logged in to Zoom" if self.logged_in else "Not logged in to Zoom"
        return Card(head, self._rows(), kind="status",
                    tone="ok" if self.logged_in and not self.error else "info")


class PKCELogin:
    """One authorization-code login with PKCE (S256) and a fresh ``state``.

    ``authorize_url`` is the link to open; ``finish`` takes the URL the browser was
    redirected to. The verifier and state never leave this object (nor its repr).
    """

    def __init__(self, settings: Settings, redirect_uri: str, scopes: Sequence[str],
                 method: str) -> None:
        from authlib.common.security import generate_token

        if not settings.client_id:
            raise ValidationError("ZOOM_CLIENT_ID", "set it to your Zoom app's client id "
                                                    "(see `zoom-notebook docs zoom-app`)")
        self.settings = settings
        self.redirect_uri = redirect_uri
        self.method = method
        #: what ``status()`` will say the login method was
        self.recorded_method = method
        self._session = oauth_session(settings.client_id, settings.client_secret,
                                      redirect_uri=redirect_uri, code_challenge_method="S256",
                                      **_scope_arg(scopes))
        self._verifier = hide(generate_token(64))  # RFC 7636: 43-128 characters
        self.authorize_url, self._state = self._session.create_authorization_url(
            settings.oauth_url + "/oauth/authorize", code_verifier=self._verifier,
            state=generate_token(32))

    def __repr__(self) -> str:
        return f"PKCELogin(method={self.method!r}, redirect_uri={self.redirect_uri!r})"

    def finish(self, callback_url: str) -> LoginStatus:
        """Check the redirect, exchange the code for tokens, save them, return the status.

        Nothing is sent to Zoom unless the URL matches the redirect URI and carries the
        expected ``state`` and a ``code`` (SECURITY.md 2, 3, 5).
        """
        url = hide((callback_url or "").strip())  # it holds the code
        got, want = urlsplit(url), urlsplit(self.redirect_uri)
        if (got.scheme, got.hostname, got.path) != (want.scheme, want.hostname, want.path) or (
                self.method == "browser" and got.port != want.port):
            raise AuthError("That is not the address Zoom sent your browser to (it should "
                            f"start with {self.redirect_uri}); copy it again from the "
                            "address bar.")
        query = parse_qs(got.query)
        state = query.get("state", [None])[0]
        if state != self._state:
            raise AuthError("The login answer did not match this login attempt (state "
                            "mismatch), so it was refused. Run `%zoomchat login` again.")
        if "error" in query:
            if query["error"][0] == "access_denied":
                raise LoginDenied("Login denied: you (or Zoom) declined access. Run "
                                  "`%zoomchat login` again to retry.")
            raise AuthError(f"Zoom refused the login ({query['error'][0][:40]}); run "
                            "`%zoomchat login` again.")
        import requests

        code = hide(query.get("code", [None])[0])
        if not code:
            raise AuthError("The address has no authorization code; copy the whole address "
                            "from the browser.")
        try:
            token = exchange(lambda: self._session.fetch_token(
                self.settings.oauth_url + "/oauth/token", grant_type="authorization_code",
                code=code, code_verifier=self._verifier, timeout=TOKEN_TIMEOUT),
                "exchanging the login code", keep=hide_token)
        except oauth_errors(requests.RequestException) as exc:
            raise _token_error(exc) from None
        finally:
            self._session.close()
        return save_login(self.settings, dict(token), self.recorded_method)


def _token_error(exc: BaseException) -> AuthError:
    import requests

    if isinstance(exc, requests.RequestException):
        return AuthError(f"Could not reach Zoom's token endpoint ({type(exc).__name__}); "
                         "check ZOOM_OAUTH_URL and the network, then log in again.")
    error = getattr(exc, "error", None) or type(exc).__name__
    return AuthError(f"Zoom refused the login ({error}). Check ZOOM_CLIENT_ID and "
                     "ZOOM_CLIENT_SECRET and the app's redirect URL, then log in again.")


def save_login(settings: Settings, token: dict[str, Any], method: str) -> LoginStatus:
    from zoom_notebook.core.locking import check_rotating_login

    check_rotating_login(settings.home_dir)  # refresh tokens rotate: the lock must hold
    store = TokenStore(settings.home_dir)
    assert settings.client_id
    with store.lock():
        store.write(token_record(token, method=method, client_id=settings.client_id))
    _forget_clients()
    return status(settings)


def login(method: str = "auto", *, scopes: Sequence[str] = DEFAULT_SCOPES,
          timeout: float = 300.0, open_browser: bool = True,
          settings: Settings | None = None) -> Any:
    """Log in to Zoom; return the ``LoginStatus`` (who is now logged in).

    ``method``: ``browser`` (PKCE + a loopback redirect on 127.0.0.1; the link is opened
    with ``webbrowser`` and also shown), ``paste`` (paste the address the browser ends
    on; for remote kernels), ``device`` (RFC 8628), or ``auto``: Server-to-Server when
    ``ZOOM_ACCOUNT_ID`` is set, ``paste`` on JupyterHub/Colab (``device`` if the config
    says ``login_method: device``), else ``browser``. In a notebook, ``paste`` returns a
    form to paste into instead of waiting.
    """
    if method not in METHODS:
        raise ValidationError("method", f"choose one of {', '.join(METHODS)}")
    settings = settings or Settings.load()
    if settings.account_id and method == "auto":
        return _server_to_server(settings)
    if method == "auto":
        method = (settings.login_method or "paste") if is_remote() else "browser"
        if method not in METHODS[1:]:
            raise ValidationError("login_method", "choose browser, paste or device")
    from zoom_notebook.core.locking import check_rotating_login

    check_rotating_login(settings.home_dir)  # said before the browser opens, not after
    if method == "browser":
        return _browser(settings, scopes, timeout, open_browser)
    if method == "paste":
        return _paste(settings, scopes, open_browser)
    return device_login(settings, scopes=scopes)


def _server_to_server(settings: Settings) -> LoginStatus:
    from zoom_notebook.zoom.credentials import from_settings

    creds = from_settings(settings)
    creds.access_token()  # proves the credentials work; kept in memory only
    _forget_clients()
    return status(settings)


def _show_link(url: str, what: str) -> None:
    safe = html.escape(url, quote=True)
    show(Card(what, kind="login", tone="info", link_text=f"  {url}",
              html_extra=f"<p><a href='{safe}' target='_blank' rel='noopener'>"
                         "<button>Log in to Zoom</button></a></p>"))


def _browser(settings: Settings, scopes: Sequence[str], timeout: float,
             open_browser: bool) -> LoginStatus:
    import webbrowser

    from zoom_notebook.account.loopback import LoopbackListener

    with LoopbackListener("notebook" if in_notebook() else "terminal") as listener:
        attempt = PKCELogin(settings, listener.redirect_uri, scopes, "browser")
        _show_link(attempt.authorize_url, "Approve access in your browser (opening it now)")
        if open_browser:
            try:
                webbrowser.open(attempt.authorize_url)
            except Exception:  # noqa: S110 - no browser: the link is shown above
                pass
        return finish_in_browser(listener, attempt, timeout)


def finish_in_browser(listener: Any, attempt: PKCELogin, timeout: float = 300.0
                      ) -> LoginStatus:
    """Wait for the browser on the loopback listener, exchange the code, and only then
    tell the browser's page how the login ended (it waits for that)."""
    try:
        callback = listener.wait(timeout)
        try:
            result = attempt.finish(callback)
        except LoginDenied as exc:
            listener.report(False, str(exc), title="Login cancelled")
            raise
        except ZoomNotebookError as exc:
            listener.report(False, str(exc))
            raise
        listener.report(True)
        return result
    finally:
        listener.close()


def _paste(settings: Settings, scopes: Sequence[str], open_browser: bool) -> Any:
    attempt = PKCELogin(settings, PASTE_REDIRECT_URI, scopes, "paste")
    if in_notebook():
        from zoom_notebook.core.nbui import PastePrompt

        return PastePrompt(attempt)
    import getpass

    _show_link(attempt.authorize_url, "Open this link, approve access, then copy the address "
                                      "your browser ends on (it will not load)")
    pasted = getpass.getpass("Paste that address here (hidden): ")
    return attempt.finish(pasted)


#: Polls in a row that may fail on the network before the device login gives up.
DEVICE_DROPS = 5


def _seconds(value: Any, default: float, low: float, high: float) -> float:
    """A number of seconds from Zoom's answer, kept within [low, high] (RFC 8628 gives
    only positive values; anything else means the default)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    if seconds != seconds or seconds <= 0:  # NaN, zero, negative
        return default
    return min(max(seconds, low), high)


def device_login(settings: Settings, *, scopes: Sequence[str] = DEFAULT_SCOPES,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> LoginStatus:
    """RFC 8628: show a code and a link, then poll until the person approves.

    Polls no faster than ``interval``, adds 5 s on ``slow_down``, stops on
    ``access_denied``, ``expired_token`` or when ``expires_in`` has passed; Ctrl-C (or
    the notebook's interrupt) stops it (SECURITY.md 6).
    """
    if not settings.client_id or not settings.client_secret:
        raise ValidationError("ZOOM_CLIENT_SECRET", "the device flow needs ZOOM_CLIENT_ID and "
                                                    "ZOOM_CLIENT_SECRET (a private app)")
    session = oauth_session(settings.client_id, settings.client_secret, **_scope_arg(scopes))
    import requests

    try:
        try:
            resp = exchange(lambda: session.post(
                settings.oauth_url + "/oauth/devicecode", data={"client_id": settings.client_id},
                auth=(settings.client_id, settings.client_secret), timeout=TOKEN_TIMEOUT),
                "starting the device login", connect_retries=True)
            grant = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(f"Could not start the device login at {settings.oauth_url} "
                            f"({type(exc).__name__}); check your network and ZOOM_OAUTH_URL, "
                            "then try again.") from None
        if not isinstance(grant, dict):
            grant = {}
        if resp.status_code != 200 or "device_code" not in grant:
            raise AuthError(f"Zoom refused the device login ({grant.get('error', resp.status_code)}"
                            "); the device flow must be enabled for your app.")
        device_code = hide(grant["device_code"])
        interval = _seconds(grant.get("interval"), 5.0, 0.01, 60.0)
        deadline = clock() + _seconds(grant.get("expires_in"), 900.0, 10.0, 3600.0)
        dropped = 0
        link = grant.get("verification_uri_complete") or grant["verification_uri"]
        code = html.escape(grant["user_code"])
        show(Card("Log in to Zoom from any browser", kind="login", tone="info",
                  link_text=f"Go to {grant['verification_uri']} and enter the code "
                            f"{grant['user_code']}",
                  html_extra=(
                      f"<p><a href='{html.escape(link, quote=True)}' target='_blank' "
                      f"rel='noopener'>{html.escape(grant['verification_uri'])}</a> — the "
                      f"code: <b style='font-size:1.3em;letter-spacing:.1em'>{code}</b></p>")))
        while True:
            sleep(interval)
            if clock() >= deadline:
                raise AuthError("The device code expired before it was approved; run "
                                "`%zoomchat login --device` again.")
            try:
                token = exchange(lambda: session.fetch_token(
                    settings.oauth_url + "/oauth/token", grant_type=DEVICE_GRANT,
                    device_code=device_code, timeout=TOKEN_TIMEOUT), "waiting for approval",
                    keep=hide_token)
            except requests.RequestException:  # one dropped poll is not the end
                dropped += 1
                if dropped <= DEVICE_DROPS:
                    continue
                raise AuthError("The device login lost its connection to Zoom "
                                f"{dropped} times in a row; check your network and run "
                                "`%zoomchat login --device` again.") from None
            except oauth_errors() as exc:
                dropped = 0
                error = getattr(exc, "error", None)
                if error == "authorization_pending":
                    continue
                if error == "slow_down":
                    interval += 5
                    continue
                if error == "access_denied":
                    raise LoginDenied("Login denied on the device page; run `%zoomchat login "
                                      "--device` again to retry.") from None
                if error == "expired_token":
                    raise AuthError("The device code expired before it was approved; run "
                                    "`%zoomchat login --device` again.") from None
                raise _token_error(exc) from None
            return save_login(settings, dict(token), "device")
    finally:
        session.close()


ENV_WARNING = ("ZOOM_CLIENT_SECRET is set in this kernel's environment: `!env`, "
               "`os.environ` and every child process can show it (and a saved notebook "
               "keeps what a cell printed). Keep it in the token folder instead: run "
               "`zoom-notebook keep-secret` (or zn.keep_client_secret()) and unset "
               "ZOOM_CLIENT_SECRET; or use a public app (PKCE, no secret).")


def status(settings: Settings | None = None) -> LoginStatus:
    """Who is logged in (asks Zoom: ``GET /users/me``), how, until when, stored where;
    with a warning when the client secret is in the kernel's environment."""
    settings = settings or Settings.load()
    result = _status(settings)
    if os.environ.get("ZOOM_CLIENT_SECRET", "").strip():
        result.warnings = (ENV_WARNING,)
        result.client_secret_from = "the environment (ZOOM_CLIENT_SECRET)"  # noqa: S105
    elif settings.client_secret:
        from zoom_notebook.core.store import CLIENT_FILE

        result.client_secret_from = str(settings.home_dir / CLIENT_FILE)
    return result


def keep_client_secret(client_secret: str | None = None, *, forget: bool = False,
                       settings: Settings | None = None) -> str:
    """Keep the app's client secret in the token folder (``client.json``, 0600) instead
    of the kernel's environment, where ``!env``, ``os.environ`` and every child process
    can show it. With no argument it is taken from ``ZOOM_CLIENT_SECRET`` if set, else
    asked for without echo. ``forget=True`` removes it. Returns what was done."""
    from zoom_notebook.core.store import forget_client_secret, save_client_secret

    settings = settings or Settings.load()
    if forget:
        done = forget_client_secret(settings.home_dir)
        return ("The kept client secret was removed." if done
                else "No client secret was kept.")
    if not settings.client_id:
        raise ValidationError("ZOOM_CLIENT_ID", "set it to your app's client id first (the "
                                                "secret is kept for that app only)")
    secret = hide(client_secret or os.environ.get("ZOOM_CLIENT_SECRET", "").strip())
    if not secret:
        import getpass

        secret = hide(getpass.getpass(f"Client secret of {settings.client_id}: ").strip())
    if not secret:
        raise ValidationError("client_secret", "empty: paste the app's client secret from "
                                               "the Zoom App Marketplace")
    path = save_client_secret(settings.home_dir, settings.client_id, secret)
    tail = (" Now unset ZOOM_CLIENT_SECRET where the kernel starts."
            if os.environ.get("ZOOM_CLIENT_SECRET") else "")
    return f"The client secret is kept in {path} (readable by you only).{tail}"


def _status(settings: Settings | None = None) -> LoginStatus:
    settings = settings or Settings.load()
    store = TokenStore(settings.home_dir)
    if settings.access_token:
        result = LoginStatus(True, method="access token (ZOOM_ACCESS_TOKEN)")
    elif settings.account_id:
        result = LoginStatus(True, method="Server-to-Server (ZOOM_ACCOUNT_ID)")
    else:
        try:
            record = store.read()
        except ZoomNotebookError as exc:
            return LoginStatus(False, error=str(exc), store=str(store.path))
        if record is None:
            return LoginStatus(False, store=str(store.path))
        result = LoginStatus(True, method=str(record.get("method")), store=str(store.path),
                             expires_at=dt.datetime.fromtimestamp(record["expires_at"],
                                                                  dt.timezone.utc))
    from zoom_notebook.account.session import client
    from zoom_notebook.core.scopes import capabilities

    try:
        zoom = client(settings)
        result.scopes = zoom.granted()
        if result.scopes is not None:
            result.features = capabilities(result.scopes)
            if "status" in result.missing:  # GET /users/me would only be refused
                return result
        me = zoom.me()
    except ZoomNotebookError as exc:
        result.error = str(exc)
        return result
    from zoom_notebook.account.people import display_name

    result.user_name = display_name({**me, "email": None}) if me else None
    result.user_email = me.get("email")
    if not settings.access_token and not settings.account_id:
        record = store.read()  # a refresh may have happened while asking
        if record is not None:
            result.expires_at = dt.datetime.fromtimestamp(record["expires_at"],
                                                          dt.timezone.utc)
    return result


def logout(settings: Settings | None = None) -> str:
    """Revoke the saved login at Zoom (best effort) and delete every token file."""
    settings = settings or Settings.load()
    store = TokenStore(settings.home_dir)
    notes = []
    with store.lock():
        try:
            record = store.read()
        except ZoomNotebookError:
            record = None
        if record is not None:
            notes.append(_revoke(settings, record))
        store.delete()
    _forget_clients()
    if settings.access_token:
        notes.append("ZOOM_ACCESS_TOKEN is still set in the environment: unset it too.")
    head = "Logged out: the saved login was removed." if record else "No saved login to remove."
    return " ".join([head, *[n for n in notes if n]])


def _revoke(settings: Settings, record: dict[str, Any]) -> str:
    client_id = record.get("client_id") or settings.client_id
    if not client_id:
        return "It could not be revoked at Zoom (no client id)."
    import requests

    session = oauth_session(client_id, settings.client_secret)
    failed = 0
    try:
        for hint in ("refresh_token", "access_token"):
            value = record.get(hint)
            if not value:
                continue
            try:
                resp = exchange(functools.partial(
                    session.revoke_token, settings.oauth_url + "/oauth/revoke", value,
                    token_type_hint=hint, timeout=TOKEN_TIMEOUT), "revoking the login")
                failed += resp.status_code != 200
            except oauth_errors(requests.RequestException):
                failed += 1
    finally:
        session.close()
    return ("Zoom could not be reached to revoke it; it will expire on its own."
            if failed else "It was revoked at Zoom.")
