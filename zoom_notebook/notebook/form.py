"""The compose form: log in, pick a channel or person, write, mention, reply in a thread,
attach, send, and see the receipt, all in the notebook (ipywidgets).

A thin layer: lists come from ``Directory``, sending is
``delivery.sending`` like everywhere else. No widget holds a secret: tokens
stay in the token store, and the paste-login field is cleared and closed after use.

Keyboard: Tab moves through the controls in order (login, channel/person, search,
results, message, mention, thread, attachments, Send). In the message box Enter starts a
new line; Shift-Enter is Jupyter's "run cell" and is not used by the form: press Send.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import ipywidgets as widgets

from zoom_notebook.account import login as auth
from zoom_notebook.account import session
from zoom_notebook.account.people import Directory, Entry
from zoom_notebook.core.config import Settings
from zoom_notebook.core.display import shell as _shell
from zoom_notebook.core.errors import ValidationError, ZoomAPIError, ZoomNotebookError
from zoom_notebook.core.message import MAX_MESSAGE_LENGTH
from zoom_notebook.delivery import draft as building
from zoom_notebook.delivery.outbox import get_outbox
from zoom_notebook.delivery.policy import NOW_KEEP, Outcome, deliver_as
from zoom_notebook.delivery.receipts import Failed

NEW_THREAD = ("— new message (no thread) —", "")
LABEL_STYLE = {"description_width": "9em"}
WIDE = widgets.Layout(width="44em")


class ComposeForm(widgets.VBox):  # type: ignore[misc]
    """``zn.compose()``: a form to write and send a Team Chat message.

    ``defaults`` may hold ``to_channel`` or ``to_contact``, ``message`` and ``mentions``
    (a dict of display name -> email). ``on_sent(callback)`` calls ``callback(sent)``
    after each successful send. ``debounce`` is the search delay in seconds (0: search
    on every change, synchronously).
    """

    def __init__(self, *, to_channel: str | None = None, to_contact: str | None = None,
                 message: str = "", mentions: dict[str, str] | None = None,
                 debounce: float = 0.3, directory: Directory | None = None) -> None:
        self.directory = directory or Directory(session.client)
        self.debounce = debounce
        self.mentions: dict[str, str] = dict(mentions or {})
        self.last_sent: Any = None
        self._kept: Any = None  # the outbox record of a failed send (Retry replaces it)
        self.last_error: BaseException | None = None
        self._callbacks: list[Callable[[Any], None]] = []
        self._timer: threading.Timer | None = None
        self._entries: dict[str, Entry] = {}
        self._attachments: list[tuple[str, bytes]] = []

        # --- login
        self.login_status = widgets.HTML()
        self.login_button = widgets.Button(description="Log in to Zoom", icon="sign-in",
                                           tooltip="Log in with your Zoom account")
        self.login_area = widgets.VBox()
        # --- recipient
        self.kind = widgets.ToggleButtons(options=[("Channel", "to_channel"),
                                                   ("Person", "to_contact")],
                                          description="Send to", style=LABEL_STYLE)
        self.search = widgets.Text(placeholder="type part of a name…", description="Search",
                                   continuous_update=True, style=LABEL_STYLE, layout=WIDE)
        self.results = widgets.Select(options=[], rows=6, description="Recipient",
                                      style=LABEL_STYLE, layout=WIDE)
        self.more = widgets.Button(description="More people", icon="angle-down",
                                   tooltip="Load the next page of your contacts")
        # --- message
        self.text = widgets.Textarea(value=message, placeholder="Write your message…",
                                     description="Message", rows=5, style=LABEL_STYLE,
                                     layout=WIDE)
        self.count = widgets.HTML()
        #: what Zoom will show: rich text rendered, mentions highlighted, files listed
        self.preview = widgets.HTML()
        self.mention_pick = widgets.Dropdown(options=[], description="Mention",
                                             style=LABEL_STYLE, layout=widgets.Layout(
                                                 width="34em"))
        self.mention_button = widgets.Button(description="Insert @mention", icon="at",
                                             tooltip="Insert the chosen person as @Name")
        self.thread = widgets.Dropdown(options=[NEW_THREAD], value="",
                                       description="Reply in", style=LABEL_STYLE,
                                       layout=WIDE)
        # --- attachments
        self.upload = widgets.FileUpload(multiple=True, description="Attach files",
                                         tooltip="Choose files to send with the message")
        self.cell_output = widgets.Dropdown(options=[(NO_RESULT, 0)], value=0,
                                            description="Attach a result",
                                            style=LABEL_STYLE, layout=widgets.Layout(
                                                width="34em"),
                                            tooltip="Send what one of your cells returned "
                                                    "as a file with the message (a figure as "
                                                    "an image, anything else as text)")
        # --- send
        self.send_button = widgets.Button(description="Send", button_style="primary",
                                          icon="paper-plane", disabled=True)
        self.reason = widgets.HTML()
        self.receipt = widgets.HTML()
        self.retry_button = widgets.Button(description="Retry", icon="refresh",
                                           layout=widgets.Layout(display="none"))

        for name, w in (("zn-login", self.login_button), ("zn-kind", self.kind),
                        ("zn-search", self.search), ("zn-results", self.results),
                        ("zn-more", self.more), ("zn-message", self.text),
                        ("zn-mention", self.mention_pick),
                        ("zn-mention-insert", self.mention_button),
                        ("zn-thread", self.thread), ("zn-send", self.send_button),
                        ("zn-receipt", self.receipt), ("zn-retry", self.retry_button),
                        ("zn-preview", self.preview), ("zn-attach-result", self.cell_output),
                        ("zn-login-status", self.login_status)):
            w.add_class(name)

        super().__init__([
            widgets.HTML("<b>Zoom Team Chat</b>"),
            widgets.HBox([self.login_status, self.login_button]), self.login_area,
            self.kind, self.search, widgets.HBox([self.results, self.more]),
            self.text, self.count, widgets.HBox([self.mention_pick, self.mention_button]),
            self.thread, widgets.HBox([self.upload, self.cell_output]),
            widgets.HTML("<span style='color:#666'>Preview — what Zoom will show:</span>"),
            self.preview,
            widgets.HBox([self.send_button, self.retry_button]), self.reason, self.receipt,
        ])

        self.add_class("zn-compose")
        self.login_button.on_click(self._on_login)
        self.kind.observe(self._on_kind, names="value")
        self.search.observe(self._on_search, names="value")
        self.results.observe(self._on_recipient, names="value")
        self.more.on_click(self._on_more)
        self.text.observe(self._on_text, names="value")
        self.mention_button.on_click(self._on_mention)
        self.upload.observe(self._on_upload, names="value")
        self.send_button.on_click(self._on_send)
        self.retry_button.on_click(self._on_send)

        if to_contact is not None:
            self.kind.value = "to_contact"
            self._choose(Entry(to_contact, to_contact, "to_contact", to_contact))
        elif to_channel is not None:
            self._choose(Entry(to_channel, to_channel, "to_channel"))
        #: set once the login check and the first recipient list are done (they run in
        #: the background, so the form shows at once even when Zoom is slow or down)
        self.loaded = threading.Event()
        if debounce <= 0:  # tests and scripts: everything synchronously
            self._first_load()
        else:
            self.login_status.value = "Checking your Zoom login…"
            threading.Thread(target=self._first_load, name="zoom-notebook-compose",
                             daemon=True).start()
        self._fill_cell_outputs()
        self.update()

    # ------------------------------------------------------------------ programs
    def on_sent(self, callback: Callable[[Any], None], remove: bool = False) -> None:
        """Call ``callback(sent_message)`` after each successful send."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def __repr__(self) -> str:
        return "Zoom compose form" + (f" (last sent: {self.last_sent.id})"
                                      if self.last_sent is not None else "")

    @property
    def target(self) -> dict[str, str]:
        entry = self._entries.get(self.results.value or "")
        return {entry.kind: entry.value} if entry is not None else {}

    def _where(self) -> str:
        entry = self._entries.get(self.results.value or "")
        return entry.label if entry is not None else "(no recipient)"

    # ------------------------------------------------------------------ login
    def _first_load(self) -> None:
        try:
            self.refresh_login()
        finally:
            self.loaded.set()

    def refresh_login(self) -> None:
        try:
            status = auth.status()
        except ZoomNotebookError as exc:
            status = auth.LoginStatus(False, error=str(exc))
        if status.logged_in and not status.error:
            who = status.user_name or status.user_email or "you"
            self.login_status.value = f"✓ Logged in as <b>{_esc(who)}</b>"
            self.login_button.layout.display = "none"
            self.login_area.children = []
            self._load_results()
        elif status.logged_in:  # logged in, but Zoom could not be asked who we are
            self.login_status.value = ("<span style='color:#a00'>Zoom could not be reached: "
                                       f"{_esc(status.error or '')}</span>")
            self.login_button.layout.display = "none"
        else:
            self.login_status.value = ("Not logged in to Zoom." if not status.error else
                                       f"<span style='color:#a00'>{_esc(status.error)}</span>")
            self.login_button.layout.display = None

    def _on_login(self, _: Any = None) -> None:
        """Start the login the kernel can do here (browser, or paste on a remote kernel);
        the form shows the link and updates itself when the login completes."""
        try:
            settings = Settings.load()
            if auth.is_remote():
                attempt = auth.PKCELogin(settings, auth.PASTE_REDIRECT_URI,
                                         auth.DEFAULT_SCOPES, "paste")
                from zoom_notebook.core.nbui import PastePrompt

                prompt = PastePrompt(attempt)
                prompt.button.on_click(lambda _: self.refresh_login(), remove=False)
                self.login_area.children = [prompt]
                return
            self._browser_login(settings)
        except ZoomNotebookError as exc:
            self.login_status.value = f"<span style='color:#a00'>{_esc(str(exc))}</span>"

    def _browser_login(self, settings: Any) -> None:
        import webbrowser

        from zoom_notebook.account.loopback import LoopbackListener

        listener = LoopbackListener("notebook")
        attempt = auth.PKCELogin(settings, listener.redirect_uri, auth.DEFAULT_SCOPES,
                                 "browser")
        link = widgets.HTML(
            f"<a class='zn-login-link' href='{_esc(attempt.authorize_url)}' target='_blank' "
            "rel='noopener'>Open Zoom's login page</a> and click Allow (waiting…)")
        self.login_area.children = [link]

        def wait() -> None:
            try:
                auth.finish_in_browser(listener, attempt)
            except ZoomNotebookError as exc:
                link.value = f"<span style='color:#a00'>{_esc(str(exc))}</span>"
                return
            self.refresh_login()

        threading.Thread(target=wait, name="zoom-notebook-login", daemon=True).start()
        try:
            webbrowser.open(attempt.authorize_url)
        except Exception:  # noqa: S110 - no browser here: the link is shown
            pass

    # ------------------------------------------------------------------ recipient
    def _on_kind(self, _: Any = None) -> None:
        self.results.value = None
        self._load_results()
        self.update()

    def _on_search(self, _: Any = None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.debounce <= 0:
            self._load_results()
            return
        self._timer = threading.Timer(self.debounce, self._load_results)
        self._timer.daemon = True
        self._timer.start()

    def _on_more(self, _: Any = None) -> None:
        self._guard(self.directory.more_contacts)
        self._load_results()

    def _load_results(self) -> None:
        found = self._guard(lambda: self.directory.search(self.search.value, self.kind.value))
        if found is None:
            return
        keep = self.results.value
        for entry in found:
            self._entries[entry.value] = entry
        options = [(e.label, e.value) for e in found]
        if keep and keep in self._entries and keep not in {v for _, v in options}:
            options.insert(0, (self._entries[keep].label, keep))
        self.results.options = options
        if keep in {v for _, v in options}:
            self.results.value = keep
        self.more.layout.display = (None if self.kind.value == "to_contact"
                                    and self.directory.has_more_contacts else "none")

    def _choose(self, entry: Entry) -> None:
        self._entries[entry.value] = entry
        self.results.options = [(entry.label, entry.value)]
        self.results.value = entry.value

    def _on_recipient(self, _: Any = None) -> None:
        target = self.target
        mentions: list[tuple[str, str]] = []
        threads = [NEW_THREAD]
        if target:
            kind, value = next(iter(target.items()))
            people = (self._guard(lambda: self.directory.members(value))
                      if kind == "to_channel" else self._guard(self.directory.contacts))
            # keyed by email: two people may share a display name
            mentions = [(e.label, e.email) for e in people or [] if e.email]
            for e in people or []:
                if e.email:
                    self._entries[f"person:{e.email}"] = e
            found = self._guard(lambda: self.directory.recent_threads(kind, value))
            threads += found or []
        self.mention_pick.options = mentions
        if mentions:  # ipywidgets leaves the value None (a blank box) when options change
            self.mention_pick.index = 0
        self._fill_cell_outputs()
        self.thread.options = threads
        self.thread.value = ""
        self.update()

    # ------------------------------------------------------------------ message
    def _on_text(self, _: Any = None) -> None:
        self.update()

    def _on_mention(self, _: Any = None) -> None:
        entry = self._entries.get(f"person:{self.mention_pick.value}")
        if entry is None or not entry.email:
            return
        name = (entry.name or entry.label).strip() or entry.email
        taken = self.mentions.get(name)
        if taken is not None and taken != entry.email:  # a namesake already mentioned
            name = f"{name} ({entry.email})"
        self.mentions[name] = entry.email
        sep = "" if not self.text.value or self.text.value.endswith((" ", "\n")) else " "
        self.text.value = f"{self.text.value}{sep}@{name} "

    def _on_upload(self, _: Any = None) -> None:
        self.update()

    def _fill_cell_outputs(self) -> None:
        shell = _shell()
        outs = getattr(shell, "user_ns", {}).get("Out", {}) if shell is not None else {}
        # results worth attaching: not a compose form (this one, or an earlier one)
        worth = [n for n in sorted(outs) if not isinstance(outs[n], ComposeForm)]
        options = [(NO_RESULT, 0)] + [(_result_label(n, outs[n]), n) for n in worth[-20:]]
        if options != list(self.cell_output.options):
            keep = self.cell_output.value
            self.cell_output.options = options
            self.cell_output.value = keep if keep in dict(options).values() else 0

    def _files(self) -> list[tuple[str, bytes]]:
        files = []
        for item in self.upload.value or ():
            files.append((item["name"], bytes(item["content"])))
        n = self.cell_output.value
        shell = _shell()
        if n and shell is not None:
            value = shell.user_ns.get("Out", {}).get(n)
            data, _ = shell.display_formatter.format(value)
            if "image/png" in data:
                import base64

                raw = data["image/png"]
                files.append((f"out-{n}.png", raw if isinstance(raw, bytes)
                              else base64.b64decode(raw)))
            else:
                files.append((f"out-{n}.txt", str(data.get("text/plain", "")).encode()))
        return files

    # ------------------------------------------------------------------ checking
    def draft(self) -> building.Draft:
        """The message as the one pipeline builds it (``delivery.draft.prepare``, Markdown on):
        what Send sends and the preview shows. Raises ``ValidationError``."""
        text = self.text.value
        used = {k: v for k, v in self.mentions.items() if f"@{k}" in text}
        target: dict[str, Any] = dict(self.target) or {"to_channel": "preview"}
        return building.prepare(text, mentions=used or None, reply_to=self.thread.value or None,
                           files=self._files(), markdown=True, **target)

    def problem(self) -> str | None:
        """Why Send is disabled, or None when the message can go."""
        return self._check()[0]

    def _check(self) -> tuple[str | None, building.Draft | None]:
        text = self.text.value
        if not text.strip():
            return ("Write a message." if self.target else "Pick a channel or a person."), None
        try:
            draft = self.draft()
        except ValidationError as exc:
            return exc.message[:1].upper() + exc.message[1:], None
        return (None if self.target else "Pick a channel or a person."), draft

    def update(self) -> None:
        n = len(self.text.value)
        colour = "#a00" if n > MAX_MESSAGE_LENGTH else "#666"
        self.count.value = (f"<span style='color:{colour}'>{n} / {MAX_MESSAGE_LENGTH} "
                            "characters</span>")
        reason, draft = self._check()
        if draft is not None:
            from zoom_notebook.core.richview import to_html

            self.preview.value = ("<div style='border:1px solid #ddd;border-radius:4px;"
                                  "padding:0.4em 0.6em;max-width:44em'>"
                                  + to_html(draft.payload, [name for name, _ in draft.files])
                                  + "</div>")
        else:
            self.preview.value = ""
        self.send_button.disabled = reason is not None
        self.reason.value = f"<span style='color:#666'>{_esc(reason)}</span>" if reason else ""

    # ------------------------------------------------------------------ sending
    def _on_send(self, _: Any = None) -> None:
        if self.problem() is not None:
            self.update()
            return
        text = self.text.value
        used = {k: v for k, v in self.mentions.items() if f"@{k}" in text}
        self.send_button.disabled = True
        self.receipt.value = "Sending…"
        if self._kept is not None:  # Retry: the form sends it again, not the outbox too
            get_outbox().drop(self._kept)
            self._kept = None
        try:
            target = self.target
            draft = building.prepare(text, mentions=used or None,
                                     reply_to=self.thread.value or None, files=self._files(),
                                     to_channel=target.get("to_channel"),
                                     to_contact=target.get("to_contact"), markdown=True)
            outcome = deliver_as(draft, NOW_KEEP, show=False)  # as %%zoomchat: shown, kept
        except ZoomNotebookError as exc:  # bad input, no login: nothing was sent or kept
            outcome = Outcome(failed=Failed(self._where(), text, f"{type(exc).__name__}: {exc}",
                                            exc.hint if isinstance(exc, ZoomAPIError) else ""),
                              error=exc)
        if outcome.sent is None:
            assert outcome.failed is not None
            self.last_error = outcome.error
            self._kept = outcome.item
            self.receipt.value = ("<div style='color:#a00'><b>Not sent.</b></div>"
                                  + outcome.failed._repr_html_())
            self.retry_button.layout.display = None
            self.send_button.disabled = False
            return
        sent = outcome.sent
        self.last_error = None
        entry = self._entries.get(self.results.value or "")
        if entry is not None and entry.kind == "to_channel" and not sent.channel_name:
            sent.channel_name = entry.name or None  # the receipt names it, not only its id
        elif entry is not None and entry.kind == "to_contact":
            sent.contact_name = entry.name or None
        self.last_sent = sent
        self.retry_button.layout.display = "none"
        self.receipt.value = sent._repr_html_()
        self.text.value = ""  # the recipient stays
        self.mentions.clear()
        self.upload.value = ()
        self.cell_output.value = 0
        self._on_recipient()  # the new message may start a thread to reply in
        for callback in list(self._callbacks):
            try:
                callback(sent)
            except Exception as exc:  # a caller's bug is shown, not swallowed silently
                self.reason.value = f"<span style='color:#a00'>on_sent callback failed: " \
                                    f"{_esc(str(exc))}</span>"

    def _guard(self, call: Callable[[], Any]) -> Any:
        """Run a directory call; show a Zoom error in the form instead of raising."""
        try:
            return call()
        except ZoomNotebookError as exc:
            self.reason.value = f"<span style='color:#a00'>{_esc(str(exc))}</span>"
            return None


NO_RESULT = "— none —"


def _result_label(n: int, value: Any) -> str:
    """``cell [5] returned: 0.93`` — which cell, and the start of what it returned."""
    try:
        shown = repr(value)
    except Exception:
        shown = type(value).__name__
    first = shown.split("\n", 1)[0]
    if len(first) > 40 or "\n" in shown:
        first = first[:40].rstrip() + " …"
    return f"cell [{n}] returned: {first}"


def _esc(text: str) -> str:
    import html

    return html.escape(text, quote=True)



def compose(**defaults: Any) -> ComposeForm:
    """The compose form widget (``to_channel``/``to_contact``, ``message``, ``mentions``)."""
    return ComposeForm(**defaults)
