"""Fuzz the input parsers with hypothesis: the message builder, the magics' argument
parsers and the Retry-After parser, each with at least 10,000 examples. Every input must
give a result or the documented error; anything else is an unexpected exception.

Run: ``.venv/bin/python benchmarks/fuzz.py [--examples 10000]``
"""

from __future__ import annotations

import argparse
import shlex
import traceback
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _fuzz(name: str, strategy: Any, check: Callable[[Any], None], examples: int
          ) -> dict[str, Any]:
    unexpected: list[str] = []
    count = [0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def body(value: Any) -> None:
        count[0] += 1
        try:
            check(value)
        except Exception:
            unexpected.append(traceback.format_exc(limit=3))

    body()
    return {"name": name, "examples": count[0], "unexpected": len(unexpected),
            "first": unexpected[:1]}


def builder_input() -> Any:
    emails = st.from_regex(r"[a-z0-9._-]{1,12}@[a-z0-9-]{1,10}\.[a-z]{2,5}", fullmatch=True)
    text = st.one_of(st.text(max_size=1200), st.text(alphabet=st.characters(
        blacklist_categories=()), max_size=300))
    mentions = st.one_of(st.none(), st.text(max_size=20),
                         st.lists(st.one_of(emails, st.just("all"), st.text(max_size=20)),
                                  max_size=4),
                         st.dictionaries(st.text(max_size=20), st.one_of(emails, st.text()),
                                         max_size=4))
    target = st.one_of(st.fixed_dictionaries({"to_channel": st.text(max_size=10)}),
                       st.fixed_dictionaries({"to_contact": st.text(max_size=10)}),
                       st.just({}))
    return st.tuples(text, mentions, target, st.one_of(st.none(), st.text(max_size=5)))


def check_builder(value: Any) -> None:
    from zoom_notebook.errors import ValidationError
    from zoom_notebook.message import build_message, check_payload

    text, mentions, target, reply = value
    try:
        payload = build_message(text, mentions=mentions, reply_to=reply, **target)
    except ValidationError:
        return
    check_payload(payload)


def magic_input() -> Any:
    words = st.lists(st.one_of(
        st.sampled_from(["-c", "-t", "-r", "-m", "--message", "--compose", "--no-output",
                         "--dry-run", "-o", "last", "all", "send", "autonotify", "--after",
                         "--thread", "--off", "outbox", "--list", "login", "--device",
                         "status", "compose", "--", "-", "=", "x=y@z.co"]),
        st.text(max_size=12)), max_size=8)
    return st.tuples(st.booleans(), words)


def check_magic(value: Any) -> None:
    from zoom_notebook.magics import UsageError, cell_parser, line_parser, parse_mentions

    cell, words = value
    line = " ".join(shlex.quote(w) for w in words)
    parser = cell_parser() if cell else line_parser()
    try:
        args = parser.parse_args(shlex.split(line))
    except UsageError:
        return
    parse_mentions(getattr(args, "mentions", []) or [])


def check_retry_after(value: Any) -> None:

    from zoom_notebook.retry import parse_retry_after

    result = parse_retry_after(value)
    assert result is None or result.tzinfo is not None


def retry_after_input() -> Any:
    return st.one_of(st.text(max_size=40), st.integers().map(str),
                     st.floats(allow_nan=True).map(str),
                     st.datetimes().map(lambda d: d.isoformat() + "Z"),
                     st.datetimes().map(lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")))


def run(examples: int = 10_000) -> list[dict[str, Any]]:
    return [_fuzz("message builder", builder_input(), check_builder, examples),
            _fuzz("magic argument parsers", magic_input(), check_magic, examples),
            _fuzz("Retry-After parser", retry_after_input(), check_retry_after, examples)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=10_000)
    for r in run(parser.parse_args().examples):
        print(f"{r['name']:<28}{r['examples']:>8} examples {r['unexpected']:>4} unexpected")
        for tb in r["first"]:
            print(tb)


if __name__ == "__main__":
    main()
