"""Who owns an outbox record, and whether it is still alive: a record names its owner
(host, boot id, PID namespace, PID, process start time), so a dead owner is told from a live
one even when its PID was reused; on another host or PID namespace the owner's lease,
renewed while it lives, expires instead (SECURITY.md 27)."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

#: Seconds an owner's claim lasts on another host or PID namespace unless renewed.
LEASE_SECONDS = 120.0
#: Seconds a request of a process that died on this host may still be handled by Zoom
#: (its own retries died with it): after that the record is read back (docs/zoom-facts.md)
DEAD_SETTLE = 15.0


_owner_cache: tuple[int, dict[str, Any]] | None = None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of ``pid``, from /proc."""
    text = _read(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _pidns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def host_name() -> str:
    """How this machine names itself in leases: ``ZOOM_NOTEBOOK_HOST`` if set (for machines
    that share a host name, e.g. containers with one image), else the host name."""
    return os.environ.get("ZOOM_NOTEBOOK_HOST") or socket.gethostname()


def owner() -> dict[str, Any]:
    """This process as a record owner: host, boot id, PID namespace, PID, start time."""
    global _owner_cache
    pid = os.getpid()
    if _owner_cache is None or _owner_cache[0] != pid:  # computed again after a fork
        stat = _proc_stat(pid)
        _owner_cache = (pid, {"host": host_name(),
                              "boot": _read("/proc/sys/kernel/random/boot_id") or "",
                              "pidns": _pidns(), "pid": pid,
                              "start": stat[1] if stat else ""})
    return dict(_owner_cache[1])


def owner_key(who: dict[str, Any] | None) -> str:
    who = who or {}
    return "/".join(str(who.get(k, "")) for k in ("host", "boot", "pidns", "pid", "start"))


def owner_alive(who: dict[str, Any] | None, leases: dict[str, float],
                now: float | None = None) -> bool:
    """Is the process that owns a record still running?"""
    if not who:
        return False
    me = owner()
    if owner_key(who) == owner_key(me):
        return True
    now = time.time() if now is None else now
    if who.get("host") == me["host"] and who.get("boot") and who.get("boot") != me["boot"]:
        return False  # this machine rebooted since: that process is gone
    local = all(who.get(k) == me[k] for k in ("host", "boot", "pidns"))
    if local and me["start"]:  # same kernel and PID namespace: ask /proc
        stat = _proc_stat(int(who.get("pid") or 0))
        return stat is not None and stat[0] not in ("Z", "X") and stat[1] == str(
            who.get("start"))
    if local:  # no /proc (macOS): a signal 0 tells if the PID exists
        try:
            os.kill(int(who.get("pid") or 0), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, OverflowError, ValueError):
            pass
        else:
            return True
    # another host, or another PID namespace (a container): the lease decides
    return max(leases.get(owner_key(who), 0.0), float(who.get("expires") or 0.0)) > now


