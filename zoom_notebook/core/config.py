"""Settings and their precedence, written down once.

defaults < config file (``config.json`` in the home folder) < environment < overrides
(``%config ZoomChat.<trait>`` and then call arguments, which callers pass as overrides).

Secrets (client secret, access token) come only from the environment, or for the client
secret from ``client.json`` in the home folder (``zoom-notebook keep-secret``; the
environment wins): never from the config file, never traits, never arguments, and never
shown by ``repr``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping

from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.secret import Secret

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_FILE_API_URL = "https://file.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us"

#: environment variable -> Settings field
ENV_VARS: dict[str, str] = {
    "ZOOM_CLIENT_ID": "client_id",
    "ZOOM_CLIENT_SECRET": "client_secret",
    "ZOOM_ACCOUNT_ID": "account_id",
    "ZOOM_USER": "user",
    "ZOOM_ACCESS_TOKEN": "access_token",
    "ZOOM_API_URL": "api_url",
    "ZOOM_FILE_API_URL": "file_api_url",
    "ZOOM_OAUTH_URL": "oauth_url",
    "ZOOM_NOTEBOOK_HOME": "home",
    "ZOOM_NOTEBOOK_DRY_RUN": "dry_run",
    "ZOOM_WEBHOOK_URL": "webhook_url",
    "ZOOM_WEBHOOK_TOKEN": "webhook_token",
}

SECRET_FIELDS = frozenset({"client_secret", "access_token", "webhook_token"})
#: Keys the config file may set (everything but secrets and the home folder itself).
FILE_KEYS = frozenset(
    {"client_id", "account_id", "user", "api_url", "file_api_url", "oauth_url", "dry_run",
     "default_channel", "default_contact", "login_method"}
)


#: ``%config ZoomChat.<trait>`` values, set by the magics when they load and whenever a
#: trait changes, so that every entry point (``zn.send``, ``zn.notify``, ``zn.progress``,
#: the form) sees them, not only the magics. Settings between the environment and a
#: call's own arguments.
_session: dict[str, Any] = {}


def set_session(**values: Any) -> None:
    """Record (None: forget) session-wide settings (the magics' ``%config``)."""
    for key, value in values.items():
        if value is None:
            _session.pop(key, None)
        else:
            _session[key] = value


def default_home() -> Path:
    """The platform's user config folder for zoom-notebook."""
    import platformdirs

    return Path(platformdirs.user_config_dir("zoom-notebook", appauthor=False))


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with ``Settings.load``."""

    client_id: str | None = None
    client_secret: str | None = dataclasses.field(default=None, repr=False)
    account_id: str | None = None
    user: str = "me"
    access_token: str | None = dataclasses.field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    file_api_url: str = DEFAULT_FILE_API_URL
    oauth_url: str = DEFAULT_OAUTH_URL
    home: Path | None = None
    dry_run: bool = False
    default_channel: str | None = None
    default_contact: str | None = None
    login_method: str | None = None
    #: Zoom's Incoming Webhook app (zoom_notebook.webhook): its endpoint and token
    webhook_url: str | None = dataclasses.field(default=None, repr=False)
    webhook_token: str | None = dataclasses.field(default=None, repr=False)

    @property
    def home_dir(self) -> Path:
        return self.home if self.home is not None else default_home()

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> "Settings":
        """Resolve settings: defaults < config file < environment < ``overrides``.

        ``overrides`` with a value of None are ignored; secrets cannot be overridden.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        env_values: dict[str, Any] = {}
        for var, field in ENV_VARS.items():
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                env_values[field] = raw.strip()
        home = Path(env_values["home"]).expanduser() if "home" in env_values else None
        values.update(_read_config_file((home or default_home()) / "config.json"))
        values.update(env_values)
        for key, value in [*_session.items(), *(overrides or {}).items()]:
            if value is None:
                continue
            if key in SECRET_FIELDS:
                raise ValidationError(key, "secrets are read from the environment only")
            values[key] = value
        values["home"] = home
        if values.get("client_secret") is None and values.get("client_id"):
            from zoom_notebook.core.store import load_client_secret

            values["client_secret"] = load_client_secret(home or default_home(),
                                                         str(values["client_id"]))
        for key in SECRET_FIELDS:
            if values.get(key) is not None:
                values[key] = Secret(values[key])
        for key in ("api_url", "file_api_url", "oauth_url"):
            if key in values:
                values[key] = str(values[key]).rstrip("/")
        if "dry_run" in values:
            values["dry_run"] = _truthy(values["dry_run"])
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValidationError(sorted(unknown)[0], "unknown setting")
        return cls(**values)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


#: config.json as last read, by path: (its stat signature, what it held). A send loads
#: the settings; the file is read again only when it changed (issue 25 item 9).
_config_cache: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return {}
    signature = (st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _config_cache.get(str(path))
    if cached is not None and cached[0] == signature:
        return dict(cached[1])
    data = _parse_config_file(path)
    _config_cache[str(path)] = (signature, data)
    return dict(data)


def _parse_config_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, PermissionError, IsADirectoryError):
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(str(path), f"the config file is not valid JSON ({exc.msg}, line "
                              f"{exc.lineno}): fix or remove it") from None
    if not isinstance(data, dict):
        raise ValidationError(str(path), "the config file must hold a JSON object")
    bad = set(data) - FILE_KEYS
    if bad:
        raise ValidationError(
            f"{path}:{sorted(bad)[0]}",
            "not allowed in the config file (secrets go in environment variables; "
            f"allowed keys: {', '.join(sorted(FILE_KEYS))})",
        )
    return dict(data)
