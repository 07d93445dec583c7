"""Talking back: zn.ask, a progress loop stopped from the chat, and the watchdog, against
the sandbox with scripted replies from its seeded colleagues (Grace, Alan ...)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import zoom_notebook as zn
from zoom_notebook import poller
from zoom_notebook.answers import match
from zoom_notebook.poller import Budget
from zoom_notebook.sandbox import Sandbox

ADA = "ada.lovelace@example.com"
GRACE = "grace.hopper@example.com"


@pytest.fixture
def fast_polls(monkeypatch):
    """The polite pace, scaled down 40x (the schedule itself is tested on its own)."""
    monkeypatch.setattr(poller, "FIRST", 0.05)
    monkeypatch.setattr(poller, "CAP", 0.3)
    monkeypatch.setattr(poller, "SLICE", 0.02)
    budget = Budget()
    monkeypatch.setattr(poller, "BUDGET", budget)
    return budget


def newest_from_me(sb: Sandbox, containing: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sb.world.lock:
            found = [m for m in sb.world.messages.values() if m.sender == sb.world.me_id
                     and containing in m.message and m.reply_main_message_id is None]
        if found:
            return max(found, key=lambda m: m.timestamp)
        time.sleep(0.02)
    raise AssertionError(f"no message containing {containing!r} was posted")


def replies(sb: Sandbox, script: list[tuple[str, str]], containing: str, *,
            channel: str | None = None, gap: float = 0.15) -> threading.Thread:
    """Once the question is posted, colleagues reply in its thread, one by one."""
    def run() -> None:
        question = newest_from_me(sb, containing)
        for who, text in script:
            time.sleep(gap)
            # in a direct message the colleague writes to the asker (the default)
            sb.reply(who, text, to_channel=channel, reply_to=question.id)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_reply_matches_a_choice_by_text_or_number():
    assert match("Yes", ["yes", "no"]) == "yes"
    assert match("  NO! ", ["yes", "no"]) == "no"
    assert match("2", ["yes", "no"]) == "no"
    assert match("2.", ["yes", "no"]) == "no"
    assert match("maybe", ["yes", "no"]) is None
    assert match("3", ["yes", "no"]) is None
    assert match("looks good to me", None) == "looks good to me"
    assert match("   ", None) is None


def test_ask_by_choice_number_ignores_what_does_not_match(user_env, fast_polls):
    channel = user_env.channel_id("general")
    replies(user_env, [("grace", "hmm, let me look"), ("alan", "maybe?"), ("grace", "2")],
            "Ship model v2?", channel=channel)
    answer = zn.ask("Ship model v2?", to_channel=channel, choices=["yes", "no"], timeout=20)
    assert answer.choice == "no" and str(answer) == "no" and answer.text == "2"
    assert answer.user == f"Grace Hopper ({GRACE})"
    question = newest_from_me(user_env, "Ship model v2?")
    assert answer.question_id == question.id
    # what was asked: the choices numbered, and how to answer
    assert "1 yes\n2 no" in question.message and "Reply in this thread" in question.message
    assert abs((answer.at - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 30


def test_ask_by_choice_text_in_a_direct_message(user_env, fast_polls):
    replies(user_env, [("grace", "Retrain")], "Next step?")
    answer = zn.ask("Next step?", to_contact=GRACE, choices=["Retrain", "Stop"],
                    timeout=20)
    assert answer.choice == "Retrain"


def test_ask_only_takes_answers_from_allowed_users(user_env, fast_polls):
    channel = user_env.channel_id("general")
    replies(user_env, [("alan", "yes"), ("grace", "no")], "Deploy?", channel=channel)
    answer = zn.ask("Deploy?", to_channel=channel, choices=["yes", "no"],
                    from_users=[GRACE], timeout=20)
    assert (answer.choice, answer.user) == ("no", f"Grace Hopper ({GRACE})")


def test_ask_without_choices_takes_the_first_reply_and_the_asker_may_answer(
        user_env, fast_polls):
    channel = user_env.channel_id("general")
    replies(user_env, [("ada", "use the 0.01 learning rate")], "Which rate?",
            channel=channel)
    answer = zn.ask("Which rate?", to_channel=channel, timeout=20)
    assert answer.text == "use the 0.01 learning rate" and answer.choice is None
    assert ADA in answer.user


def test_ask_times_out_with_the_question_still_in_zoom(user_env, fast_polls):
    channel = user_env.channel_id("general")
    replies(user_env, [("grace", "what?")], "Continue?", channel=channel)
    start = time.monotonic()
    with pytest.raises(zn.AskTimeout) as caught:
        zn.ask("Continue?", to_channel=channel, choices=["yes", "no"], timeout=1.0)
    assert 0.9 < time.monotonic() - start < 5
    question = newest_from_me(user_env, "Continue?")
    assert caught.value.message_id == question.id and "Continue?" in str(caught.value)
    assert isinstance(caught.value, zn.ZoomNotebookError)


def test_ask_is_checked_before_anything_is_posted(user_env):
    channel = user_env.channel_id("general")
    before = len(user_env.requests())
    for kwargs, field in [({"choices": "yes,no"}, "choices"), ({"choices": []}, "choices"),
                          ({"choices": ["yes", "YES"]}, "choices"),
                          ({"choices": ["1", "2"]}, "choices"),
                          ({"timeout": 0}, "timeout"), ({"timeout": "5"}, "timeout"),
                          ({"from_users": [""]}, "from_users")]:
        with pytest.raises(zn.ValidationError) as caught:
            zn.ask("Go?", to_channel=channel, **kwargs)
        assert caught.value.field == field
    with pytest.raises(zn.ValidationError) as caught:
        zn.ask("  ", to_channel=channel)
    assert caught.value.field == "question"
    assert len(user_env.requests()) == before


def test_ask_can_be_interrupted_at_any_moment(user_env, fast_polls):
    """An interrupt (the kernel's Stop) while waiting ends the ask at once."""
    import _thread

    channel = user_env.channel_id("general")
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        zn.ask("Interrupt me?", to_channel=channel, timeout=60)
    assert time.monotonic() - start < 3
    timer.cancel()


def test_the_polling_schedule_backs_off_and_is_shared():
    """Virtual time: about 2 s between the first reads, 30 s later on; two waiters take
    turns in ONE budget instead of doubling the requests."""
    now = [0.0]
    budget = Budget(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    budget.fast()
    times = []
    while now[0] < 600:
        assert budget.turn()
        times.append(now[0])
    assert 1.9 < times[0] < 2.1 and times[1] - times[0] == pytest.approx(3.0)
    per_minute = [sum(1 for t in times if m * 60 <= t < (m + 1) * 60) for m in range(10)]
    assert per_minute[0] <= 8 and max(per_minute[1:]) <= 4, per_minute


class VirtualTime:
    """A clock for several threads: a thread's ``sleep`` waits until the clock reaches its
    wake time, and the clock jumps to the earliest wake time once every thread sleeps —
    so three threads see the same ten minutes one thread sees, in a few milliseconds."""

    def __init__(self, threads: int) -> None:
        self.now = 0.0
        self.awake = threads
        self.wakes: list[float] = []
        self.cond = threading.Condition()

    def clock(self) -> float:
        return self.now

    def _advance(self) -> None:
        if self.awake == 0 and self.wakes:
            self.now = max(self.now, min(self.wakes))
            self.cond.notify_all()

    def sleep(self, seconds: float) -> None:
        with self.cond:
            wake = self.now + seconds
            self.wakes.append(wake)
            self.awake -= 1
            self._advance()
            while self.now < wake:
                self.cond.wait(5)
            self.wakes.remove(wake)
            self.awake += 1

    def done(self) -> None:
        with self.cond:
            self.awake -= 1
            self._advance()


def test_several_waiters_share_one_budget():
    """Waiters (threads) on one budget take turns: three make the requests of one, over
    the same ten minutes of a virtual clock (no wall-clock sleeps)."""
    def requests_made(waiters: int) -> int:
        vt = VirtualTime(waiters)
        shared = Budget(clock=vt.clock, sleep=vt.sleep)
        shared.fast()

        def waiter() -> None:
            try:
                while shared.turn(deadline=600.0):
                    pass
            finally:
                vt.done()

        threads = [threading.Thread(target=waiter) for _ in range(waiters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
        return shared.requests

    one, three = requests_made(1), requests_made(3)
    assert one >= 20 and three == one, (one, three)


def test_a_429_holds_every_waiter_until_retry_after(user_env, fast_polls):
    channel = user_env.channel_id("general")
    user_env.faults.add("status", status=429, retry_after=1.5, count=1, method="GET",
                        path="/thread")
    replies(user_env, [("grace", "yes")], "Rate limited?", channel=channel, gap=0.0)
    start = time.monotonic()
    answer = zn.ask("Rate limited?", to_channel=channel, choices=["yes"], timeout=30)
    assert answer.choice == "yes"
    reads = [r for r in user_env.requests() if r["path"].endswith("/thread")]
    assert reads[0]["status"] == 429 and reads[1]["status"] == 200
    assert reads[1]["time"] - reads[0]["time"] >= 1.0  # it waited as Zoom asked
    assert time.monotonic() - start >= 1.0


# ---------------------------------------------------------------------- progress


def test_stop_from_the_chat_ends_a_progress_loop_early(user_env, fast_polls):
    from zoom_notebook.outbox import get_outbox

    channel = user_env.channel_id("general")
    done = []

    def stopper() -> None:
        main = newest_from_me(user_env, "Training")
        time.sleep(0.3)
        user_env.reply("alan", "looks fine", to_channel=channel, reply_to=main.id)
        user_env.reply("grace", "Stop", to_channel=channel, reply_to=main.id)

    threading.Thread(target=stopper, daemon=True).start()
    for step in zn.progress(range(400), desc="Training", to_channel=channel, every=0.2,
                            stoppable=True):
        done.append(step)
        time.sleep(0.02)
    assert 5 < len(done) < 400  # ended early, like a break
    assert get_outbox().flush(20)
    main = newest_from_me(user_env, "Training")
    final = user_env.world.messages[main.id].message
    assert final.startswith(f"⏹ Training: stopped at {len(done)}/400")
    assert f"by Grace Hopper ({GRACE})" in final


def test_a_stoppable_loop_ignores_stop_from_users_not_allowed(user_env, fast_polls):
    from zoom_notebook.outbox import get_outbox

    channel = user_env.channel_id("general")

    def stopper() -> None:
        main = newest_from_me(user_env, "Tuning")
        user_env.reply("alan", "stop", to_channel=channel, reply_to=main.id)

    threading.Thread(target=stopper, daemon=True).start()
    n = 0
    for _ in zn.progress(range(60), desc="Tuning", to_channel=channel, every=0.2,
                         stoppable=True, from_users=[GRACE]):
        n += 1
        time.sleep(0.02)
    assert n == 60
    assert get_outbox().flush(20)
    main = newest_from_me(user_env, "Tuning")
    assert user_env.world.messages[main.id].message.startswith("✅ Tuning: done, 60/60")


# ---------------------------------------------------------------------- watchdog


def test_watchdog_is_checked_before_anything_is_scheduled(user_env):
    channel = user_env.channel_id("general")
    for after in ("10m", "abc", -5, dt.timedelta(minutes=29)):
        with pytest.raises(zn.ValidationError) as caught:
            zn.watchdog(after, to_channel=channel)
        assert caught.value.field == "after"
    assert user_env.drafts() == []


def test_a_clean_end_leaves_no_draft_and_renewals_keep_one(user_env):
    channel = user_env.channel_id("general")
    with zn.watchdog("30m", to_channel=channel, renew_every=0.2) as wd:
        first = wd.due
        assert len(user_env.drafts()) == 1
        deadline = time.monotonic() + 10
        while wd.renewals < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
            assert len(user_env.drafts()) <= 2
        assert wd.renewals >= 3
        drafts = user_env.drafts()
        assert len(drafts) in (1, 2)
        assert "has not reported for 30 min: it may have died" in drafts[0]["message"]
        assert wd.due >= first
    assert user_env.drafts() == []
    assert not wd.running
    user_env.advance(3 * 3600)
    assert not [m for m in user_env.world.messages.values() if "may have died" in m.message]


def test_renewals_survive_a_network_hiccup_without_two_drafts(user_env):
    channel = user_env.channel_id("general")
    wd = zn.watchdog("45m", to_channel=channel, renew_every=0.3).start()
    try:
        # the next schedule fails twice (Zoom busy), then a cancel fails once
        user_env.faults.add("status", status=503, count=2, method="POST",
                            path="/messages")
        user_env.faults.add("drop_before", count=1, method="DELETE", path="/schedule")
        deadline = time.monotonic() + 30
        while wd.renewals < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wd.renewals >= 3
        time.sleep(0.05)
        with wd._lock:  # between renewals: exactly one draft, the current one
            assert [d["id"] for d in user_env.drafts()] == [wd.current.id]
    finally:
        wd.stop()
    assert user_env.drafts() == []


CHILD = """
import sys, time, zoom_notebook as zn
wd = zn.watchdog("30m", to_channel=sys.argv[1], renew_every=0.3,
                 message="train.ipynb may have died").start()
while wd.renewals < 2:
    time.sleep(0.02)
print("renewed", flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_a_killed_kernel_is_reported_by_zoom_exactly_once(sandbox, tmp_path):
    channel = sandbox.channel_id("general")
    env = {**os.environ, **sandbox.env(), "ZOOM_ACCESS_TOKEN": sandbox.issue_token(),
           "ZOOM_NOTEBOOK_HOME": str(tmp_path)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, channel], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "renewed"
        child.send_signal(signal.SIGKILL)  # right after a renewal: the next is 0.3 s off
        child.wait(10)
    finally:
        child.kill()
        child.stdout.close()  # type: ignore[union-attr]
    assert len(sandbox.drafts()) == 1
    assert not [m for m in sandbox.world.messages.values() if "may have died" in m.message]
    sandbox.advance(31 * 60)
    posted = [m for m in sandbox.world.messages.values() if "may have died" in m.message]
    assert len(posted) == 1 and posted[0].target == channel
    sandbox.advance(3 * 3600)
    assert len([m for m in sandbox.world.messages.values()
                if "may have died" in m.message]) == 1
    assert json.dumps(sandbox.drafts()) == "[]"


# ---------------------------------------------------------------------- the magics


@pytest.fixture
def shell(user_env):
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext zoom_notebook", store_history=False)
    sh.run_line_magic("config", "ZoomChat.default_channel = None")
    sh.user_ns["CH"] = user_env.channel_id("data-science")
    yield sh
    sh.run_line_magic("zoomchat", "watchdog --off")
    sh.run_line_magic("zoomchat", "autonotify --off")
    sh.run_cell("%reset -f", store_history=False)


def test_zoomchat_ask_magic_returns_the_answer(shell, user_env, fast_polls):
    ch = shell.user_ns["CH"]
    replies(user_env, [("alan", "no"), ("grace", "Yes")], "Promote the model?", channel=ch)
    result = shell.run_cell(f'%zoomchat ask -c {ch} --choices yes,no --from {GRACE} '
                            '--timeout 20 -o answer "Promote the model?"')
    assert result.success, result.error_in_exec
    assert result.result.choice == "yes" and shell.user_ns["answer"].choice == "yes"


def test_zoomchat_watchdog_magic_and_autonotify_watchdog(shell, user_env, capsys):
    ch = shell.user_ns["CH"]
    shell.run_line_magic("zoomchat", f"watchdog --after 45m -c {ch}")
    assert "Zoom will post" in capsys.readouterr().out
    (draft,) = user_env.drafts()
    assert "has not reported for 45 min" in draft["message"] and draft["target"] == ch
    shell.run_line_magic("zoomchat", "watchdog --off")
    assert user_env.drafts() == []
    assert "watchdog is off" in capsys.readouterr().out
    shell.run_line_magic("zoomchat", f"autonotify --after 60 --watchdog 1h -c {ch}")
    assert "If the kernel dies" in capsys.readouterr().out
    assert len(user_env.drafts()) == 1
    shell.run_line_magic("zoomchat", "autonotify --off")
    assert user_env.drafts() == []
    with pytest.raises(Exception) as caught:
        shell.run_line_magic("zoomchat", f"watchdog --after 10m -c {ch}")
    assert "30 minutes" in str(caught.value)


def test_cli_ask_and_watchdog(user_env, fast_polls, capsys):
    from zoom_notebook.cli import main

    ch = user_env.channel_id("general")
    replies(user_env, [("grace", "2")], "Roll back?", channel=ch)
    assert main(["ask", "-c", ch, "--choices", "yes,no", "--timeout", "20",
                 "Roll back?"]) == 0
    assert capsys.readouterr().out.strip() == "no"
    assert main(["ask", "-c", ch, "--timeout", "0.3", "Anyone?"]) == 3
    assert "No answer" in capsys.readouterr().err
    code = main(["watchdog", "--after", "40m", "-c", ch, "--", sys.executable, "-c",
                 "import json, sys, urllib.request; sys.exit(7)"])
    assert code == 7  # the command's own exit status
    assert user_env.drafts() == []  # a clean end: cancelled
    log = user_env.requests()
    scheduled = [r for r in log if r["method"] == "POST" and r["path"].endswith("/messages")
                 and "scheduled_time" in (r.get("json") or {})]
    cancelled = [r for r in log if r["method"] == "DELETE" and "/schedule/" in r["path"]]
    assert len(scheduled) == 1 and len(cancelled) == 1
    assert "has not reported for 40 min" in scheduled[0]["json"]["message"]


def test_zooms_rate_limit_headers_slow_the_reads():
    """X-RateLimit-Remaining near the end of a daily limit slows every reader; 0 of a
    per-second limit waits for the next second."""
    class Resp:
        def __init__(self, headers):
            self.headers = headers

        def json(self):
            return {"messages": []}

    class Client:
        skew = 0.0

        def __init__(self):
            self.headers = {}

        def thread_response(self, *args, **kwargs):
            return Resp(self.headers)

    now = [0.0]
    budget = Budget(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    client = Client()
    reader = poller.ThreadReader(client, "m1", "to_channel", "c1", budget=budget)
    client.headers = {"X-RateLimit-Type": "Daily-limit", "X-RateLimit-Remaining": "40"}
    budget.fast()
    assert budget.turn()
    reader.read()
    start = now[0]
    assert budget.turn()
    assert budget.turn() and now[0] - start >= poller.LOW_PACE - 1
    client.headers = {"X-RateLimit-Type": "QPS", "X-RateLimit-Remaining": "0"}
    fresh = Budget(clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    reader.budget = fresh
    reader.read()
    before = now[0]
    assert fresh.turn() and now[0] - before >= 0.99


@pytest.mark.slow  # the failed report waits out the client's retry budget
def test_cli_watchdog_reports_a_killed_command_and_never_ends_silently(user_env, capsys):
    """Issue 24 finding 3 / SECURITY.md 38: CMD SIGKILLed (the OOM killer) is posted at
    once, naming the signal, and only then is the scheduled message cancelled; when Zoom
    cannot take that post, the scheduled message stays to say it later."""
    from zoom_notebook.cli import main

    ch = user_env.channel_id("general")
    kill_self = ["--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"]
    assert main(["watchdog", "--after", "40m", "-c", ch, *kill_self]) == 137
    (posted,) = [m for m in user_env.messages() if not m.get("scheduled")]
    assert posted["message"].startswith("❌ `") and "was killed by SIGKILL" in posted["message"]
    assert user_env.drafts() == []
    assert "killed by SIGKILL" in capsys.readouterr().err

    # the draft is scheduled; then Zoom goes down (the command says so), then it dies
    down = ("import json, os, urllib.request\n"
            f"urllib.request.urlopen(urllib.request.Request('{user_env.url}/_sandbox/faults',"
            " data=json.dumps({'kind': 'status', 'status': 503, 'count': 50,"
            " 'method': 'POST', 'path': '/messages'}).encode(),"
            " headers={'Content-Type': 'application/json'}))\n"
            "os.kill(os.getpid(), 9)")
    assert main(["watchdog", "--after", "40m", "-c", ch, "--", sys.executable, "-c",
                 down]) == 137
    assert len(user_env.drafts()) == 1  # Zoom will post "may have died" when it is due
    assert "stays in Zoom" in capsys.readouterr().err


def test_issue24_finding_8_more_than_100_replies_in_one_second_do_not_hide_the_answer(
        user_env):
    from zoom_notebook import api
    from zoom_notebook.poller import ThreadReader

    ch = user_env.channel_id("general")
    question = zn.send("Which one?", to_channel=ch)
    ids = [user_env.reply("alan", f"noise {i}", to_channel=ch, reply_to=question.id)
           for i in range(150)]
    ids.append(user_env.reply("grace", "the answer", to_channel=ch, reply_to=question.id))
    second = int(time.time()) - 5
    with user_env.world.lock:  # all of them within one second, in this order
        for i, mid in enumerate(ids):
            user_env.world.messages[mid].timestamp = second + i / 1000
    reader = ThreadReader(api.client(), question.id, "to_channel", ch,
                          since=dt.datetime.fromtimestamp(second - 30, dt.timezone.utc))
    texts = []
    for _ in range(4):
        texts += [str(m.get("message")) for m in reader.read()]
        if "the answer" in texts:
            break
    assert "the answer" in texts


def test_issue24_finding_6_a_reply_1_does_not_stop_a_loop():
    from zoom_notebook.answers import is_stop

    assert is_stop("stop") and is_stop("  Stop! ") and is_stop("STOP.")
    assert not is_stop("1") and not is_stop("don't stop") and not is_stop("")


def test_issue24_finding_7_the_askers_own_post_is_never_the_answer(user_env, fast_polls):
    """zn.send(..., reply_to="last") while zn.ask waits lands in the question's thread; it
    is this package's own post, not an answer. A person's reply then is."""
    ch = user_env.channel_id("general")

    def meanwhile():
        question = newest_from_me(user_env, "Anyone around?")
        time.sleep(0.2)
        zn.send("(posted by the notebook itself)", to_channel=ch, reply_to=question.id)
        time.sleep(0.5)
        user_env.reply("grace", "I am", to_channel=ch, reply_to=question.id)

    threading.Thread(target=meanwhile, daemon=True).start()
    answer = zn.ask("Anyone around?", to_channel=ch, timeout=20)
    assert answer.text == "I am" and "Grace" in answer.user


def test_issue24_finding_5_stop_pressed_while_a_watchdog_schedules_leaves_no_draft(
        user_env, monkeypatch):
    """The interrupt lands after Zoom made the draft and before the watchdog kept it:
    the draft is found and cancelled, and the interrupt still stops the cell."""
    from zoom_notebook.delivery import sending as api  # where the watchdog's send lives

    ch = user_env.channel_id("general")
    real = api.send

    def send_then_interrupted(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "send", send_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        with zn.watchdog("40m", to_channel=ch):
            pass
    monkeypatch.setattr(api, "send", real)
    assert user_env.drafts() == []
    assert user_env.advance(3 * 3600) == []  # nothing posted later


def test_issue24_finding_9_names_edits_and_deadlines(user_env, fast_polls):
    """A display name in from_users is refused (it could never match); an edited reply
    is read again; a timeout holds even when Zoom's answers are slow."""
    from zoom_notebook import ValidationError
    from zoom_notebook.errors import AskTimeout

    ch = user_env.channel_id("general")
    with pytest.raises(ValidationError) as err:
        zn.ask("Ship?", to_channel=ch, from_users="Grace Hopper", timeout=5)
    assert err.value.field == "from_users" and "email" in str(err.value)
    assert not [m for m in user_env.messages() if "Ship?" in m["message"]]  # before posting

    def edit_later():
        question = newest_from_me(user_env, "Deploy now?")
        reply = user_env.reply("grace", "hmm", to_channel=ch, reply_to=question.id)
        time.sleep(0.4)
        with user_env.world.lock:  # Grace edits "hmm" into an answer
            user_env.world.messages[reply].message = "yes"

    threading.Thread(target=edit_later, daemon=True).start()
    answer = zn.ask("Deploy now?", to_channel=ch, choices=["yes", "no"], timeout=20)
    assert answer.choice == "yes"

    user_env.inject("delay", seconds=8, count=20, method="GET", path="/thread")
    start = time.monotonic()
    with pytest.raises(AskTimeout):
        zn.ask("Anyone?", to_channel=ch, timeout=2)
    assert time.monotonic() - start < 6  # not the client's 60 s retry budget


def _bars_for_a_minute(budget, clock):
    """Short stoppable bars back to back for one virtual minute: each starts a waiter
    (fast()) and takes its turns while it runs (3 s)."""
    while clock[0] < 60:
        budget.fast()
        end = clock[0] + 3
        while budget.turn(deadline=end):
            pass
    return budget.requests


def test_issue24_finding_10_a_loop_of_stoppable_bars_reads_at_a_floor():
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    budget = Budget(clock=lambda: clock[0], sleep=sleep)
    reads = _bars_for_a_minute(budget, clock)
    assert reads <= 8, reads  # it was 18 a minute: each bar restarted the fast pace


def test_issue24_finding_10_progress_every_0_edits_at_most_once_a_second(user_env):
    from zoom_notebook.alerts import EDIT_FLOOR
    from zoom_notebook.outbox import get_outbox

    ch = user_env.channel_id("general")
    start = time.monotonic()
    for _ in zn.progress(range(300), desc="Tight", to_channel=ch, every=0):
        time.sleep(0.01)
    took = time.monotonic() - start
    assert get_outbox().flush(20)
    puts = [r for r in user_env.requests() if r["method"] == "PUT"]
    assert 1 <= len(puts) <= took / EDIT_FLOOR + 2  # it was 46 edits a second
    with pytest.raises(zn.ValidationError):
        zn.progress(range(3), to_channel=ch, every=-1)


def test_issue25_item_6_a_429_hold_is_counted_on_zooms_clock():
    """The poller's hold after a 429 is the retry module's count, on Zoom's clock (the
    client's skew), not this machine's."""
    from zoom_notebook.retry import seconds_until

    zoom_time = dt.datetime.fromtimestamp(1_000_100, dt.timezone.utc)
    # our clock says 1,000,000 but Zoom's runs 60 s ahead: 40 s left, not 100
    assert seconds_until(zoom_time, 60.0, clock=lambda: 1_000_000.0) == 40.0
    assert seconds_until(zoom_time, None, clock=lambda: 1_000_000.0) == 100.0
    assert seconds_until(zoom_time, 500.0, clock=lambda: 1_000_000.0) == 1.0  # at least 1 s
