"""Issue 25 item 3: one failure policy, chosen by the caller. The same failure — Zoom
unreachable, a target Zoom does not know (HTTP 404), a token without the send scope
(4711) — driven through every entry point gives the same outcome for its policy (raised,
or shown and kept) and the same words: exactly what ``zn.send`` raises."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest

import zoom_notebook as zn
from zoom_notebook.sandbox import free_port

FAILURES = ("down", "404", "4711")


@dataclass
class Failure:
    kind: str
    target: str
    kept: bool  # a message that can succeed as it is is kept; one that would fail, not
    words: str = ""  # what zn.send raises: "ConnectFailed: ..." / "ZoomAPIError: ..."

    def said_in(self, shown: str) -> bool:
        """``shown`` says exactly these words (each request has its own tracking id)."""
        return _same(self.words) in _same(shown)


def _same(text: str) -> str:
    return re.sub(r"\(tracking id [^)]*\)|SBX_[0-9a-f]+", "(tracking id)", text)


@pytest.fixture(params=FAILURES)
def failure(request, user_env, monkeypatch):
    from zoom_notebook.core.scopes import scopes_for
    from zoom_notebook.zoom import client as client_mod

    monkeypatch.setattr(client_mod, "DEFAULT_RETRY_BUDGET", 0.3)
    monkeypatch.setattr(client_mod, "CONNECT_BUDGET", 0.3)
    monkeypatch.setattr("zoom_notebook.core.retry.OUTBOX_ATTEMPTS", 1)
    monkeypatch.setenv("ZOOM_NOTEBOOK_FLOOD_PACING", "0")
    kind = request.param
    target = user_env.channel_id("general")
    if kind == "down":
        monkeypatch.setenv("ZOOM_API_URL", f"http://127.0.0.1:{free_port()}/v2")  # nobody
    elif kind == "404":
        target = "no-such-channel"
    else:
        lacking = " ".join(s for s in scopes_for(kind="granular")
                           if s != "team_chat:write:user_message")
        monkeypatch.setenv("ZOOM_ACCESS_TOKEN", user_env.issue_token(scopes=lacking))
    zn.api.forget_clients()
    with pytest.raises(zn.ZoomNotebookError) as raised:
        zn.send("probe", to_channel=target)
    f = Failure(kind, target, kept=kind == "down",
                words=f"{type(raised.value).__name__}: {raised.value}")
    assert {"down": "ConnectFailed", "404": "HTTP 404", "4711": "4711"}[kind] in f.words
    return f


def _kept_texts() -> list[str]:
    from zoom_notebook.outbox import get_outbox

    return [s["payload"]["message"] for s in get_outbox().saved()]


def _check_kept(failure: Failure, text: str) -> None:
    kept = [t for t in _kept_texts() if text in t]
    assert bool(kept) == failure.kept, (failure.kind, _kept_texts())


def _queued_failure(failure: Failure, capsys, text: str, shown: bool = False) -> None:
    """A queued message: tried in the background, then shown with the same words."""
    from zoom_notebook.outbox import get_outbox

    box = get_outbox()
    assert box.flush(20)
    failed = [i for i in box.take_failures() if text in i.payload["message"]]
    assert failed and _same(failed[0].error) == _same(failure.words)
    if shown:  # in a notebook the receipt said it
        assert failure.said_in(capsys.readouterr().out)
    _check_kept(failure, text)


# ------------------------------------------------------------------ now, raise
def test_zn_send_raises(failure):
    with pytest.raises(zn.ZoomNotebookError) as raised:
        zn.send("from code", to_channel=failure.target)
    assert _same(f"{type(raised.value).__name__}: {raised.value}") == _same(failure.words)
    _check_kept(Failure(failure.kind, failure.target, kept=False), "from code")


def test_ask_raises(failure):
    with pytest.raises(zn.ZoomNotebookError) as raised:
        zn.ask("deploy?", to_channel=failure.target, timeout=5)
    assert _same(f"{type(raised.value).__name__}: {raised.value}") == _same(failure.words)
    _check_kept(Failure(failure.kind, failure.target, kept=False), "deploy?")


# ------------------------------------------------------------------ now, keep and show
def test_cell_magic_shows_and_keeps(failure, shell, capsys):
    result = shell.run_cell(f"%%zoomchat -c {failure.target} --message 'cell says hi'\nprint(1)")
    assert result.success  # the cell's work is not undone by Zoom
    out = capsys.readouterr().out
    assert "Zoom: NOT sent" in out and failure.said_in(out)
    _check_kept(failure, "cell says hi")


def test_line_magic_send_shows_and_keeps(failure, shell, capsys):
    shell.run_line_magic("zoomchat", f"send -c {failure.target} line says hi")
    out = capsys.readouterr().out
    assert "Zoom: NOT sent" in out and failure.said_in(out)
    _check_kept(failure, "line says hi")


def test_form_shows_and_keeps(failure):
    form = zn.compose(to_channel=failure.target, debounce=0)
    form.text.value = "form says hi"
    form.send_button.click()
    assert "Not sent" in form.receipt.value
    assert failure.said_in(html.unescape(form.receipt.value))
    assert form.text.value == "form says hi"  # nothing lost in the form either
    _check_kept(failure, "form says hi")


def test_cli_send_shows_and_keeps(failure, capsys):
    from zoom_notebook.cli import main, shell_words

    assert main(["send", "-c", failure.target, "shell says hi"]) == 1
    assert _same(f"error: {shell_words(failure.words)}") in _same(capsys.readouterr().err)
    _check_kept(failure, "shell says hi")


# ------------------------------------------------------------------ queued, keep and show
def test_notify_shows_and_keeps(failure, capsys):
    with zn.notify("nightly job", to_channel=failure.target):
        pass
    _queued_failure(failure, capsys, "nightly job")


def test_progress_shows_and_keeps(failure, capsys):
    for _ in zn.progress(range(2), desc="epochs", to_channel=failure.target):
        pass
    _queued_failure(failure, capsys, "epochs")


def test_autonotify_shows_and_keeps(failure, shell, capsys):
    shell.run_line_magic("zoomchat", f"autonotify --after 0 --batch-gap 0 "
                                     f"-c {failure.target}")
    result = shell.run_cell("6 * 7", store_history=True)
    assert result.success and result.result == 42  # the cell is left alone
    _queued_failure(failure, capsys, "finished in", shown=True)


@pytest.mark.slow
def test_runner_shows_and_keeps(failure, tmp_path, capsys):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from zoom_notebook.cli import main, shell_words

    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")], metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}),
        tmp_path / "job.ipynb")
    assert main(["run", str(tmp_path / "job.ipynb"), "-c", failure.target]) == 0
    err = capsys.readouterr().err
    assert _same(shell_words(failure.words)) in _same(err) and "could not post to Zoom now" in err
    _check_kept(failure, "job.ipynb")
