"""Issue 22: Zoom apps as they are made today. The feature/scope table is Zoom's OpenAPI
document's (generated, checked here); the sandbox IS an app (granular by default, classic,
or missing scopes; Server-to-Server with admin scopes) and accepts exactly the scopes the
document lists per call; every feature is run against each kind of app, asserting what
works and what is refused, with which words, before which request."""

from __future__ import annotations

import json
import runpy
import threading
import time
from pathlib import Path

import pytest
import requests

import zoom_notebook as zn
from zoom_notebook import scopes
from zoom_notebook.errors import MissingScope, ZoomAPIError
from zoom_notebook.sandbox import Sandbox

from .conftest import point_at

ROOT = Path(__file__).resolve().parent.parent
SPEC = json.loads((ROOT / "tests" / "zoom" / "team-chat-openapi.json").read_text("utf-8"))
MISSING_TWO = [s for s in scopes.scopes_for() if s not in (
    "team_chat:update:user_message", "team_chat:write:files")]


# ------------------------------------------------------------------ the table
def test_the_scope_module_is_generated_from_zooms_document():
    module = runpy.run_path(str(ROOT / "scripts" / "gen_scopes.py"))
    assert module["module"]() == (ROOT / "zoom_notebook" / "core" / "_spec_scopes.py").read_text(
        "utf-8"), "stale: run .venv/bin/python scripts/gen_scopes.py"
    assert module["doc"]() == (ROOT / "docs" / "zoom-app.md").read_text("utf-8"), (
        "docs/zoom-app.md's scope table is stale: run .venv/bin/python scripts/gen_scopes.py")


def _spec_operation(operation_id):
    for item in SPEC["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return op
    raise KeyError(operation_id)


def test_every_name_in_the_table_is_one_zoom_accepts_for_that_call():
    """Read independently of the generator: each feature's scope, for each kind of app,
    is in the operation's security list and in the right extension list; none is
    granted for a call whose document lists no such scope."""
    for feature, (_, calls) in scopes.FEATURES.items():
        for op in calls:
            if op == "getUser":  # the Users API: not in the Team Chat document
                continue
            spec = _spec_operation(op)
            accepted = set(spec["security"][0]["openapi_oauth"])
            ext = spec["x-extensions"]
            for kind in scopes.KINDS:
                name = scopes.scope_for(op, kind)
                if name is None:
                    family = "x-granular-scopes" if kind == "admin" else "x-macro-scopes"
                    assert not [s for s in ext.get(family, ()) if s.endswith(":admin")], (
                        feature, kind)
                    continue
                assert name in accepted, (feature, op, kind, name)
                family = "x-macro-scopes" if kind.startswith("classic") else "x-granular-scopes"
                assert name in ext[family], (feature, kind, name)
                assert name.endswith(":admin") == kind.endswith("admin")
    # the facts the issue names
    assert scopes.scopes_for("edit") == ("team_chat:update:user_message",)
    assert scopes.scope_for("listScheduledMessages", "admin") is None
    assert scopes.scope_for("deleteScheduleMessage", "admin") is None


def test_a_4711_hint_names_the_scope_zoom_listed_and_the_feature():
    err = ZoomAPIError(400, 4711, "Invalid access token, does not contain scopes:"
                                  "[team_chat:write:files, team_chat:write:files:admin].")
    assert "team_chat:write:files" in err.hint and "files" in err.hint
    assert "chat_message:write" not in str(err) and "log in again" in err.hint


# ------------------------------------------------------------------ kinds of app
def _login(sb: Sandbox, monkeypatch) -> None:
    from zoom_notebook import sandbox as sandbox_module

    point_at(sb, monkeypatch, "secret")
    zn.api.forget_clients()
    sandbox_module.login()


@pytest.fixture
def app(request, monkeypatch):
    with Sandbox(app_scopes=request.param, channel_limits=False) as sb:
        if request.param == "s2s":  # the app's scopes do not matter: S2S tokens are admin
            point_at(sb, monkeypatch, "s2s")
        else:
            _login(sb, monkeypatch)
        sb.kind = request.param
        yield sb
    zn.api.forget_clients()


APPS = [pytest.param("granular", id="granular"), pytest.param("classic", id="classic"),
        pytest.param(" ".join(MISSING_TWO), id="missing-update-and-files"),
        pytest.param("s2s", id="server-to-server")]


def _colleague_answers(sb, containing, text, channel):
    def run():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sb.world.lock:
                found = [m for m in sb.world.messages.values()
                         if containing in m.message and m.reply_main_message_id is None]
            if found:
                time.sleep(0.1)
                sb.reply("grace", text, to_channel=channel, reply_to=found[-1].id)
                return
            time.sleep(0.02)
    threading.Thread(target=run, daemon=True).start()


@pytest.fixture
def fast_polls(monkeypatch):
    from zoom_notebook import poller
    from zoom_notebook.poller import Budget

    monkeypatch.setattr(poller, "FIRST", 0.05)
    monkeypatch.setattr(poller, "CAP", 0.3)
    monkeypatch.setattr(poller, "SLICE", 0.02)
    monkeypatch.setattr(poller, "BUDGET", Budget())


def _refusals(sb):
    return [r for r in sb.requests() if r["status"] == 400 and r.get("code") == 4711]


@pytest.mark.parametrize("app", APPS, indirect=True)
def test_every_feature_against_each_kind_of_app(app, fast_polls, tmp_path, monkeypatch):
    from zoom_notebook.outbox import get_outbox

    sb = app
    ch = sb.channel_id("data-science")
    lacks_two = sb.kind not in ("granular", "classic", "s2s")
    s2s = sb.kind == "s2s"

    # send, to a '#name' (channels) -----------------------------------------
    sent = zn.send("hello", to_channel="#data-science")
    assert sent.id and sent.channel_name == "data-science"

    # progress: edits -----------------------------------------------------------
    if lacks_two:
        before = len(sb.requests())
        with pytest.raises(MissingScope) as err:
            zn.progress(range(3), desc="Training", to_channel=ch, every=0)
        assert err.value.feature == "edit" and err.value.scopes == [
            "team_chat:update:user_message"]
        assert "team_chat:update:user_message" in str(err.value)
        assert "log in again" in str(err.value)
        assert len(sb.requests()) == before  # said before anything was posted
    else:
        for _ in zn.progress(range(3), desc="Training", to_channel=ch, every=0):
            pass
        assert get_outbox().flush(20)
        final = [m for m in sb.messages() if m["message"].startswith("✅ Training")]
        assert final and final[0]["edited"]

    # files ---------------------------------------------------------------------
    path = tmp_path / "loss.csv"
    path.write_text("epoch,loss\n1,0.5\n")
    if lacks_two:
        with pytest.raises(MissingScope) as err:
            zn.send("with a file", to_channel=ch, files=[str(path)])
        assert err.value.feature == "files"
        assert "team_chat:write:files" in str(err.value)
        assert not [r for r in sb.requests() if r["path"].endswith("/files")]
    else:
        with_file = zn.send("with a file", to_channel=ch, files=[str(path)])
        assert [a.name for a in with_file.attachments] == ["loss.csv"]

    # read back: an unknown outcome is settled by reading the conversation ------
    sb.inject("drop_after", method="POST", path="/messages")
    settled = zn.send("exactly once", to_channel=ch)
    assert [m["message"] for m in sb.messages()].count("exactly once") == 1
    assert settled.id

    # ask: the answer is read from the thread -------------------------------------
    _colleague_answers(sb, "Ship it?", "yes", ch)
    answer = zn.ask("Ship it?", to_channel=ch, choices=["yes", "no"], timeout=15)
    assert answer.choice == "yes"

    # schedule, list, cancel; the watchdog ---------------------------------------
    if s2s:
        for attempt in (lambda: zn.scheduled(to_channel=ch),
                        lambda: zn.watchdog("2h", to_channel=ch).start()):
            before = len(sb.requests())
            with pytest.raises(MissingScope) as err:
                attempt()
            assert err.value.feature == "schedule" and err.value.scopes == []
            assert "Use a user login" in str(err.value)
            assert len(sb.requests()) == before  # nothing scheduled, nothing asked
    else:
        later = zn.send("standup", to_channel=ch, at="2h")
        (listed,) = zn.scheduled(to_channel=ch)
        assert listed.id == later.id
        later.cancel()
        with zn.watchdog("2h", to_channel=ch):
            pass
        assert sb.drafts() == []

    # nothing was refused for a scope the document says the call does not need
    assert _refusals(sb) == []

    # status names what is missing ---------------------------------------------
    st = zn.status()
    if lacks_two:
        assert st.missing == {"edit": ["team_chat:update:user_message"],
                              "files": ["team_chat:write:files"]}
        text = repr(st)
        assert "cannot: edit" in text and "team_chat:update:user_message" in text
        assert "cannot: files" in text and "team_chat:write:files" in text
    elif s2s:
        assert set(st.missing) == {"schedule", "contacts"}
        assert st.missing["schedule"] == []
    else:
        assert st.missing == {} and "send" in st.can and "edit" in st.can


def test_the_webhook_is_unaffected_by_scopes(monkeypatch):
    with Sandbox(app_scopes="team_chat:write:user_message", channel_limits=False) as sb:
        point_at(sb, monkeypatch, "none")
        for key, value in sb.webhook_env().items():
            monkeypatch.setenv(key, value)
        sent = zn.send("from the hook", via="webhook")
        assert sent.webhook and any(m["message"] == "from the hook" for m in sb.messages())


def test_with_a_bare_access_token_nothing_is_blocked_and_4711_names_the_scope(monkeypatch):
    """Scopes unknown (ZOOM_ACCESS_TOKEN): the request goes out, Zoom's 4711 comes back
    with the granular names and a hint that names the feature."""
    with Sandbox(app_scopes=" ".join(MISSING_TWO), channel_limits=False) as sb:
        point_at(sb, monkeypatch, "token")
        ch = sb.channel_id("general")
        assert zn.status().scopes is None and "not known" in repr(zn.status())
        sent = zn.send("start", to_channel=ch)
        with pytest.raises(ZoomAPIError) as err:
            zn.api.client().edit_message(sent.id, "edited", to_channel=ch)
        assert err.value.code == 4711
        assert "team_chat:update:user_message" in str(err.value)
        assert "needed for edit" in err.value.hint and "chat_message:write" not in str(err.value)


def test_a_classic_token_is_told_classic_names(monkeypatch):
    with Sandbox(app_scopes="chat_message:write user:read", channel_limits=False) as sb:
        token = sb.issue_token()
        resp = requests.get(sb.api_url + "/chat/users/me/channels", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
        assert resp.json()["code"] == 4711 and "chat_channel:read" in resp.json()["message"]


def test_the_sandbox_accepts_exactly_the_documented_scopes():
    """No prefix or ':admin' shortcut: a token with some other write scope, or an
    unrelated admin scope, cannot edit."""
    with Sandbox(channel_limits=False) as sb:
        ch = sb.channel_id("general")
        poster = sb.issue_token(scopes="team_chat:write:user_message")
        mid = requests.post(sb.api_url + "/chat/users/me/messages", timeout=10,
                            headers={"Authorization": f"Bearer {poster}"},
                            json={"message": "x", "to_channel": ch}).json()["id"]
        for scope, ok in (("team_chat:write:user_message team_chat:write:files", False),
                          ("team_chat:read:list_user_messages:admin", False),
                          ("chat_message:read", False),
                          ("team_chat:update:user_message", True),
                          ("chat_message:write", True)):
            token = sb.issue_token(scopes=scope)
            resp = requests.put(sb.api_url + f"/chat/users/me/messages/{mid}", timeout=10,
                                headers={"Authorization": f"Bearer {token}"},
                                json={"message": "y", "to_channel": ch})
            assert (resp.status_code == 204) == ok, (scope, resp.text)


def test_a_user_token_carries_the_apps_scopes_whatever_the_login_asked(monkeypatch):
    """Item 5: Zoom applies the app's configured scopes; a scope parameter naming scopes
    the app lacks is recorded (and shown on the consent page)."""
    from zoom_notebook import auth
    from zoom_notebook import sandbox as sandbox_module

    with Sandbox(app_scopes=" ".join(MISSING_TWO), channel_limits=False) as sb:
        point_at(sb, monkeypatch, "secret")
        sandbox_module.login(scopes=auth.scopes_for("send", "edit"))
        assert set(zn.status().scopes) == set(MISSING_TWO)
        assert sb.app.scope_requests == [{"client_id": sb.client_id,
                                          "lacking": ["team_chat:update:user_message"]}]
        state = requests.get(sb.url + "/_sandbox/state", timeout=10).json()
        assert state["scope_requests"] and state["app_scopes"] == MISSING_TWO


def test_a_server_to_server_watchdog_leaves_no_draft_to_cry_wolf(monkeypatch):
    """Item 6 / finding 5: under Server-to-Server the watchdog is refused before it
    schedules; moving the sandbox's clock past the due time posts nothing."""
    with Sandbox(channel_limits=False) as sb:
        point_at(sb, monkeypatch, "s2s")
        ch = sb.channel_id("alerts")
        with pytest.raises(MissingScope):
            with zn.watchdog("2h", to_channel=ch):
                pass
        assert sb.drafts() == []
        assert sb.advance(3 * 3600) == []
        assert sb.messages() == []


def test_status_from_the_shell_and_the_magic_name_each_missing_scope(monkeypatch, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    from zoom_notebook.cli import main

    with Sandbox(app_scopes=" ".join(MISSING_TWO), channel_limits=False) as sb:
        _login(sb, monkeypatch)
        assert main(["status"]) == 0
        out = capsys.readouterr().out
        assert "cannot: edit" in out and "team_chat:update:user_message" in out
        assert "cannot: files" in out and "team_chat:write:files" in out
        assert "can do" in out and "send" in out
        shell = InteractiveShell.instance()
        try:
            shell.run_line_magic("load_ext", "zoom_notebook")
            out = repr(shell.run_line_magic("zoomchat", "status"))
            assert "cannot: edit" in out and "team_chat:update:user_message" in out
        finally:
            InteractiveShell.clear_instance()
