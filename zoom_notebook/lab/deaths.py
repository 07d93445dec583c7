"""Kernel deaths, seen by the Jupyter server itself: each kernel's restarter (the server's
own, which polls the process every few seconds) calls us when the kernel died without
being asked to — SIGKILL, the OOM killer, a segfault — just before it restarts it. The
notebook is looked up by its session; if it is watched (a Zoom target in its metadata,
or set in the browser), ONE message is posted. A shutdown or restart the user asks for
stops the restarter first, so it is never reported; the automatic restart after a death
is not a second death. Works with no browser open."""

from __future__ import annotations

import functools
from typing import Any

from tornado.ioloop import IOLoop, PeriodicCallback

from zoom_notebook.lab.service import LabService

#: how often new kernels are looked for (ms); a kernel's death is seen by its restarter
SCAN_MS = 500
#: a kernel that dies again this soon after a reported death (its restart failing, a crash
#: loop) is the same death: reported once
SAME_DEATH = 30.0


class DeathWatch:
    def __init__(self, serverapp: Any, service: LabService) -> None:
        self.kernels = serverapp.kernel_manager
        self.sessions = serverapp.session_manager
        self.contents = serverapp.contents_manager
        self.log = serverapp.log
        self.service = service
        self.hooked: set[str] = set()
        self.last_death: dict[str, float] = {}
        self.reported: list[dict[str, Any]] = []
        self._scan = PeriodicCallback(self.scan, SCAN_MS)

    def start(self) -> None:
        self._scan.start()

    def scan(self) -> None:
        """Hook the restarter of every kernel not hooked yet."""
        for kernel_id in list(self.kernels.list_kernel_ids()):
            if kernel_id in self.hooked:
                continue
            try:
                self.kernels.add_restart_callback(
                    kernel_id, functools.partial(self._died, kernel_id), "restart")
            except Exception as exc:  # the kernel went away meanwhile
                self.log.debug("zoom-notebook: cannot watch kernel %s: %s", kernel_id, exc)
                continue
            self.hooked.add(kernel_id)
        alive = set(self.kernels.list_kernel_ids())
        self.hooked &= alive

    def _died(self, kernel_id: str) -> None:
        import time

        now = time.monotonic()
        if now - self.last_death.get(kernel_id, -SAME_DEATH) < SAME_DEATH:
            return
        self.last_death[kernel_id] = now
        IOLoop.current().add_callback(self._report, kernel_id)

    async def _report(self, kernel_id: str) -> None:
        from jupyter_server.utils import ensure_async

        try:
            sessions = await ensure_async(self.sessions.list_sessions())
            paths = [s["path"] for s in sessions
                     if (s.get("kernel") or {}).get("id") == kernel_id]
            if not paths:
                return
            path = paths[0]
            target = None
            try:
                model = await ensure_async(self.contents.get(path, content=True,
                                                             type="notebook"))
                target = (model["content"].get("metadata") or {}).get("zoom_notebook")
            except Exception:  # noqa: S110 - not a notebook file: the browser may know
                pass
            posted = await IOLoop.current().run_in_executor(
                None, self.service.kernel_died, path, target)
            if posted is not None:
                self.reported.append({"kernel": kernel_id, **posted})
                self.log.warning("zoom-notebook: the kernel of %s died; posted to Zoom", path)
        except Exception as exc:  # never let a report break the server
            self.log.error("zoom-notebook: could not report a kernel death: %s", exc)
