"""%%zoomchat and %zoomchat in a real IPython shell, against the sandbox."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from zoom_notebook import ValidationError, outbox
from zoom_notebook.magics import UsageError
from zoom_notebook.outbox import get_outbox

from .conftest import sandbox_posts

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg==")


@pytest.fixture
def shell(user_env):
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext zoom_notebook", store_history=False)
    sh.run_line_magic("config", "ZoomChat.default_channel = None")
    sh.run_line_magic("config", "ZoomChat.dry_run = None")
    sh.user_ns["CH"] = user_env.channel_id("data-science")
    yield sh
    sh.run_line_magic("zoomchat", "autonotify --off")
    sh.run_cell("%reset -f", store_history=False)


def cell(shell, line, body):
    return shell.run_cell(f"%%zoomchat {line}\n{body}", store_history=True)


def messages(sb):
    return sb.messages()


def test_cell_output_is_sent_and_still_shown(shell, user_env, capsys):
    ch = shell.user_ns["CH"]
    result = cell(shell, f"-c {ch}", "import sys\nprint('to stdout')\n"
                  "print('to stderr', file=sys.stderr)\n"
                  "from IPython.display import display\ndisplay({'a': 1})\n6 * 7")
    assert result.success
    out = capsys.readouterr()
    assert "to stdout" in out.out and "to stderr" in out.err and "42" in out.out
    (msg,) = messages(user_env)
    text = msg["message"]
    assert text.startswith("✅ In [") and "finished in" in text
    for part in ("to stdout", "to stderr", "{'a': 1}", "42"):
        assert part in text
    assert text.index("to stdout") < text.index("{'a': 1}") < text.index("42")
    assert shell.user_ns["_"] == 42  # the result behaves as in any cell


def test_dataframe_result_is_a_readable_table(shell, user_env):
    pd = pytest.importorskip("pandas")
    shell.user_ns["pd"] = pd
    cell(shell, f"-c {shell.user_ns['CH']}",
         "pd.DataFrame({'model': ['a', 'b'], 'accuracy': [0.91, 0.93]})")
    text = messages(user_env)[0]["message"]
    assert "model  accuracy" in text and "0.93" in text


def test_options_message_mentions_reply_last_and_o(shell, user_env):
    ch = shell.user_ns["CH"]
    grace = user_env.user("grace")
    cell(shell, f"-c {ch} --message 'Results are in' -m {grace['email']} -o first",
         "print('loss 0.1')")
    first = shell.user_ns["first"]
    assert first.id and first.mentions == [grace["email"]]
    cell(shell, f"-c {ch} -r last -m 'Grace Hopper={grace['email']}' --no-output "
                "--message 'details for @Grace Hopper' -o second", "print('not sent')")
    second = shell.user_ns["second"]
    msgs = {m["id"]: m for m in messages(user_env)}
    m1, m2 = msgs[first.id], msgs[second.id]
    assert m1["message"] == f"@{grace['email']} Results are in\nloss 0.1"
    assert m1["at_items"][0]["at_contact"] == grace["email"]
    assert m2["reply_main_message_id"] == first.id
    assert m2["message"] == "details for @Grace Hopper"
    assert m2["at_items"][0]["start_position"] == len("details for ")


def test_reply_to_explicit_id_and_contact(shell, user_env):
    grace = user_env.user("grace")
    cell(shell, f"-t {grace['email']} --no-output --message hi -o m", "1")
    cell(shell, f"-t {grace['email']} -r {shell.user_ns['m'].id} --no-output "
                "--message again", "1")
    assert messages(user_env)[1]["reply_main_message_id"] == shell.user_ns["m"].id


def test_image_display_arrives_as_a_file_in_the_thread(shell, user_env):
    shell.user_ns["PNG"] = PNG
    cell(shell, f"-c {shell.user_ns['CH']} -o s",
         "from IPython.display import Image, display\ndisplay(Image(data=PNG))\n"
         "print('plotted')")
    sent = shell.user_ns["s"]
    (att,) = sent.attachments
    (msg,) = messages(user_env)  # ONE message: the text and its figure
    assert msg["id"] == sent.id and "plotted" in msg["message"]
    assert msg["files"][0]["file_name"].endswith("-figure-1.png")
    assert msg["files"][0]["file_id"] == att.id and msg["file_contents"] == [PNG]


def test_long_output_is_a_preview_plus_the_whole_text_as_a_file(shell, user_env):
    cell(shell, f"-c {shell.user_ns['CH']} -o s",
         "for i in range(300):\n    print(f'line {i:03d} ' + 'x' * 20)")
    sent = shell.user_ns["s"]
    assert len(sent.message) <= 1024 and "the whole output is attached" in sent.message
    (att,) = sent.attachments
    (stored,) = messages(user_env)  # the preview and the whole text in one message
    assert stored["id"] == sent.id and stored["files"][0]["file_id"] == att.id
    full = stored["file_contents"][0].decode()
    assert stored["files"][0]["file_name"].endswith("-output.txt")
    assert "line 000" in full and "line 299" in full and full.count("\n") >= 300


def test_a_dataframe_result_is_a_text_preview_and_the_whole_table_as_csv(shell, user_env):
    cell(shell, f"-c {shell.user_ns['CH']} -o s",
         "import pandas as pd\npd.DataFrame({'model': ['a', 'b', 'c'] * 100, "
         "'score': range(300)})")
    (msg,) = messages(user_env)
    assert "model" in msg["message"] and "score" in msg["message"]  # pandas' own preview
    assert "[300 rows x 2 columns]" in msg["message"]
    (f,) = msg["files"]
    assert f["file_name"].endswith("-table.csv")
    table = msg["file_contents"][0].decode().splitlines()
    assert table[0] == ",model,score" and len(table) == 301 and table[-1] == "299,c,299"


def test_seven_figures_keep_the_first_six_and_say_so(shell, user_env):
    shell.user_ns["PNG"] = PNG
    cell(shell, f"-c {shell.user_ns['CH']}",
         "from IPython.display import Image, display\n"
         "for _ in range(7):\n    display(Image(data=PNG))")
    (msg,) = messages(user_env)
    assert [f["file_name"].rsplit("-", 1)[1] for f in msg["files"]] == [
        f"{i}.png" for i in range(1, 7)]
    assert "+1 more figure(s) not sent: Zoom takes 6 files in one message" in msg["message"]


def test_failing_cell_sends_short_traceback_then_raises(shell, user_env, capsys):
    result = cell(shell, f"-c {shell.user_ns['CH']}",
                  "print('before')\ndef f():\n    return 1 / 0\nf()")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "before" in out  # shown as usual
    text = messages(user_env)[0]["message"]
    assert text.startswith("❌ In [") and "failed after" in text
    assert "before" in text and "ZeroDivisionError: division by zero" in text
    assert "return 1 / 0" in text


def test_magics_inside_the_cell_still_work(shell, user_env):
    cell(shell, f"-c {shell.user_ns['CH']}", "%time x = sum(range(10))\nx")
    assert shell.user_ns["x"] == 45
    assert "45" in messages(user_env)[0]["message"]


def test_compose_fills_expressions_and_does_not_run(shell, user_env):
    shell.user_ns.update(acc=0.9312, name="resnet", ran=False)
    cell(shell, f"-c {shell.user_ns['CH']} --compose",
         "Model {name!r} reached {acc:.1%} ({len(name)} letters); ran={ran} {{ok}}\n"
         "ran = True")
    assert messages(user_env)[0]["message"] == (
        "Model 'resnet' reached 93.1% (6 letters); ran=False {ok}\nran = True")
    assert shell.user_ns["ran"] is False


def test_compose_error_names_the_expression(shell, user_env):
    result = cell(shell, f"-c {shell.user_ns['CH']} --compose", "hello {missing_name}")
    assert isinstance(result.error_in_exec, ValidationError)
    assert "{missing_name}" in str(result.error_in_exec)
    assert messages(user_env) == []


def test_dry_run_shows_requests_and_sends_nothing(shell, user_env, capsys, http_recorder):
    shell.user_ns["PNG"] = PNG
    cell(shell, f"-c {shell.user_ns['CH']} --dry-run",
         "from IPython.display import Image, display\ndisplay(Image(data=PNG))\nprint('hi')")
    out = capsys.readouterr().out
    assert "Dry run" in out and '"message"' in out and "figure-1.png" in out
    assert "Bearer" not in out and user_env.secrets().isdisjoint(out.split())
    assert messages(user_env) == []
    assert [r for r in http_recorder.requests if "/v2/" in r.url] == []


def test_bad_options_fail_before_the_cell_runs(shell, user_env):
    for line in ("-c x -m not-an-email", "-c x -r last", "-c x -t y", "--bogus"):
        shell.user_ns["ran"] = False
        result = cell(shell, line, "ran = True")
        assert not result.success and shell.user_ns["ran"] is False, line
    result = cell(shell, "", "ran = True")  # no target and no default
    assert "default_channel" in str(result.error_in_exec)
    assert messages(user_env) == []


def test_send_line_magic(shell, user_env):
    grace = user_env.user("grace")
    shell.run_line_magic("zoomchat", f"send -c {shell.user_ns['CH']} -m {grace['email']} "
                                     "build passed")
    (msg,) = messages(user_env)
    assert msg["message"] == f"@{grace['email']} build passed"


def test_config_precedence(shell, user_env, monkeypatch):
    """defaults < config file < environment < %config < arguments."""
    general, alerts = user_env.channel_id("general"), user_env.channel_id("alerts")
    home = user_env  # noqa: F841 - the env fixture set ZOOM_NOTEBOOK_HOME
    from zoom_notebook.config import Settings

    cfg = Settings.load().home_dir
    cfg.mkdir(parents=True, exist_ok=True)
    (cfg / "config.json").write_text(json.dumps({"default_channel": general}))
    shell.run_line_magic("zoomchat", "send from config file")
    shell.run_line_magic("config", f"ZoomChat.default_channel = '{alerts}'")
    shell.run_line_magic("zoomchat", "send from config trait")
    shell.run_line_magic("zoomchat", f"send -c {general} from argument")
    monkeypatch.setenv("ZOOM_NOTEBOOK_DRY_RUN", "1")
    shell.run_line_magic("zoomchat", "send env dry run")  # not sent
    shell.run_line_magic("config", "ZoomChat.dry_run = False")  # %config beats env
    shell.run_line_magic("zoomchat", "send trait beats env")
    got = [(m["target"], m["message"]) for m in messages(user_env)]
    assert got == [(general, "from config file"), (alerts, "from config trait"),
                   (general, "from argument"), (alerts, "trait beats env")]


def test_failed_send_is_shown_and_kept_then_delivered_by_outbox(shell, user_env, capsys,
                                                               monkeypatch):
    ch = shell.user_ns["CH"]
    # A token that may send but not read the conversation back: an unknown outcome
    # cannot be settled, so it is kept as unknown.
    monkeypatch.setenv("ZOOM_ACCESS_TOKEN",
                       user_env.issue_token(scopes="team_chat:write:user_message"))
    user_env.inject("status", status=429, retry_after=3600, method="POST")  # not now...
    user_env.inject("drop_before", method="POST")
    result = cell(shell, f"-c {ch} --message kept-1 --no-output", "1")
    assert result.success  # the cell itself succeeded: no exception
    result = cell(shell, f"-c {ch} --message kept-2 --no-output", "1")
    assert result.success
    out = capsys.readouterr().out
    assert "NOT sent" in out and "outcome unknown" in out and "%zoomchat outbox" in out
    saved = get_outbox().saved()
    assert [r["payload"]["message"] for r in saved] == ["kept-1", "kept-2"]
    shell.run_line_magic("zoomchat", "outbox")
    out = capsys.readouterr().out
    assert "1 of 1 saved message(s) delivered" in out  # not the unknown one: no --unknown
    assert [m["message"] for m in messages(user_env)] == ["kept-1"]
    shell.run_line_magic("zoomchat", "outbox --unknown")
    assert [m["message"] for m in messages(user_env)] == ["kept-1", "kept-2"]
    assert get_outbox().saved() == []


def test_autonotify_slow_failing_and_not_fast(shell, user_env):
    ch = shell.user_ns["CH"]
    shell.run_line_magic("zoomchat", f"autonotify --after 0.3 --batch-gap 0 -c {ch}")
    shell.run_cell("x = 1", store_history=True)
    shell.run_cell("import time; time.sleep(0.35); print('slow done'); 'result!'",
                   store_history=True)
    r = shell.run_cell("1/0", store_history=True)
    assert isinstance(r.error_in_exec, ZeroDivisionError)  # unchanged by the alert
    shell.run_cell("class Bad:\n    def __repr__(self):\n        raise ValueError('bad repr')\n"
                   "Bad()", store_history=True)
    assert get_outbox().flush(10)
    texts = [m["message"] for m in messages(user_env)]
    assert len(texts) == 3
    assert texts[0].startswith("✅ In [") and "slow done" in texts[0] and "result!" in texts[0]
    assert texts[1].startswith("❌ In [") and "ZeroDivisionError" in texts[1]
    assert texts[2].startswith("❌ In [")
    shell.run_line_magic("zoomchat", "autonotify --off")
    shell.run_cell("1/0", store_history=True)
    assert get_outbox().flush(10)
    assert len(messages(user_env)) == 3


def test_autonotify_run_all_of_five_slow_cells_is_one_alert(shell, user_env):
    shell.run_line_magic("zoomchat", f"autonotify --after 0.1 --batch-gap 0.5 "
                                     f"-c {shell.user_ns['CH']}")
    first = shell.execution_count
    for i in range(5):  # as Run All does: each cell starts right after the last one
        shell.run_cell(f"import time; time.sleep(0.12); print('step {i}')", store_history=True)
    assert messages(user_env) == []  # the batch is not over yet
    time.sleep(1.0)
    assert get_outbox().flush(10)
    (msg,) = messages(user_env)
    head = msg["message"].split("\n")[0]
    assert head.startswith("✅ 5 cells finished in ") and f"In [{first}]–[{first + 4}]" in head
    assert "step 4" in msg["message"]
    assert {r["format_type"] for r in msg["rich_text"]} == {"Bold", "FontColor"}
    assert all(r["end_position"] == len(head) for r in msg["rich_text"])  # the headline
    assert [r.get("format_attr") for r in msg["rich_text"]][1] == "1A7F37"  # green


def test_autonotify_a_failing_run_names_the_failing_cell(shell, user_env):
    shell.run_line_magic("zoomchat", f"autonotify --after 60 --batch-gap 0.5 "
                                     f"-c {shell.user_ns['CH']}")
    shell.run_cell("a = 1", store_history=True)
    bad = shell.execution_count
    shell.run_cell("raise KeyError('column')", store_history=True)
    time.sleep(0.1)  # Run All stops at an error: nothing runs after it
    time.sleep(0.9)
    assert get_outbox().flush(10)
    (msg,) = messages(user_env)
    assert msg["message"].startswith(f"❌ In [{bad}] failed after ")
    assert "cell 2 of a run of 2 cells" in msg["message"] and "KeyError: 'column'" in msg["message"]
    assert msg["rich_text"][1]["format_attr"] == "CF222E"  # red


def test_autonotify_cells_apart_are_separate_batches_and_off_posts_the_open_one(shell,
                                                                                user_env):
    shell.run_line_magic("zoomchat", f"autonotify --after 0 --batch-gap 0.3 "
                                     f"-c {shell.user_ns['CH']}")
    shell.run_cell("print('one')", store_history=True)
    time.sleep(0.8)
    shell.run_cell("print('two')", store_history=True)
    shell.run_line_magic("zoomchat", "autonotify --off")  # the open batch is not lost
    assert get_outbox().flush(10)
    texts = [m["message"] for m in messages(user_env)]
    assert len(texts) == 2 and "one" in texts[0] and "two" in texts[1]


def test_autonotify_thread_keeps_alerts_in_one_thread(shell, user_env):
    shell.run_line_magic("zoomchat", f"autonotify --after 0 --batch-gap 0 --thread "
                                     f"-c {shell.user_ns['CH']}")
    for i in range(3):
        shell.run_cell(f"print({i})", store_history=True)
    assert get_outbox().flush(10)
    msgs = messages(user_env)
    assert len(msgs) == 3
    root = msgs[0]["id"]
    assert "reply_main_message_id" not in msgs[0]
    assert [m.get("reply_main_message_id") for m in msgs[1:]] == [root, root]


def test_alert_that_cannot_be_sent_leaves_the_cell_alone(shell, user_env, monkeypatch,
                                                          capsys):
    from zoom_notebook import client as client_mod

    monkeypatch.setattr(client_mod, "DEFAULT_RETRY_BUDGET", 0.5)
    monkeypatch.setattr("zoom_notebook.retry.OUTBOX_ATTEMPTS", 1)
    shell.run_line_magic("zoomchat", f"autonotify --after 0 --batch-gap 0 "
                                     f"-c {shell.user_ns['CH']}")
    user_env.stop()  # Zoom is unreachable
    r = shell.run_cell("21 * 2", store_history=True)
    assert r.success and r.result == 42
    box = get_outbox()
    assert box.flush(15)
    (failed,) = box.take_failures()
    assert failed.status == "failed" and "ConnectFailed" in failed.error
    assert [s["payload"]["message"].splitlines()[-1] for s in box.saved()] == ["42"]
    out = capsys.readouterr().out
    assert "Zoom: NOT sent" in out and "%zoomchat outbox" in out  # the receipt shows it


def test_progress_edits_one_message_and_ends_with_a_final_edit(user_env):
    import zoom_notebook as zn

    ch = user_env.channel_id("general")
    out = []
    start = time.monotonic()
    for i in zn.progress(range(10), desc="Training", to_channel=ch, every=0.2):
        time.sleep(0.06)
        out.append(i)
    took = time.monotonic() - start
    assert out == list(range(10))
    assert get_outbox().flush(10)
    (msg,) = messages(user_env)
    assert msg["edited"] and msg["message"].startswith("✅ Training: done, 10/10")
    posts = sandbox_posts(user_env)
    puts = [r for r in user_env.requests() if r["method"] == "PUT"]
    # at most one edit per 0.2 s while it ran, plus the final one; never one per item
    assert len(posts) == 1 and 1 <= len(puts) <= min(9, int(took / 0.2) + 1)


def test_progress_failure_is_the_final_edit_and_still_raises(user_env):
    import zoom_notebook as zn

    ch = user_env.channel_id("general")
    with pytest.raises(KeyError), zn.progress(range(5), desc="ETL", to_channel=ch,
                                              every=100) as items:
        for i in items:
            if i == 2:
                raise KeyError("region")
    for i in zn.progress(range(5), desc="Search", to_channel=ch, every=100):
        if i == 1:
            break
    assert get_outbox().flush(10)
    etl, search = messages(user_env)
    assert etl["message"].startswith("❌ ETL: failed at 3/5") and "KeyError" in etl["message"]
    assert search["message"].startswith("⏹ Search: stopped at 1/5")


def test_notify_context_manager_and_decorator(user_env):
    import zoom_notebook as zn

    ch = user_env.channel_id("general")
    with zn.notify("nightly ETL", to_channel=ch):
        pass
    with pytest.raises(RuntimeError), zn.notify("training", to_channel=ch):
        raise RuntimeError("out of memory")
    with zn.notify("fast", to_channel=ch, after=60):
        pass  # under the threshold: no post

    @zn.notify(to_channel=ch)
    def train(n):
        return n * 2

    assert train(21) == 42
    assert get_outbox().flush(10)
    texts = [m["message"] for m in messages(user_env)]
    assert len(texts) == 3
    assert texts[0].startswith("✅ nightly ETL finished in")
    assert texts[1].startswith("❌ training failed after") and "out of memory" in texts[1]
    assert texts[2].startswith("✅ test_notify_context_manager_and_decorator.<locals>.train()")


def test_notify_checks_its_target_up_front(user_env):
    import zoom_notebook as zn

    with pytest.raises(ValidationError):
        zn.notify("x", to_channel="c", mentions=["not-an-email"])


def test_failed_send_says_its_attachments_are_not_kept(shell, user_env, capsys):
    shell.user_ns["PNG"] = PNG
    user_env.inject("status", status=429, retry_after=3600, method="POST")
    result = cell(shell, f"-c {shell.user_ns['CH']} --message figure",
                  "from IPython.display import Image, display\ndisplay(Image(data=PNG))")
    assert result.success
    out = capsys.readouterr().out
    assert "kept in the outbox" in out and "1 attachment(s)" in out and "figure-1.png" in out
    assert [r["payload"]["message"].split("\n")[0] for r in get_outbox().saved()] == ["figure"]


def test_finding_5_outbox_while_zoom_is_unreachable_keeps_the_message(shell, user_env, capsys,
                                                                      monkeypatch):
    from zoom_notebook import api
    from zoom_notebook import client as client_mod
    from zoom_notebook.sandbox import free_port

    monkeypatch.setattr(client_mod, "DEFAULT_RETRY_BUDGET", 0.3)
    ch = shell.user_ns["CH"]
    down = f"http://127.0.0.1:{free_port()}/v2"  # nothing listens there
    real = user_env.env()["ZOOM_API_URL"]
    monkeypatch.setenv("ZOOM_API_URL", down)
    api.forget_clients()
    assert cell(shell, f"-c {ch} --message offline-1 --no-output", "1").success
    shell.run_line_magic("zoomchat", "outbox")  # still unreachable: nothing may be lost
    out = capsys.readouterr().out
    assert "0 of 1 saved message(s) delivered" in out and "offline-1" in out
    assert "ConnectFailed" in out
    assert [r["payload"]["message"] for r in get_outbox().saved()] == ["offline-1"]
    monkeypatch.setenv("ZOOM_API_URL", real)
    api.forget_clients()
    shell.run_line_magic("zoomchat", "outbox")
    assert "1 of 1 saved message(s) delivered" in capsys.readouterr().out
    assert [m["message"] for m in messages(user_env)] == ["offline-1"]
    assert get_outbox().saved() == []


@pytest.fixture
def small_home(tmp_path, monkeypatch):
    """A real tmpfs as the home folder (root only): ``full()`` fills it, ``readonly()``
    remounts it read-only. Unmounted afterwards."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    home = mnt / "home"
    home.mkdir()
    monkeypatch.setenv("ZOOM_NOTEBOOK_HOME", str(home))

    class Home:
        path = home

        @staticmethod
        def full() -> None:
            with contextlib.suppress(OSError), open(mnt / "filler", "wb") as fh:
                while True:
                    fh.write(b"x" * 4096)
                    fh.flush()

        @staticmethod
        def readonly() -> None:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)

    try:
        yield Home
    finally:
        outbox.reset_outbox()
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_finding_8_full_home_receipts_never_claim_kept(shell, user_env, small_home, capsys):
    outbox.reset_outbox()
    small_home.full()
    user_env.inject("status", status=429, retry_after=3600, method="POST")  # not now
    assert cell(shell, f"-c {shell.user_ns['CH']} --message disk-full --no-output", "1").success
    out = capsys.readouterr().out
    assert "NOT sent" in out and "could NOT be kept in the outbox" in out
    assert "No space left" in out and "It is kept in the outbox" not in out
    # an alert still goes (from memory) and its receipt says it was not saved
    from zoom_notebook import alerts

    item = alerts.post_alert("full-alert", to_channel=shell.user_ns["CH"], show=False)
    assert item is not None and "No space left" in (item.save_error or "")
    assert get_outbox().flush(10)
    assert [m["message"] for m in messages(user_env)] == ["full-alert"]


def test_finding_8_read_only_home_keeps_a_valid_login_working(oauth_env, fake_browser,
                                                              small_home, capsys):
    import zoom_notebook as zn
    from zoom_notebook import AuthError

    zn.login(method="browser")
    small_home.readonly()
    from zoom_notebook import api

    api.forget_clients()
    sent = zn.send("from a read-only home", to_channel=oauth_env.channel_id("general"))
    assert sent.id and [m["message"] for m in oauth_env.messages()] == [
        "from a read-only home"]
    oauth_env.expire_access_tokens()
    api.forget_clients()
    with pytest.raises(AuthError) as info:  # a refresh cannot be saved: said plainly
        zn.send("needs a refresh", to_channel=oauth_env.channel_id("general"))
    assert "read-only" in str(info.value) or "cannot be written" in str(info.value)
    assert not isinstance(info.value, PermissionError)


def test_issue12_finding_8_unbalanced_quote_and_bad_output_names_are_clear(shell, user_env):

    ch = shell.user_ns["CH"]
    with pytest.raises(UsageError, match="close the quote"):
        shell.run_line_magic("zoomchat", f"send -c {ch} it's done")
    for name in ("__builtins__", "print", "class", "1x"):
        with pytest.raises(UsageError, match="plain variable name"):
            shell.run_cell_magic("zoomchat", f"-c {ch} -o {name}", "1")
    assert messages(user_env) == []  # nothing was sent, the cell did not run


def test_issue12_finding_5_ten_mentions_and_900_characters_of_output_are_sent(shell,
                                                                             user_env):
    ch = shell.user_ns["CH"]
    emails = [user_env.user(n)["email"] for n in (
        "grace", "alan", "katherine", "edsger", "barbara", "donald", "margaret", "claude",
        "frances", "ada")]
    line = f"-c {ch} " + " ".join(f"-m {e}" for e in emails)
    result = cell(shell, line, "print('x' * 900)")
    assert result.success
    (msg,) = messages(user_env)[:1]
    assert len(msg["at_items"]) == 10 and len(msg["message"]) <= 1024


def test_issue12_finding_5_a_lone_surrogate_in_output_is_sent(shell, user_env):
    result = cell(shell, f"-c {shell.user_ns['CH']}",
                  "import os\nprint(os.fsdecode(b'report-\\xff.csv'))")
    assert result.success
    (msg,) = messages(user_env)
    assert "report-\ufffd.csv" in msg["message"]


def test_issue12_finding_5_the_cells_exception_survives_a_failing_send(shell, user_env,
                                                                       monkeypatch, capsys):
    from zoom_notebook.delivery import sending as api  # the one place that delivers

    def broken(*a, **k):
        raise RuntimeError("the send path broke")

    monkeypatch.setattr(api, "deliver", broken)
    result = cell(shell, f"-c {shell.user_ns['CH']}", "raise KeyError('the cell failed')")
    assert isinstance(result.error_in_exec, KeyError)  # the cell's own error, not ours
    assert "the cell's output was not sent" in capsys.readouterr().err


def _every_help(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub.description
                yield from _every_help(sub)
        elif action.help:
            yield action.help % {}


def test_issue13_the_help_is_the_parsers_help_everywhere(shell, capsys):
    from zoom_notebook.magics import cell_parser, line_parser

    helps = [*_every_help(cell_parser()), *_every_help(line_parser())]
    assert len(helps) >= 25
    words = lambda text: " ".join(text.split())  # noqa: E731 - wrapped either way
    shown = words(shell.object_inspect_text("%zoomchat"))  # what `%zoomchat?` shows
    assert [h for h in helps if words(h) not in shown] == []
    shell.run_line_magic("zoomchat", "--help")
    printed = words(capsys.readouterr().out)
    assert [h for h in helps if words(h) not in printed] == []
    result = cell(shell, "--help", "ran = True")  # help, and the cell does not run
    assert result.success and "ran" not in shell.user_ns
    with pytest.raises(UsageError, match="--help"):
        shell.run_line_magic("zoomchat", "sendd hi")


def test_issue13_unload_ext_removes_both_magics(shell):
    shell.run_line_magic("zoomchat", f"autonotify -c {shell.user_ns['CH']}")
    shell.run_line_magic("unload_ext", "zoom_notebook")
    try:
        assert "zoomchat" not in shell.magics_manager.magics["line"]
        assert "zoomchat" not in shell.magics_manager.magics["cell"]
        assert all("autonotify" not in repr(cb) for cb in
                   shell.events.callbacks["post_run_cell"])
    finally:
        shell.run_line_magic("load_ext", "zoom_notebook")
    assert "zoomchat" in shell.magics_manager.magics["cell"]


def test_a_plain_progress_loop_that_raises_in_a_cell_is_a_failure_and_break_a_stop(
        shell, user_env):
    """Issue 23 finding 3: in IPython the cell's error is known, so a plain ``for`` over
    zn.progress whose body raises is posted as a failure with the error; a ``break`` in a
    cell that ends well is a stop."""
    failing = shell.run_cell(
        "import zoom_notebook as zn\n"
        "for epoch in zn.progress(range(50), desc='Training', to_channel=CH, every=100):\n"
        "    if epoch == 2:\n"
        "        raise ValueError('loss is NaN')\n")
    assert isinstance(failing.error_in_exec, ValueError)
    shell.run_cell(
        "for i in zn.progress(range(5), desc='Search', to_channel=CH, every=100):\n"
        "    if i == 1:\n"
        "        break\n")
    assert get_outbox().flush(10)
    training, search = messages(user_env)
    assert training["message"].startswith("❌ Training: failed at 3/50")
    assert "ValueError: loss is NaN" in training["message"]
    assert "stopped" not in training["message"]
    assert search["message"].startswith("⏹ Search: stopped at 1/5")


def test_a_failure_alert_keeps_the_users_line_and_the_library_line_that_raised():
    """Issue 23 finding 11: an error raised deep in a library keeps the cell's own line
    (what the user wrote) and the line that raised, not only library frames."""
    import linecache

    from zoom_notebook.alerts import short_traceback

    source = "import json\ndef load(text):\n    return json.loads(text)\nload('{broken')\n"
    name = "<ipython-input-7-abc>"  # as IPython names a cell, its text in linecache
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    code = compile(source, name, "exec")
    try:
        exec(code, {})
    except ValueError as exc:
        text = short_traceback(exc)
    assert "load('{broken')" in text and "return json.loads(text)" in text
    assert "json/decoder.py" in text and text.endswith("(char 1)")
    assert "…" in text  # the library frames in between are left out


def test_a_trailing_comment_is_ignored_but_hash_words_are_kept(shell, user_env):
    """Issue 23 item 1: `%zoomchat login   # once` and `--after 300  # post when…` as the
    README writes them; `#data-science` and `#42` are words."""
    from zoom_notebook.magics import strip_comment

    assert strip_comment("autonotify --after 300   # post when cells run > 5 min") == (
        "autonotify --after 300   ")
    shell.run_line_magic("zoomchat", "autonotify -c \"#data-science\" --after 300   # > 5 min")
    shell.run_line_magic("zoomchat", "autonotify --off  # and off again")
    shell.run_line_magic("zoomchat", 'send -c "#data-science" fixes #42 and #43   # a note')
    (msg,) = messages(user_env)
    assert msg["message"] == "fixes #42 and #43"
