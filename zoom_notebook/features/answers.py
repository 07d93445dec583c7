"""``zn.ask``: post a question, wait for the first fitting reply in its thread.

The question goes through the one pipeline (``delivery.sending.send``); the waiting is
``zoom_notebook.poller`` (one polite budget per process). With ``choices`` a reply
matches a choice without regard to case (or its number: "2"); other replies are
ignored. Interrupting the cell (Stop) ends the wait at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any, Iterable, Sequence

from zoom_notebook.core.config import Settings
from zoom_notebook.core.display import Card, Live, Shown, in_notebook
from zoom_notebook.core.errors import AskTimeout, ValidationError
from zoom_notebook.core.message import Mentions


@dataclasses.dataclass(frozen=True, repr=False)
class Answer:
    """The reply that answered a question."""

    #: the reply's text, as written
    text: str
    #: the choice it picked (as given in ``choices``), or None when there were none
    choice: str | None
    #: who answered: "Grace Hopper (grace@example.com)"
    user: str
    #: the reply's message id, and the question's
    message_id: str
    question_id: str
    #: when it was written (aware UTC)
    at: dt.datetime

    def __str__(self) -> str:
        return self.choice if self.choice is not None else self.text

    def __repr__(self) -> str:
        return f"<Answer {str(self)!r} from {self.user} at {self.at:%H:%M:%S} UTC>"

    def _repr_html_(self) -> str:
        from html import escape

        return (f"<div><b>{escape(str(self))}</b> — {escape(self.user)}, "
                f"{escape(self.at.strftime('%H:%M UTC'))}</div>")


def _check(question: Any, choices: Any, timeout: Any, from_users: Any
           ) -> tuple[list[str] | None, list[str] | None]:
    if not isinstance(question, str) or not question.strip():
        raise ValidationError("question", "write the question as non-empty text")
    picks: list[str] | None = None
    if choices is not None:
        if isinstance(choices, str) or not isinstance(choices, Iterable):
            raise ValidationError("choices", "give a list of answers, e.g. "
                                             "choices=['yes', 'no']")
        picks = [c.strip() if isinstance(c, str) else c for c in choices]
        if not picks or not all(isinstance(c, str) and c for c in picks):
            raise ValidationError("choices", "each choice must be non-empty text")
        lowered = [c.lower() for c in picks]
        if len(set(lowered)) != len(lowered):
            raise ValidationError("choices", "two choices are the same (case is ignored)")
        if any(c.isdigit() for c in picks):
            raise ValidationError("choices", "a choice cannot be a bare number: a reply "
                                             "'2' means the second choice")
        if len(picks) > 20:
            raise ValidationError("choices", "at most 20 choices")
    if timeout is not None and (isinstance(timeout, bool) or
                                not isinstance(timeout, (int, float)) or not timeout > 0):
        raise ValidationError("timeout", "give the seconds to wait (a number > 0), or None "
                                         "to wait until answered or interrupted")
    return picks, allowed_users(from_users, "who may answer")


def allowed_users(from_users: Any, who: str) -> list[str] | None:
    """``from_users`` (an email or user id, or a list of them) as a list; None: anyone."""
    if from_users is None:
        return None
    users = [from_users] if isinstance(from_users, str) else list(from_users)
    if not users or not all(isinstance(u, str) and u.strip() for u in users):
        raise ValidationError("from_users", f"give emails or user ids of {who}")
    for user in users:
        if any(ch.isspace() for ch in user.strip()):
            # a display name can never match a reply's sender (Zoom gives email and ids)
            raise ValidationError("from_users", f"{user!r} looks like a name: give the email "
                                                f"or user id of {who} (zn.contacts() finds "
                                                "them)")
    return [u.strip() for u in users]


def match(text: str, choices: Sequence[str] | None) -> str | None:
    """The choice a reply picks ("Yes", "yes!", "2"), or None. Without choices any
    non-empty reply is the answer (its text)."""
    said = _said(text)
    if not choices:
        return said or None
    for i, choice in enumerate(choices, 1):
        if said.lower() == choice.lower() or said == str(i):
            return choice
    return None


def is_stop(text: str) -> bool:
    """Does a reply in a stoppable progress thread say "stop"? The word itself (any case,
    "Stop!"), never a number: "1" is not a choice there (issue 24 finding 6)."""
    return _said(text).lower() == "stop"


def _said(text: str) -> str:
    """A reply as a word to compare: one space between words, no surrounding marks."""
    return " ".join(text.split()).strip(" .!?\"'")


def question_text(question: str, choices: Sequence[str] | None) -> str:
    """The message posted (Markdown: the numbers are bold)."""
    text = question.strip()
    if choices:
        text += "\n\n" + "\n".join(f"**{i}** {c}" for i, c in enumerate(choices, 1))
        return text + "\n\nReply in this thread with a number or a choice."
    return text + "\n\nReply in this thread."


@dataclasses.dataclass(repr=False)
class _Asked(Shown):
    """The question's receipt while the ask waits, then its answer (or the timeout)."""

    head: str
    question: str
    where: str
    tone: str = "pending"

    def card(self) -> Card:
        return Card(self.head, [("question", self.question), ("asked in", self.where)],
                    tone=self.tone)


def _card(head: str, sent: Any, tone: str) -> _Asked:
    return _Asked(head, sent.message.splitlines()[0][:120], sent.target, tone)


def _waiting(sent: Any, timeout: float | None) -> Live:
    """Say that the question is out and where to answer it, while the ask waits: a
    receipt that becomes the answer in a notebook; a line on stderr elsewhere (stdout is
    the answer, for scripts)."""
    import sys

    until = f" for up to {timeout:g} s" if timeout is not None else ""
    asked = _card(f"⏳ Asked: waiting{until} for a reply in the question's thread "
                  "(answer there; an interrupt stops waiting)", sent, "pending")
    if not in_notebook():
        print(repr(asked), file=sys.stderr, flush=True)
    return Live(asked, show=in_notebook())


def ask(question: str, *, to_channel: str | None = None, to_contact: str | None = None,
        choices: Sequence[str] | None = None, timeout: float | None = None,
        from_users: Sequence[str] | str | None = None, mentions: Mentions = None,
        settings: Settings | None = None, budget: Any = None) -> Answer:
    """Post ``question`` and return the first reply in its thread from an allowed user.

    ``choices``: a reply must be one of them (any case) or its number; other replies are
    ignored. ``from_users``: emails or user ids allowed to answer (default: anyone, you
    included: you may answer from your phone). ``timeout``: seconds, then
    ``AskTimeout``; None waits until answered or interrupted. Everything is checked
    before anything is posted.
    """
    from zoom_notebook.account import session
    from zoom_notebook.delivery import sending
    from zoom_notebook.delivery import state as memory
    from zoom_notebook.features.context import resolve_target
    from zoom_notebook.zoom.poller import BUDGET, ThreadReader, sender_matches, sender_name

    picks, users = _check(question, choices, timeout, from_users)
    settings = settings or Settings.load()
    target = resolve_target(to_channel, to_contact, settings)
    if "via" in target:
        raise ValidationError("to_channel", "an Incoming Webhook cannot read replies: name "
                                            "a channel or contact and log in (zn.login())")
    budget = budget or BUDGET
    deadline = None if timeout is None else budget.clock() + float(timeout)
    session.require("threads", settings)  # the answer is read from the question's thread
    # zn.send checks the whole message (target, mentions, length) before any request
    sent = sending.send(question_text(question, picks), mentions=mentions, settings=settings,
                    **target)
    if sent.dry_run:
        raise ValidationError("dry_run", "a dry run sends nothing, so nobody can answer: "
                                         "turn ZOOM_NOTEBOOK_DRY_RUN off to ask")
    kind = "to_channel" if sent.to_channel else "to_contact"
    where = sent.to_channel or sent.to_contact
    assert sent.id and where
    waiting = _waiting(sent, timeout)
    reader = ThreadReader(session.client(settings), sent.id, kind, where,
                          user=None if settings.user == "me" else settings.user, budget=budget)
    budget.fast()
    while budget.turn(deadline):
        fresh = reader.read(None if deadline is None else deadline - budget.clock())
        ours = memory.posted_replies(settings) if fresh else set()
        for reply in fresh:
            if str(reply.get("msg_id")) in ours:  # this package's own post, never an answer
                continue
            if not sender_matches(reply, users):
                continue
            picked = match(str(reply.get("message") or ""), picks)
            if picked is None:
                continue
            at = dt.datetime.fromtimestamp(int(reply.get("timestamp") or time.time() * 1000)
                                           / 1000, dt.timezone.utc)
            answer = Answer(text=str(reply.get("message") or ""),
                            choice=picked if picks else None, user=sender_name(reply),
                            message_id=str(reply.get("msg_id")), question_id=sent.id, at=at)
            waiting.update(_card(f"✓ Answered by {answer.user}: {answer.text[:200]}",
                                 sent, "ok"))
            return answer
    waiting.update(_card(f"No answer within {timeout:g} s (a later reply is still in the "
                         "question's thread)", sent, "info"))
    raise AskTimeout(f"No answer to {question.strip()[:80]!r} within {timeout:g} s (the "
                     f"question is message {sent.id} in {sent.target}: a later reply is "
                     "still in its thread)", question=question, message_id=sent.id)
