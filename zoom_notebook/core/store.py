"""The token store: one JSON file in ``ZOOM_NOTEBOOK_HOME`` holding the user login.

- Folder 0700, file 0600; a looser file or folder is fixed before use (SECURITY.md 9).
- Writes are atomic: a temp file in the same folder, fsync, ``os.replace``, so a reader
  never sees a half-written file, even when a writer is killed (SECURITY.md 10).
- ``lock()`` is a cross-process lock (filelock) plus an in-process one, with a bounded
  wait, around read-decide-refresh-write (SECURITY.md 11).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Iterator

from zoom_notebook.core.errors import AuthError
from zoom_notebook.core.secret import Secret, guard, hide

TOKEN_FILE = "tokens.json"  # noqa: S105 (a file name)
CLIENT_FILE = "client.json"  # the app's client secret, when kept here instead of the env
LOCK_FILE = "tokens.lock"
REQUIRED = ("access_token", "expires_at")

_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(str(path), threading.RLock())


def check_home(path: Path) -> None:
    """Refuse a home folder that is not a folder of its own: the working directory (a
    project, whose files would be chmod'ed and whose tokens could be committed) or a
    repository."""
    from zoom_notebook.core.errors import ValidationError

    resolved = Path(os.path.abspath(path))
    with contextlib.suppress(OSError):
        if resolved == Path(os.getcwd()).resolve() or (resolved / ".git").exists():
            raise ValidationError("ZOOM_NOTEBOOK_HOME", (
                f"{path} is the working directory or a repository: tokens would sit beside "
                "your code (and it would be made private). Choose a folder of its own, e.g. "
                "unset ZOOM_NOTEBOOK_HOME for the default, or ~/.config/zoom-notebook"))


def secure_dir(path: Path) -> None:
    """Create ``path`` as 0700 (and every parent it creates, whatever the umask), or
    tighten it if it is looser."""
    check_home(path)
    missing = []
    for folder in [path, *path.parents]:
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder, 0o700)
    st = os.stat(path)  # a folder reached through a link is the folder the user named
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _refuse_link(path: Path) -> None:
    """A token file that is a symbolic link is refused: chmod and reads would follow it."""
    if path.is_symlink():
        raise AuthError(f"{path} is a symbolic link; remove it (the login is stored in a real "
                        "file), then run `%zoomchat login` again.")


def read_regular(path: Path, limit: int, *, tail: bool = False) -> bytes:
    """At most ``limit`` bytes of the file at ``path`` (its last ones with ``tail``), read
    only if it is a regular file: a symlink, FIFO or device planted in its place is never
    followed, waited on or read without end (SECURITY.md 39). Raises OSError otherwise
    (FileNotFoundError when there is nothing)."""
    import errno

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        return os.pread(fd, limit, max(0, info.st_size - limit) if tail else 0)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) so readers see the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@guard("saving the client secret")
def save_client_secret(home: Path, client_id: str, client_secret: str) -> Path:
    """Keep the app's client secret in ``client.json`` (0600, in the 0700 home folder), so
    it need not be in the kernel's environment where ``!env`` and child processes see it
    (issue 12 finding 11). It is used only with the same ``client_id``."""
    path = home / CLIENT_FILE
    secure_dir(home)
    _refuse_link(path)
    try:
        atomic_write(path, json.dumps({"client_id": client_id,
                                       "client_secret": str(client_secret)}).encode())
    except OSError as exc:
        raise AuthError(f"Could not save the client secret to {path} ({exc.strerror}); "
                        "check the folder, then try again.") from None
    return path


@guard("reading the client secret")
def load_client_secret(home: Path, client_id: str) -> str | None:
    """The client secret kept for ``client_id`` (a ``Secret``), or None."""
    path = home / CLIENT_FILE
    try:
        if path.is_symlink() or stat.S_IMODE(os.stat(path).st_mode) & 0o077:
            warnings.warn(f"{path} is a link or readable by others, so it is not used; "
                          "run `zoom-notebook keep-secret` again.", stacklevel=3)
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("client_id") != client_id or not isinstance(
            data.get("client_secret"), str):
        return None
    return Secret(data["client_secret"])


def forget_client_secret(home: Path) -> bool:
    """Remove a kept client secret; True if there was one."""
    try:
        os.unlink(home / CLIENT_FILE)
    except FileNotFoundError:
        return False
    return True


class StoreReadOnly(AuthError):
    """Raised when: the token store's folder cannot be written (read-only or full), so a
    login cannot be renewed or saved; a still-valid token is used without the lock."""


class TokenStore:
    """The saved user login in ``home``. Never holds a ``ZOOM_ACCESS_TOKEN``."""

    def __init__(self, home: Path, *, lock_timeout: float = 30.0) -> None:
        self.home = Path(home)
        self.path = self.home / TOKEN_FILE
        self.lock_path = self.home / LOCK_FILE
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store for read-decide-refresh-write, across threads and processes."""
        import filelock

        try:
            secure_dir(self.home)
        except OSError as exc:
            raise StoreReadOnly(self._readonly_message(exc)) from None
        tlock = _thread_lock(self.lock_path)
        if not tlock.acquire(timeout=self.lock_timeout):
            raise AuthError(self._lock_message())
        try:
            flock = filelock.FileLock(str(self.lock_path), timeout=self.lock_timeout,
                                      mode=0o600)
            try:
                flock.acquire()
            except filelock.Timeout:
                raise AuthError(self._lock_message()) from None
            except OSError as exc:  # a read-only or full home: the lock file cannot exist
                raise StoreReadOnly(self._readonly_message(exc)) from None
            try:
                yield
            finally:
                flock.release()
        finally:
            tlock.release()

    def _readonly_message(self, exc: OSError) -> str:
        return (f"The login cannot be renewed: {self.home} cannot be written "
                f"({exc.strerror or exc}). Make the folder writable (or point "
                "ZOOM_NOTEBOOK_HOME at one that is), then try again.")

    def _lock_message(self) -> str:
        return (f"Another process has held the token store lock ({self.lock_path}) for over "
                f"{self.lock_timeout:.0f} s. If no other kernel is logging in, delete that "
                "file and try again.")

    @guard("reading the saved login")
    def read(self) -> dict[str, Any] | None:
        """The saved token record, or None when logged out."""
        _refuse_link(self.path)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        if stat.S_IMODE(st.st_mode) & 0o077:
            try:
                os.chmod(self.path, 0o600)
            except OSError:
                raise AuthError(f"{self.path} is readable by others and cannot be fixed: "
                                "run `chmod 600` on it, then try again.") from None
            warnings.warn(f"{self.path} was readable by others; its mode is now 0600.",
                          stacklevel=2)
        with contextlib.suppress(OSError):  # a read-only home can still be read
            secure_dir(self.home)
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, OSError):
            raise AuthError(f"The token store {self.path} is damaged: run `%zoomchat login` "
                            "(or zn.login()) to log in again.") from None
        if not isinstance(record, dict) or any(k not in record for k in REQUIRED) or not (
                isinstance(record["expires_at"], int)):
            raise AuthError(f"The token store {self.path} is damaged: run `%zoomchat login` "
                            "(or zn.login()) to log in again.")
        for key in ("access_token", "refresh_token"):
            record[key] = hide(record.get(key))
        return record

    @guard("saving the login")
    def write(self, record: dict[str, Any]) -> None:
        """Save ``record`` atomically; an error here is raised, never ignored."""
        if not isinstance(record.get("expires_at"), int):
            raise ValueError("expires_at must be an integer (seconds since the epoch)")
        secure_dir(self.home)
        try:
            atomic_write(self.path, json.dumps(record, indent=1).encode("utf-8"))
        except OSError as exc:
            raise AuthError(f"Could not save the login to {self.path} ({exc.strerror}); "
                            "check the folder, then log in again.") from None

    def delete(self) -> None:
        """Remove every token file (the store and any temp file left by a killed writer)."""
        if not self.home.exists():
            return
        for path in [self.path, *self.home.glob(f".{TOKEN_FILE}.*.tmp")]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
