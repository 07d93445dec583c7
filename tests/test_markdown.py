"""Markdown as Zoom rich text (issue 14, item 1): what the user wrote in Markdown arrives
as plain text plus rich_text spans, checked against the sandbox (and every request
against Zoom's schema, as in every test)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import zoom_notebook as zn
from zoom_notebook.markdown import to_rich_text


def spans(text: str, items: list[dict]) -> list[tuple[str, str | None, str]]:
    """Each span as (format_type, format_attr, the characters it covers): positions
    checked character by character against the final text (end exclusive)."""
    return [(i["format_type"], i.get("format_attr"),
             text[i["start_position"]:i["end_position"]]) for i in items]


@pytest.mark.parametrize("source, shown, expected", [
    ("🎉 **完成** of *训练* 🚀", "🎉 完成 of 训练 🚀",
     [("Bold", None, "完成"), ("Italic", None, "训练")]),
    ("データ ~~古い~~ 新しい 😀", "データ 古い 新しい 😀", [("Strikethrough", None, "古い")]),
    ("# 見出し 🎯\n\n本文", "見出し 🎯\n\n本文", [("Paragraph", "h1", "見出し 🎯")]),
    ("## Two\n\n### Three", "Two\n\nThree",
     [("Paragraph", "h2", "Two"), ("Paragraph", "h3", "Three")]),
    ("- 苹果 🍎\n- banana", "苹果 🍎\nbanana",
     [("BulletedList", None, "苹果 🍎"), ("BulletedList", None, "banana")]),
    ("1. 一\n2. 二 🎲", "一\n二 🎲",
     [("NumberedList", None, "一"), ("NumberedList", None, "二 🎲")]),
    ("> 引用 🗨️\n\nafter", "引用 🗨️\n\nafter", [("Quote", None, "引用 🗨️")]),
    ("see [the 文書](https://example.com/doc) 📄", "see the 文書 📄",
     [("AddLink", "https://example.com/doc", "the 文書")]),
])
def test_each_construct_with_emoji_and_cjk_around_it(source, shown, expected, user_env):
    text, items = to_rich_text(source)
    assert text == shown
    assert spans(text, items) == expected
    sent = zn.send(source, to_channel=user_env.channel_id("general"))
    (stored,) = user_env.messages()
    assert stored["message"] == shown == sent.message
    assert spans(stored["message"], stored["rich_text"]) == expected


def test_a_mention_inside_bold_text_and_both_positions_agree(user_env):
    source = "**@Grace Hopper** 日本 please *review* 🎉"
    zn.send(source, to_channel=user_env.channel_id("general"),
            mentions={"Grace Hopper": "grace.hopper@example.com"})
    (stored,) = user_env.messages()
    text = stored["message"]
    assert text == "@Grace Hopper 日本 please review 🎉"
    (mention,) = stored["at_items"]  # at_items: end inclusive (its own example)
    assert text[mention["start_position"]:mention["end_position"] + 1] == "@Grace Hopper"
    assert spans(text, stored["rich_text"]) == [("Bold", None, "@Grace Hopper"),
                                                ("Italic", None, "review")]


def test_a_mention_put_in_front_moves_the_spans_with_the_text(user_env):
    zn.send("the **numbers** are in", to_channel=user_env.channel_id("general"),
            mentions={"Grace Hopper": "grace.hopper@example.com"})
    (stored,) = user_env.messages()
    assert stored["message"] == "@Grace Hopper the numbers are in"
    assert spans(stored["message"], stored["rich_text"]) == [("Bold", None, "numbers")]


def test_code_is_kept_character_for_character():
    source = "run `a*b*c` then:\n\n```python\nx = 2 ** 3  # **not bold**\n```\n\n    indented *x*"
    text, items = to_rich_text(source)
    assert "`a*b*c`" in text
    assert "```python\nx = 2 ** 3  # **not bold**\n```" in text
    assert "    indented *x*" in text
    assert items == []


def test_markdown_false_sends_the_text_as_is(user_env):
    zn.send("**not bold** and # not a heading", to_channel=user_env.channel_id("general"),
            markdown=False)
    (stored,) = user_env.messages()
    assert stored["message"] == "**not bold** and # not a heading"
    assert not stored.get("rich_text")


def test_a_link_that_is_not_http_keeps_its_text_and_gets_no_link():
    text, items = to_rich_text("[files](ftp://example.com/x) or [mail](mailto:a@b.co)")
    assert text == "files or mail" and items == []
    # markdown-it refuses javascript: links outright: they stay as the text written
    text, items = to_rich_text("[x](javascript:alert)")
    assert items == [] and "javascript:alert" in text


def test_plain_text_is_unchanged_and_skips_the_parser():
    assert to_rich_text("Training finished: accuracy 0.93 🎉") == (
        "Training finished: accuracy 0.93 🎉", [])


def test_alert_text_is_never_parsed(user_env):
    with zn.notify("job **x**", to_channel=user_env.channel_id("general"), show=False):
        pass
    from zoom_notebook.outbox import get_outbox

    assert get_outbox().flush(10)
    (stored,) = user_env.messages()
    assert "job **x**" in stored["message"]
    # the only styling is the alert's headline (bold, green), over the whole first line:
    # the asterisks are not read as Markdown
    line = len(stored["message"].split("\n")[0])
    assert [(r["format_type"], r["start_position"], r["end_position"])
            for r in stored["rich_text"]] == [("Bold", 0, line), ("FontColor", 0, line)]


def test_a_failed_alert_headline_is_red_and_mentions_come_first(user_env):
    grace = user_env.user("grace")
    ch = user_env.channel_id("general")
    with pytest.raises(ValueError), zn.notify("etl", to_channel=ch, mentions=[grace["email"]],
                                              show=False):
        raise ValueError("bad row")
    from zoom_notebook.outbox import get_outbox

    assert get_outbox().flush(10)
    (stored,) = user_env.messages()
    text = stored["message"]
    first = text.split("\n")[0]
    bold, colour = stored["rich_text"]
    assert text[bold["start_position"]:bold["end_position"]].startswith("❌ etl failed after")
    assert bold["end_position"] == len(first) and colour["format_attr"] == "CF222E"
    mention = stored["at_items"][0]
    assert mention["start_position"] == 0 and bold["start_position"] > mention["end_position"]


def test_the_parser_loads_only_on_first_use():
    code = ("import zoom_notebook, sys\n"
            "assert 'markdown_it' not in sys.modules\n"
            "from zoom_notebook.markdown import to_rich_text\n"
            "to_rich_text('plain')\n"
            "assert 'markdown_it' not in sys.modules  # nothing to parse\n"
            "to_rich_text('**b**')\n"
            "assert 'markdown_it' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_issue24_finding_13_links_zoom_would_refuse_and_styles_a_quote_clears():
    """`[text](https://)` keeps its text, unlinked (Zoom refuses the whole message for an
    AddLink that is not a valid URL); inside a Quote only links, lists and italics are
    sent (the spec's format rules 4 and 5)."""
    from zoom_notebook.markdown import to_rich_text

    assert to_rich_text("[text](https://)") == ("text", [])
    assert to_rich_text("[t](http:// x)")[1] == []
    text, items = to_rich_text("> **bold** and ~~gone~~ with [a link](https://a.com), *it*")
    kinds = {i["format_type"] for i in items}
    assert kinds == {"Quote", "AddLink", "Italic"} and text.startswith("bold and gone")


def test_issue24_finding_13_a_cut_headline_is_coloured_up_to_the_cut(user_env):
    from zoom_notebook import api

    long_first_line = "❌ " + "x" * 700
    draft = api.prepare(long_first_line + "\nTraceback …", to_channel=user_env.channel_id(
        "general"), fit=True, headline="failed")
    first = draft.payload["message"].split("\n", 1)[0]
    for item in draft.payload["rich_text"]:
        assert item["end_position"] <= len(first), item
