"""A contract test per seam of the delivery layer (issue 25 item 10): what one room hands
the next. draft -> payload: every draft ``prepare`` builds is a request body Zoom's own
OpenAPI document accepts (no network: the seam itself). journal -> replay: what the
outbox writes is what the next process reads back, a damaged line hiding nothing.
(delivery -> outcome and receipt for each failure policy: tests/test_failure_policy.py.)"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.delivery.draft import prepare
from zoom_notebook.delivery.journal import Item, JournalFile

from .contract import check_request

BEARER = {"Authorization": "Bearer x", "Content-Type": "application/json"}
URL = "http://127.0.0.1:1/v2/chat/users/me/messages"

DRAFTS = {
    "plain to a channel": dict(message="hello", to_channel="c1"),
    "to a person": dict(message="hi", to_contact="ada@example.com"),
    "a reply": dict(message="in the thread", to_channel="c1", reply_to="m-1"),
    "mentions": dict(message="look", to_channel="c1", mentions=["ada@example.com", "all"]),
    "named mentions": dict(message="ping", to_channel="c1",
                           mentions={"Ada": "ada@example.com"}),
    "Markdown": dict(message="# Done\n**bold** *it* ~~x~~ [link](https://zoom.us)\n- a\n- b",
                     to_channel="c1", markdown=True),
    "an alert headline, cut to fit": dict(message="✅ job finished\n" + "x" * 9000,
                                          to_channel="c1", fit=True, headline="ok"),
    "a failed headline": dict(message="❌ job failed\nTraceback", to_channel="c1",
                              headline="failed"),
    "scheduled": dict(message="later", to_channel="c1", at=dt.timedelta(hours=2)),
}


@pytest.mark.parametrize("name", sorted(DRAFTS))
def test_every_draft_is_a_body_zoom_accepts(name, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOM_NOTEBOOK_HOME", str(tmp_path))
    draft = prepare(settings=Settings.load({}), **DRAFTS[name])
    problems = check_request("POST", URL, BEARER, json.dumps(draft.payload))
    assert problems == [], problems
    assert draft.kind in ("to_channel", "to_contact") and draft.payload[draft.kind] == \
        draft.target


def test_a_draft_zoom_would_refuse_is_never_built(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOOM_NOTEBOOK_HOME", str(tmp_path))
    for bad in (dict(message="", to_channel="c1"), dict(message="x" * 5000, to_channel="c1"),
                dict(message="x", to_channel="c1", to_contact="a@b.c"),
                dict(message="x", to_channel="c1", at="10m")):
        with pytest.raises(ValidationError):
            prepare(settings=Settings.load({}), **bad)


def test_the_journal_replays_what_was_written_and_a_damaged_line_hides_nothing(tmp_path):
    journal = JournalFile(tmp_path)
    items = [Item(payload={"message": f"m{i}", "to_channel": "c1"}) for i in range(3)]
    journal.append([{"keep": i.record()} for i in items], sync=True)
    with open(journal.path, "a", encoding="utf-8") as fh:
        fh.write('{"keep": {"id": "torn", "payl\n')  # a line a killed writer left
    journal.append([{"drop": items[1].id, "mid": "zoom-id-1", "at": 1.0}])
    replayed = JournalFile(tmp_path).replay()  # the next process
    assert sorted(replayed.records) == sorted([items[0].id, items[2].id])
    assert replayed.records[items[0].id]["payload"]["message"] == "m0"
    assert replayed.delivered[items[1].id][0] == "zoom-id-1"
    assert replayed.damaged == [4]  # counted, and the lines after it were read
