"""Do file locks work in the home folder? A self-test at first use.

The token store and the outbox rely on file locks (``filelock``) to agree between
processes. On a local disk they always work. A home shared over NFS is fine when the
mount locks through the server (NFSv4, or v3 with lockd), but an NFS mount with
``nolock`` (or ``local_lock=all|flock|posix``) keeps locks on each host: two hosts then
both "hold" the lock. For the outbox that is covered by leases (a host never takes over
a live host's records); for a user login with rotating refresh tokens it is not: two
hosts refreshing at once would each rotate the token and log each other out. So such a
login is refused there, with what to do instead.

The test reads the kernel's mount table (``/proc/self/mountinfo``) for the file system
that holds the folder: no file is written, and it is done once per folder per process.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from zoom_notebook.core.errors import AuthError

MOUNTINFO = "/proc/self/mountinfo"


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def mount_of(path: str, mountinfo: str) -> tuple[str, str, set[str]] | None:
    """(mount point, file system type, options) of the mount holding ``path``."""
    best: tuple[str, str, set[str]] | None = None
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 3:
            continue
        point = _unescape(fields[4])
        inside = path == point or path.startswith(point.rstrip("/") + "/") or point == "/"
        if inside and (best is None or len(point) >= len(best[0])):
            options = set(fields[5].split(",")) | set(tail[2].split(","))
            best = (point, tail[0], options)
    return best


def local_only_locks(path: str | Path, mountinfo: str | None = None) -> str | None:
    """Why file locks in ``path`` would not be seen by other hosts, or None."""
    if mountinfo is None:
        try:
            mountinfo = Path(MOUNTINFO).read_text(encoding="utf-8", errors="replace")
        except OSError:  # not Linux: nothing known to be wrong
            return None
    found = mount_of(os.path.realpath(str(path)), mountinfo)
    if found is None:
        return None
    point, fstype, options = found
    if not fstype.startswith("nfs"):
        return None
    local = next((o.split("=", 1)[1] for o in options if o.startswith("local_lock=")),
                 "none")
    if "nolock" in options or local != "none":
        how = "nolock" if "nolock" in options else f"local_lock={local}"
        return (f"{point} is an NFS mount with {how}: file locks there are not shared "
                "between hosts")
    return None


@functools.lru_cache(maxsize=16)
def _check(home: str) -> str | None:
    return local_only_locks(home)


def check_rotating_login(home: Path) -> None:
    """Refuse a user login (rotating refresh tokens) in a home whose locks are local to
    each host; Server-to-Server logins and plain access tokens do not rotate and are fine."""
    problem = _check(str(home))
    if problem:
        raise AuthError(
            f"ZOOM_NOTEBOOK_HOME ({home}) cannot keep a user login safely: {problem}, so two "
            "hosts refreshing it at once would log each other out. Use Server-to-Server "
            "OAuth there (ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET), or give each "
            "host its own home (e.g. ZOOM_NOTEBOOK_HOME=/tmp/$USER-zoom on a local disk), "
            "or mount the share with locking (NFSv4, or v3 without nolock).")
