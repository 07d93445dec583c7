"""Routes of the server extension, under ``{base_url}zoom-notebook/``. Each uses Jupyter's
own authentication (``@tornado.web.authenticated``: its token or cookie; POSTs also need
the XSRF check Jupyter applies to cookie-authenticated requests); bodies are bounded and
must be a JSON object; answers hold names, ids, texts and statuses, never a secret.

| route | method | what |
|---|---|---|
| ``cell`` | POST | a watched cell ended (path, cell_id, count, took, failed, error, mode, ...) |
| ``cell-started`` | POST | a watched cell started (so a kernel death can name it) |
| ``status`` | GET | who is logged in and what that login can do |
| ``sent`` | GET | the newest messages this server sent |
| ``outbox`` | GET / POST | what is kept; ``{"action": "retry" | "discard", "ids"?}`` |
| ``scheduled`` | GET / POST | scheduled messages; ``{"id", "to_channel"|"to_contact"}`` cancels |
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from zoom_notebook.core.errors import ValidationError, ZoomNotebookError
from zoom_notebook.lab.service import LabService

#: the largest request body a route reads (a cell's error text is cut to 4,000 characters)
MAX_BODY = 64 * 1024


class _Base(APIHandler):
    service: LabService

    def initialize(self, service: LabService) -> None:
        self.service = service

    def body(self) -> dict[str, Any]:
        raw = self.request.body or b""
        if len(raw) > MAX_BODY:
            raise tornado.web.HTTPError(413, f"the body is over {MAX_BODY} bytes")
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, "the body is not a JSON object")
        return data

    def answer(self, fn: Any, *args: Any) -> None:
        try:
            result = fn(*args)
        except ValidationError as exc:
            self.set_status(400)
            result = {"error": str(exc), "field": exc.field}
        except ZoomNotebookError as exc:
            self.set_status(502)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(result, default=str))


class CellHandler(_Base):
    @tornado.web.authenticated
    def post(self) -> None:
        self.answer(self.service.cell_ended, self.body())


class CellStartedHandler(_Base):
    @tornado.web.authenticated
    def post(self) -> None:
        data = self.body()
        self.answer(self.service.cell_started, data)


class StatusHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        from tornado.ioloop import IOLoop

        result = await IOLoop.current().run_in_executor(None, self.service.status)
        self.answer(lambda: result)


class SentHandler(_Base):
    @tornado.web.authenticated
    def get(self) -> None:
        self.answer(self.service.sent_list)


class OutboxHandler(_Base):
    @tornado.web.authenticated
    def get(self) -> None:
        self.answer(self.service.outbox)

    @tornado.web.authenticated
    async def post(self) -> None:
        from tornado.ioloop import IOLoop

        data = self.body()
        try:
            result = await IOLoop.current().run_in_executor(
                None, self.service.outbox_action, data.get("action"), data.get("ids"))
        except ValidationError as exc:
            result = {"error": str(exc)}
            self.set_status(400)
        self.answer(lambda: result)


class ScheduledHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        from tornado.ioloop import IOLoop

        try:
            result: Any = await IOLoop.current().run_in_executor(None, self.service.scheduled)
        except ZoomNotebookError as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        self.answer(lambda: result)

    @tornado.web.authenticated
    async def post(self) -> None:
        from tornado.ioloop import IOLoop

        data = self.body()
        try:
            result = await IOLoop.current().run_in_executor(None, self.service.cancel, data)
        except ZoomNotebookError as exc:
            self.set_status(400 if isinstance(exc, ValidationError) else 502)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        self.answer(lambda: result)


def setup(serverapp: Any) -> LabService:
    """Add the routes and start watching kernels (called by Jupyter's server)."""
    from zoom_notebook.lab.deaths import DeathWatch

    service = LabService()
    base = url_path_join(serverapp.web_app.settings["base_url"], "zoom-notebook")
    routes = [("cell", CellHandler), ("cell-started", CellStartedHandler),
              ("status", StatusHandler), ("sent", SentHandler), ("outbox", OutboxHandler),
              ("scheduled", ScheduledHandler)]
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, name), handler,
                                            {"service": service})
                                           for name, handler in routes])
    watch = DeathWatch(serverapp, service)
    watch.start()
    serverapp.web_app.settings["zoom_notebook"] = {"service": service, "watch": watch}
    serverapp.log.info("zoom-notebook: cell alerts and kernel deaths are posted to Zoom "
                       "for notebooks with a Zoom target")
    return service
