"""The token store and rotation-proof refresh (SECURITY.md 9, 11-16, 22)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

import zoom_notebook as zn
from zoom_notebook import AuthError, ReauthRequired
from zoom_notebook.config import Settings, default_home
from zoom_notebook.store import TokenStore
from zoom_notebook.userauth import UserLogin


@pytest.fixture
def logged_in(fake_browser):
    zn.login(method="browser")
    return fake_browser.sandbox


def store():
    return TokenStore(Settings.load().home_dir)


def user_login(sb, **kwargs):
    return UserLogin(store(), oauth_url=sb.url, client_id=sb.client_id,
                     client_secret=sb.client_secret, **kwargs)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_9_store_is_0600_in_0700_folder_outside_the_working_directory(logged_in):
    """SECURITY.md 9."""
    s = store()
    assert mode(s.path) == 0o600 and mode(s.home) == 0o700
    default = default_home().resolve()
    assert not str(default).startswith(os.getcwd())


def test_9_loose_permissions_are_fixed_before_use(logged_in):
    s = store()
    os.chmod(s.path, 0o644)
    os.chmod(s.home, 0o755)
    with pytest.warns(UserWarning, match="readable by others"):
        assert zn.status().logged_in
    assert mode(s.path) == 0o600 and mode(s.home) == 0o700


def test_11_lock_has_a_bounded_wait(logged_in):
    """SECURITY.md 11: a held lock gives a clear error after the bounded wait."""
    s = store()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import filelock, sys, time; l = filelock.FileLock(sys.argv[1]); l.acquire(); "
        "print('held', flush=True); time.sleep(20)"), str(s.lock_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        creds = UserLogin(TokenStore(s.home, lock_timeout=0.5), oauth_url=logged_in.url,
                          client_id=logged_in.client_id, client_secret=logged_in.client_secret)
        start = time.monotonic()
        with pytest.raises(AuthError, match="lock"):
            creds.access_token()
        assert time.monotonic() - start < 5
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_12_stale_process_adopts_newer_token_without_calling_zoom(logged_in):
    """SECURITY.md 12 (two credential objects stand for two kernels)."""
    a, b = user_login(logged_in), user_login(logged_in)
    a.access_token(), b.access_token()
    logged_in.expire_access_tokens()
    rec = store().read()
    rec["expires_at"] = int(time.time()) - 10
    store().write(rec)
    a._cached = b._cached = rec
    token_a = a.access_token()
    token_b = b.access_token()
    assert token_a == token_b
    assert (a.refreshes, b.refreshes) == (1, 0)
    assert logged_in.counters["refresh_token"] == 1


def test_12_rejected_token_is_refreshed_once_then_adopted(logged_in):
    a, b = user_login(logged_in), user_login(logged_in)
    old = a.access_token()
    assert b.access_token() == old
    logged_in.expire_access_tokens()  # Zoom now rejects it although it looks fresh
    channel = logged_in.channel_id("general")
    zn.send("one", to_channel=channel)  # 401 -> forced refresh through the store
    assert b.force_refresh(old) and b.access_token() != old
    assert logged_in.counters["refresh_token"] == 1


def test_13_invalid_grant_logs_out_without_looping(logged_in, http_recorder):
    """SECURITY.md 13: re-read once; nothing newer -> logged out, 'log in again'."""
    rec = store().read()
    logged_in.oauth.refresh_tokens[rec["refresh_token"]]["alive"] = False  # revoked
    rec["expires_at"] = int(time.time()) - 10
    store().write(rec)
    zn.api.forget_clients()
    with pytest.raises(ReauthRequired, match="log in again"):
        zn.send("x", to_channel=logged_in.channel_id("general"))
    assert logged_in.counters["refresh_token"] == 1
    assert store().read() is None
    assert not store().path.exists()


def test_13_newer_tokens_on_disk_after_invalid_grant_are_adopted(logged_in):
    creds = user_login(logged_in)
    creds.access_token()
    rec = store().read()
    # Another process refreshed without us noticing: it holds the live refresh token.
    resp = requests.post(logged_in.url + "/oauth/token", timeout=5,
                         auth=(logged_in.client_id, logged_in.client_secret),
                         data={"grant_type": "refresh_token",
                               "refresh_token": rec["refresh_token"]}).json()
    original_read = creds.store.read
    reads = []

    def read():
        reads.append(1)
        if len(reads) == 1:
            return {**rec, "expires_at": int(time.time()) - 10}  # the stale view
        return {**rec, "access_token": resp["access_token"],
                "refresh_token": resp["refresh_token"], "expires_at": int(time.time()) + 3600}

    creds.store.read = read
    assert creds.force_refresh(rec["access_token"])
    creds.store.read = original_read
    assert creds._cached["access_token"] == resp["access_token"]
    assert logged_in.counters.get("invalid_grant") == 1


def test_13_failing_save_is_an_error_and_releases_the_lock(logged_in, monkeypatch):
    import zoom_notebook.store as store_mod

    creds = user_login(logged_in)
    logged_in.expire_access_tokens()
    rec = store().read()
    rec["expires_at"] = int(time.time()) - 10
    store().write(rec)

    def broken(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod, "atomic_write", broken)
    with pytest.raises(AuthError, match="Could not save"):
        creds.access_token()
    monkeypatch.undo()
    with store().lock():  # released: can be taken again at once
        pass


def test_14_expires_at_is_an_integer_and_refresh_leeway_is_60s(logged_in):
    """SECURITY.md 14."""
    rec = store().read()
    assert isinstance(rec["expires_at"], int) and rec["expires_in"] == 3600
    creds = user_login(logged_in)
    rec["expires_at"] = int(time.time()) + 61
    store().write(rec)
    creds.access_token()
    assert creds.refreshes == 0
    rec["expires_at"] = int(time.time()) + 59
    store().write(rec)
    creds._cached = None
    creds.access_token()
    assert creds.refreshes == 1
    with pytest.raises(ValueError):
        store().write({**rec, "expires_at": 1.5})


def test_15_logout_revokes_and_removes_every_token_file(logged_in):
    """SECURITY.md 15."""
    rec = store().read()
    (store().home / ".tokens.json.leftover.tmp").write_text("{}")
    message = zn.logout()
    assert "revoked" in message
    assert logged_in.counters["revoke"] == 2
    assert not store().path.exists()
    assert list(store().home.glob("*.tmp")) + list(store().home.glob(".*.tmp")) == []
    resp = requests.post(logged_in.url + "/oauth/token", timeout=5,
                         auth=(logged_in.client_id, logged_in.client_secret),
                         data={"grant_type": "refresh_token",
                               "refresh_token": rec["refresh_token"]})
    assert resp.json()["error"] == "invalid_grant"
    assert not zn.status().logged_in
    with pytest.raises(AuthError, match="zoomchat login"):
        zn.send("x", to_channel=logged_in.channel_id("general"))


def test_15_logout_works_when_zoom_is_unreachable(logged_in, monkeypatch):
    monkeypatch.setenv("ZOOM_OAUTH_URL", "http://127.0.0.1:9")
    message = zn.logout()
    assert "could not be reached" in message and not store().path.exists()


def test_16_access_token_from_environment_is_never_written(user_env):
    """SECURITY.md 16."""
    token = os.environ["ZOOM_ACCESS_TOKEN"]
    zn.send("x", to_channel=user_env.channel_id("general"))
    st = zn.status()
    assert st.logged_in and "ZOOM_ACCESS_TOKEN" in st.method
    zn.logout()
    home = Settings.load().home_dir
    for path in home.rglob("*") if home.exists() else []:
        if path.is_file():
            assert token not in path.read_text(errors="replace")


def test_22_reprs_and_errors_leave_secrets_out(logged_in, http_recorder):
    """SECURITY.md 22: repr/str/_repr_html_ and exception texts hold no secret; tokens
    never go in URLs or os.environ."""
    channel = logged_in.channel_id("general")
    sent = zn.send("hello", to_channel=channel)
    objects = [zn.status(), sent, store(), user_login(logged_in), zn.api.client(),
               zn.api.client().credentials, Settings.load()]
    from zoom_notebook import auth

    objects.append(auth.PKCELogin(Settings.load(), auth.PASTE_REDIRECT_URI,
                                  auth.SEND_SCOPES, "paste"))
    errors = []
    for call in (lambda: zn.send("x", to_channel="nope"),
                 lambda: zn.send("x", to_contact="nobody@example.com")):
        try:
            call()
        except zn.ZoomNotebookError as exc:
            errors.append(exc)
    texts = []
    for obj in objects + errors:
        texts += [repr(obj), str(obj)]
        if hasattr(obj, "_repr_html_"):
            texts.append(obj._repr_html_())
    secrets = logged_in.secrets()
    assert secrets
    for text in texts:
        for secret in secrets:
            assert secret not in text
    for prepared in http_recorder.requests:
        if "/callback?" in prepared.url:
            continue  # the (fake) browser following Zoom's redirect, not our client
        for secret in secrets:
            assert secret not in prepared.url
    for value in os.environ.values():
        assert value not in secrets or value == logged_in.client_secret


def test_store_never_shows_a_half_written_file_to_readers(tmp_path):
    s = TokenStore(tmp_path / "h")
    s.write({"access_token": "a", "expires_at": 1})
    assert json.loads(s.path.read_text())["access_token"] == "a"
    s.path.write_text("{not json")
    with pytest.raises(AuthError, match="damaged"):
        s.read()


def test_issue12_finding_10_symlinked_token_file_umask_and_a_repository_home(
        tmp_path, monkeypatch):
    from zoom_notebook import ValidationError
    from zoom_notebook.store import secure_dir

    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    os.chmod(outside, 0o644)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "tokens.json").symlink_to(outside)
    with pytest.raises(AuthError, match="symbolic link"):
        TokenStore(home).read()
    assert mode(outside) == 0o644  # not chmod'ed through the link
    old = os.umask(0)
    try:
        deep = tmp_path / "a" / "b" / "c"
        secure_dir(deep)
    finally:
        os.umask(old)
    assert all(mode(p) == 0o700 for p in (tmp_path / "a", tmp_path / "a" / "b", deep))
    repo = tmp_path / "project"
    (repo / ".git").mkdir(parents=True)
    os.chmod(repo, 0o755)
    monkeypatch.chdir(repo)
    for where in (repo, "."):
        with pytest.raises(ValidationError, match="ZOOM_NOTEBOOK_HOME"):
            TokenStore(Path(where)).write({"access_token": "a", "expires_at": 1})
    assert mode(repo) == 0o755 and not (repo / "tokens.json").exists()
