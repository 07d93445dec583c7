"""Small notebook widgets for logging in (ipywidgets; imported only inside a notebook)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from zoom_notebook.core.errors import ZoomNotebookError
from zoom_notebook.core.secret import hide


class PastePrompt(widgets.VBox):  # type: ignore[misc]
    """The paste method in a notebook: a link, a password-style field and a button.

    The field is cleared and the form closed as soon as the address is used, so the
    address (which holds a one-time code) never stays in widget state. ``paste(url)``
    completes the login from code; ``status`` holds the result, ``error`` the failure.
    """

    def __init__(self, attempt: Any) -> None:
        self._attempt = attempt
        self.authorize_url: str = attempt.authorize_url
        self.status: Any = None
        self.error: ZoomNotebookError | None = None
        href = html.escape(self.authorize_url, quote=True)
        link = widgets.HTML(
            f"<p>1. <a href='{href}' target='_blank' rel='noopener'><b>Open Zoom's login page"
            "</b></a> and approve access.<br>2. Your browser then fails to load a "
            "<code>127.0.0.1</code> address: copy that whole address and paste it below."
            "</p>")
        self.field = widgets.Password(placeholder="http://127.0.0.1:8976/callback?code=…",
                                      description="Address", layout={"width": "40em"})
        self.button = widgets.Button(description="Complete login", button_style="primary")
        self.message = widgets.HTML()
        super().__init__([link, widgets.HBox([self.field, self.button]), self.message])
        self.button.on_click(self._on_click)
        self.field.continuous_update = False

    def __repr__(self) -> str:
        state = "done" if self.status else "failed" if self.error else "waiting for the address"
        return f"Zoom login (paste): {state}"

    def _on_click(self, _: Any) -> None:
        value, self.field.value = hide(self.field.value), ""  # it holds the code
        self.paste(value)

    def paste(self, url: str) -> Any:
        """Finish the login with the address the browser ended on."""
        url = hide(url)
        self.field.value = ""
        try:
            self.status = self._attempt.finish(url)
        except ZoomNotebookError as exc:
            self.error = exc
            # the text may come from the OAuth server: escaped (SECURITY.md 31)
            self.message.value = (f"<p style='color:#b00'>"
                                  f"{html.escape(f'{type(exc).__name__}: {exc}')}</p>")
            return None
        self.error = None
        self.field.close()
        self.button.close()
        self.children = [widgets.HTML(self.status._repr_html_())]
        return self.status
