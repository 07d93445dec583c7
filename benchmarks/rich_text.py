"""What Markdown costs a message, next to what sending it costs.

1. ``to_rich_text`` on a 1,000-character message with every construct (headings, bold,
   italic, strikethrough, lists, a quote, links, a code span, emoji and CJK text), once the
   parser is loaded (goal: under 1 ms).
2. The first conversion in a fresh process, which loads markdown-it-py (``%load_ext`` does
   not: the parser loads on first use, see notebook_overhead.py).
3. One send of the same message to the sandbox on 127.0.0.1 (Markdown off), the smallest
   round trip a message can have: the ratio says how much of a send the conversion is.

Run: ``.venv/bin/python benchmarks/rich_text.py``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

BLOCK = ("## Run 42 📈 結果\n\n"
         "**Model v2** beats *the baseline* by ~~3~~ **4.2 points** on 検証データ 🎉\n\n"
         "- accuracy *93.1%* (was 88.9%)\n- loss `0.21` → `0.17`\n- see [the report]"
         "(https://example.com/report)\n\n1. retrain nightly\n2. ship on **Friday**\n\n"
         "> 注意: the eval set is small 🙂\n\n")


def message(size: int = 1000) -> str:
    text = ""
    while len(text) + len(BLOCK) <= size:
        text += BLOCK
    return text + "x" * (size - len(text))


def convert_us(runs: int) -> tuple[float, int]:
    from zoom_notebook.markdown import to_rich_text

    text = message()
    to_rich_text(text)  # the parser is loaded once per process
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        _, styles = to_rich_text(text)
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times), len(styles)


def first_use_ms(runs: int) -> float:
    code = ("import time\nfrom zoom_notebook.markdown import to_rich_text\n"
            f"t = time.perf_counter(); to_rich_text({message()!r})\n"
            "print((time.perf_counter() - t) * 1000)")
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.strip()) for _ in range(runs))


def send_ms(runs: int) -> float:
    import zoom_notebook as zn
    from zoom_notebook.config import Settings
    from zoom_notebook.sandbox import Sandbox

    with Sandbox(channel_limits=False) as sb:
        settings = Settings.load(environ={**os.environ, **sb.env(),
                                          "ZOOM_ACCESS_TOKEN": sb.issue_token()})
        channel = sb.channel_id("general")
        text = message()
        zn.send(text, to_channel=channel, markdown=False, settings=settings)  # warm up
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            zn.send(text, to_channel=channel, markdown=False, settings=settings)
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(runs: int) -> dict[str, float]:
    us, styles = convert_us(runs * 20)
    first = first_use_ms(max(3, runs // 20))
    send = send_ms(runs)
    return {"convert us": us, "styles": styles, "first use ms": first, "send ms": send,
            "share of a send": us / 1000 / send}


def main() -> None:
    r = run(100)
    print(f"Markdown -> rich text, 1,000 characters ({r['styles']:.0f} styles), us: "
          f"{r['convert us']:.0f} (goal < 1000)")
    print(f"first conversion in a fresh process (loads markdown-it-py), ms: "
          f"{r['first use ms']:.1f}")
    print(f"one send of it to the sandbox on 127.0.0.1, ms: {r['send ms']:.2f}")
    print(f"conversion / send: {r['share of a send']:.2f}")


if __name__ == "__main__":
    main()
