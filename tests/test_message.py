"""Message building: mentions with inclusive code-point positions, limits, validation
(SECURITY.md 23, 24; CONTRACT.md "Mentions")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zoom_notebook import ValidationError
from zoom_notebook.message import (
    MAX_MESSAGE_LENGTH,
    build_message,
    check_payload,
    split_message,
)

from .contract import check_request

ANN = "ann@example.com"
BOB = "bob@example.com"


def mention_text(payload, item):
    return payload["message"][item["start_position"]: item["end_position"] + 1]


def test_zoom_doc_example_inclusive_end():
    p = build_message("@Shrijana How are you?", to_channel="c1",
                      mentions={"Shrijana": ANN})
    assert p["at_items"] == [{"at_type": 1, "at_contact": ANN, "start_position": 0,
                              "end_position": 8}]


def test_email_mention_positions_after_emoji_and_cjk():
    text = f"🎉 結果が出ました @{ANN} please look"
    p = build_message(text, to_channel="c1", mentions=[ANN])
    (item,) = p["at_items"]
    # 🎉 is one code point (two UTF-16 units): positions count code points.
    assert item["start_position"] == text.index("@")
    assert mention_text(p, item) == f"@{ANN}"
    assert item["end_position"] == item["start_position"] + len(ANN)


def test_display_name_with_combining_marks_and_several_mentions():
    name = "Zoe\u0308 Mu\u0308ller"  # combining diaeresis: more code points than glyphs
    text = f"cc @{name} and @Bob — 👩‍👩‍👧 family emoji @all"
    p = build_message(text, to_channel="c1", mentions={name: ANN, "Bob": BOB, "all": "all"})
    got = [(mention_text(p, i), i["at_type"], i.get("at_contact")) for i in p["at_items"]]
    assert got == [(f"@{name}", 1, ANN), ("@Bob", 1, BOB), ("@all", 2, None)]
    check_payload(p)


def test_missing_mentions_are_put_in_front():
    p = build_message("results are in", to_channel="c1", mentions=[ANN, "all"])
    assert p["message"] == f"@{ANN} @all results are in"
    assert [mention_text(p, i) for i in p["at_items"]] == [f"@{ANN}", "@all"]


def test_only_listed_mentions_count_and_word_boundaries():
    text = "@Ann and @Anna and x@Ann and @Ann."
    p = build_message(text, to_channel="c1", mentions={"Ann": ANN})
    assert [i["start_position"] for i in p["at_items"]] == [0, text.rindex("@Ann")]
    assert "at_items" not in build_message("@Ann hi", to_channel="c1")


def test_longer_name_wins_overlap():
    p = build_message("@Ann Lee and @Ann", to_channel="c1",
                      mentions={"Ann Lee": BOB, "Ann": ANN})
    assert [(mention_text(p, i), i["at_contact"]) for i in p["at_items"]] == [
        ("@Ann Lee", BOB), ("@Ann", ANN)]


def test_all_only_in_channels():
    with pytest.raises(ValidationError) as err:
        build_message("hi @all", to_contact=ANN, mentions=["all"])
    assert err.value.field == "mentions"


def test_contact_mentions_allowed_in_direct_messages():
    p = build_message("hi", to_contact=BOB, mentions=[ANN])
    assert p["at_items"][0]["at_contact"] == ANN and p["to_contact"] == BOB


def test_limit_counts_code_points_and_includes_prepended_mentions():
    build_message("x" * MAX_MESSAGE_LENGTH, to_channel="c1")
    build_message("😀" * MAX_MESSAGE_LENGTH, to_channel="c1")  # 1024 code points, 2048 UTF-16
    with pytest.raises(ValidationError) as err:
        build_message("x" * (MAX_MESSAGE_LENGTH - 3), to_channel="c1", mentions=[ANN])
    assert err.value.field == "message" and "1024" in str(err.value)


@pytest.mark.parametrize("kwargs, field", [
    ({"message": "hi"}, "to_contact/to_channel"),
    ({"message": "hi", "to_contact": ANN, "to_channel": "c1"}, "to_contact/to_channel"),
    ({"message": "hi", "to_channel": ""}, "to_channel"),
    ({"message": "hi", "to_channel": "   "}, "to_channel"),
    ({"message": "hi", "to_contact": 42}, "to_contact"),
    ({"message": "", "to_channel": "c1"}, "message"),
    ({"message": "  \n ", "to_channel": "c1"}, "message"),
    ({"message": None, "to_channel": "c1"}, "message"),
    ({"message": "x" * 1025, "to_channel": "c1"}, "message"),
    ({"message": "bad \ud800 surrogate", "to_channel": "c1"}, "message"),
    ({"message": "hi", "to_channel": "c1", "mentions": ["not-an-email"]}, "mentions"),
    ({"message": "hi", "to_channel": "c1", "mentions": ["a@b"]}, "mentions"),
    ({"message": "hi", "to_channel": "c1", "mentions": {"": ANN}}, "mentions"),
    ({"message": "hi", "to_channel": "c1", "mentions": 5}, "mentions"),
    ({"message": "hi", "to_contact": ANN, "mentions": "all"}, "mentions"),
    ({"message": "hi", "to_channel": "c1", "reply_to": ""}, "reply_to"),
    ({"message": "hi", "to_channel": "c1", "reply_to": "  "}, "reply_to"),
])
def test_bad_input_names_the_field(kwargs, field):
    message = kwargs.pop("message")
    with pytest.raises(ValidationError) as err:
        build_message(message, **kwargs)
    assert err.value.field == field
    assert field in str(err.value)


@pytest.mark.parametrize("item, fragment", [
    ({"at_type": 3, "start_position": 0, "end_position": 3, "at_contact": ANN}, "at_type"),
    ({"at_type": 1, "start_position": -1, "end_position": 3, "at_contact": ANN}, "0 <="),
    ({"at_type": 1, "start_position": 2, "end_position": 1, "at_contact": ANN}, "0 <="),
    ({"at_type": 1, "start_position": 0, "end_position": 99, "at_contact": ANN}, "0 <="),
    ({"at_type": 1, "start_position": 1, "end_position": 3, "at_contact": ANN}, "'@'"),
    ({"at_type": 1, "start_position": 0, "end_position": 3}, "at_contact"),
    ({"at_type": 2, "start_position": 0, "end_position": 3}, "channels"),
])
def test_check_payload_rejects_bad_at_items(item, fragment):
    payload = {"message": "@Ann hello", "to_contact": BOB, "at_items": [item]}
    with pytest.raises(ValidationError) as err:
        check_payload(payload)
    assert err.value.field == "at_items[0]" and fragment in str(err.value)


def test_check_payload_rejects_overlaps():
    items = [{"at_type": 1, "start_position": 0, "end_position": 3, "at_contact": ANN},
             {"at_type": 1, "start_position": 0, "end_position": 1, "at_contact": BOB}]
    with pytest.raises(ValidationError, match="overlap"):
        check_payload({"message": "@Ann hello", "to_channel": "c", "at_items": items})


def test_split_message_on_line_boundaries():
    lines = [f"line {i:03d} " + "x" * 40 for i in range(100)]
    chunks = split_message("\n".join(lines), limit=500)
    assert all(len(c) <= 500 for c in chunks)
    assert "\n".join(chunks) == "\n".join(lines)
    assert all(c.startswith("line ") for c in chunks)  # never cut inside a line
    assert split_message("y" * 1200, limit=500) == ["y" * 500, "y" * 500, "y" * 200]


def _is_valid_against_zoom(payload):
    import json
    problems = check_request("POST", "https://api.zoom.us/v2/chat/users/me/messages",
                             {"Authorization": "Bearer x", "Content-Type": "application/json"},
                             json.dumps(payload))
    return problems


names = st.text(min_size=1, max_size=30)
emails = st.from_regex(r"[a-z0-9._-]{1,12}@[a-z0-9-]{1,10}\.[a-z]{2,5}", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=1100), st.text(
           alphabet=st.characters(blacklist_categories=()), max_size=200),
           st.just("x" * 5000)),
       mentions=st.one_of(st.none(), st.lists(st.one_of(emails, st.just("all"), st.text()),
                                              max_size=4),
                          st.dictionaries(names, emails, max_size=4)),
       channel=st.booleans())
def test_builder_property(text, mentions, channel):
    """SECURITY.md 24: any text gives a valid payload or a ValidationError, nothing else."""
    target = {"to_channel": "chan"} if channel else {"to_contact": BOB}
    try:
        payload = build_message(text, mentions=mentions, **target)
    except ValidationError as err:
        assert err.field
        return
    check_payload(payload)
    assert len(payload["message"]) <= MAX_MESSAGE_LENGTH
    payload["message"].encode("utf-8")
    for item in payload.get("at_items", []):
        assert payload["message"][item["start_position"]] == "@"
    assert _is_valid_against_zoom(payload) == []
