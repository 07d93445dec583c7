"""Every benchmark in one run: prints one table and writes docs/performance.md.

Run: ``./scripts/bench`` (or ``.venv/bin/python benchmarks/run_all.py [--quick]``).
About 20 minutes on the 2-core CI machine (the fault soak and crash test are most of it);
``--quick`` runs small sizes (a smoke test); ``--only "Talking back"`` re-runs sections and
puts their rows in the existing page.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # the harnesses the tests share: tests/harness

import fleet  # noqa: E402
import fuzz  # noqa: E402
import lab  # noqa: E402
import memory  # noqa: E402
import notebook_overhead  # noqa: E402
import recovery  # noqa: E402
import rich_text as markdown_bench  # noqa: E402
import send_throughput  # noqa: E402
import talkback  # noqa: E402

from tests.harness import crash, interrupt_fuzz, secrets_audit, soak, token_soak  # noqa: E402

Row = tuple[str, str, str]


def machine() -> str:
    mem = ""
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return (f"{platform.machine()}, {os.cpu_count()} cores{mem}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def section(title: str, rows: list[Row], seconds: float) -> list[Row]:
    return [(f"**{title}** ({seconds:.0f} s)", "", ""), *rows]


def run(quick: bool, only: list[str] | None = None) -> tuple[list[Row], list[str]]:
    n = (lambda full, small: small if quick else full)  # noqa: E731
    rows: list[Row] = []
    outputs: list[str] = []

    def timed(title: str, fn: Any, debug_log: bool = False) -> None:
        if only and title.split(" (")[0] not in only:
            return
        # Debug logging (scanned by the secrets audit) is on where logins and retries
        # happen, and off where it would distort a timing.
        logging.getLogger().setLevel(logging.DEBUG if debug_log else logging.WARNING)
        start = time.perf_counter()
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            got = fn()
        outputs.append(buffer.getvalue())
        rows.extend(section(title, got, time.perf_counter() - start))
        print(f"  done: {title}", file=sys.stderr, flush=True)

    def sending() -> list[Row]:
        t = send_throughput.throughput(n(2000, 200))
        lim = send_throughput.limited(n(300, 60))
        return [("bare `requests.Session`, msg/s", f"{t['bare']:.0f}", ""),
                ("`zn.send`, msg/s", f"{t['zn']:.0f}", ""),
                ("`zn.send` / bare", f"{t['ratio']:.2f}", "≥ 0.90"),
                ("at a 20/s account limit: sent / capacity of the windows used",
                 f"{lim['ratio']:.2f}", "≥ 0.95"),
                ("at a 20/s limit: 429s seen / lost / duplicated",
                 f"{lim['429s']} / {lim['lost']} / {lim['duplicated']}", "- / 0 / 0")]

    def notebook() -> list[Row]:
        t = notebook_overhead.load_ext_times(n(15, 5))
        empty, ours = t["empty"] or 0.0, t["zoom_notebook"] or 0.0
        other = "not installed" if t["jupyternotify"] is None else f"{t['jupyternotify']:.1f}"
        off, on = notebook_overhead.per_cell_overhead_us(n(250, 50))
        base, alert = notebook_overhead.alert_gap_ms(n(20, 5))
        return [("`%load_ext` empty extension / zoom_notebook / jupyternotify, ms",
                 f"{empty:.2f} / {ours:.2f} / {other}", ""),
                ("`%load_ext zoom_notebook` − empty extension, ms", f"{ours - empty:.2f}",
                 "≤ 2"),
                ("a cell without / with autonotify (not firing), µs",
                 f"{off:.1f} / {on:.1f}", ""),
                ("autonotify added per cell, µs", f"{on - off:.1f}", "≤ 50"),
                ("end of cell → next cell: no alert / alert with Zoom slow 2 s, ms",
                 f"{base:.2f} / {alert:.2f}", "≤ 5")]

    def rich_text() -> list[Row]:
        r = markdown_bench.run(n(100, 20))
        return [(f"Markdown → rich text, a 1,000-character message ({r['styles']:.0f} styles), µs",
                 f"{r['convert us']:.0f}", "< 1000"),
                ("first conversion in a process (loads markdown-it-py; `%load_ext` does not), "
                 "ms", f"{r['first use ms']:.1f}", ""),
                ("one send of that message to the sandbox on 127.0.0.1, ms",
                 f"{r['send ms']:.2f}", ""),
                ("conversion / the quickest possible send", f"{r['share of a send']:.2f}", "")]

    def asking() -> list[Row]:
        r = talkback.run()
        return [("thread reads per minute while `zn.ask` waits 10 min (minutes 1…10)",
                 " ".join(map(str, r["per minute"])), ""),
                ("reads per minute after the first minute, at most",
                 str(r["max after first"]), "≤ 4"),
                ("three asks waiting at once: reads in all / one ask's",
                 f"{r['three total']} / {r['total']}", "≈ 1 ×"),
                ("an hour of waiting: reads (a Free account's Medium limit: 2,000 a day)",
                 f"{r['per hour']:.0f}", ""),
                ("a loop of short stoppable bars: thread reads per minute (was 20)",
                 str(r["bars per minute"]), "≤ 8"),
                ("`zn.progress(every=0)` over a tight loop: edits per second, the final "
                 "aside (was 46)",
                 f"{r['edits per second']:.2f}", "≤ 1")]

    def fleet_rows() -> list[Row]:
        r = fleet.run()
        p, u = r["paced"], r["unpaced"]
        return [(f"{fleet.PROCESSES} processes × {fleet.THREADS} threads, alerts into ONE "
                 "channel (flood limits on): delivered / twice, paced by the shared ledger",
                 f"{p['delivered']} of {p['expected']} / {p['twice']}", "all / 0"),
                ("paced: 429s seen / achieved rate ÷ what the channel allows",
                 f"{p['429s']} / {p['ratio']:.2f}", "0 / ≥ 0.9"),
                ("unpaced (each process learns from its own 429): 429s / achieved ÷ allowed",
                 f"{u['429s']} / {u['ratio']:.2f}", "")]

    def mem() -> list[Row]:
        m = memory.run(n(1000, 200), n(10_000, 1000))
        return [("peak memory after 1,000 sends: bare requests / `%load_ext` + zn.send, MiB",
                 f"{m['bare peak MiB']:.1f} / {m['zn peak MiB']:.1f}", ""),
                ("memory growth from 1,000 to 10,000 sends, MiB",
                 f"{m['growth 1k->10k MiB']:.1f}", "≈ 0")]

    def faults() -> list[Row]:
        result = soak.run(n(10_000, 600), n(10_000, 300), 0.2)
        return soak.table(result)

    def crashes() -> list[Row]:
        r = crash.run(kills=n(200, 12), kernel_kills=n(10, 2))
        return [(f"SIGKILL {r['kills']} processes ({r['kernel kills']} of them Jupyter "
                 f"kernels; {r['killed mid-request']} with a request in flight): messages "
                 "accepted / arrived", f"{r['accepted']} / {r['arrived']}", ""),
                ("after the kills: lost / duplicated / progress not showing its last edit",
                 f"{r['lost']} / {r['duplicated']} / {r['stale progress']}", "0 / 0 / 0"),
                ("after the kills: still kept in the outbox (shown, not delivered)",
                 str(r["kept"]), "0")]

    def lab_rows() -> list[Row]:
        r = lab.run(loads=n(5, 2), kills=n(3, 1))
        cost = r["load with"] - r["load without"]
        return [("JupyterLab showing a notebook (reload, warm): without / with the "
                 "extension, s (medians)", f"{r['load without']:.2f} / {r['load with']:.2f}",
                 ""),
                ("the extension's cost to the page load, s", f"{cost:+.2f}", "≤ 0.3"),
                (f"a kernel SIGKILLed -> its Zoom message (the server's restarter), s: "
                 f"median / max of {r['kills']}",
                 f"{r['kill median']:.1f} / {r['kill max']:.1f}", "≤ 10")]

    def recover() -> list[Row]:
        r = recovery.run(rounds=n(3, 1))
        return [("a process SIGKILLed with 10 alerts queued, one in flight (Zoom slow): the "
                 f"never-tried ones out after the next process starts, s (max of "
                 f"{r['rounds']})", f"{r['never tried max']:.1f}", "≤ 5"),
                ("the one that may have been in flight: read back and out after, s",
                 f"{r['in flight max']:.1f}", "≤ 20"),
                ("recovered messages: arrived / expected / twice",
                 f"{r['arrived']} / {r['expected']} / {r['twice']}", "all / 0")]

    def interrupts() -> list[Row]:
        r = interrupt_fuzz.run(points=n(200, 20))
        ops = ", ".join(f"{k} {v}" for k, v in r["landed by operation"].items())
        return [(f"kernel interrupted (Stop, `%xmode Verbose`) at {r['points']} points inside "
                 f"operations ({ops}; {r['tried']} tries): secrets in the saved notebook, of "
                 f"{r['secrets issued']} issued", str(r["secrets found"]), "0"),
                ("interrupt fuzz: `Basic ` headers or token bodies in the saved notebook",
                 str(len(r["markers found"])), "0")]

    def tokens() -> list[Row]:
        r = token_soak.standalone(n(100, 10))
        return [(f"token soak, 8 processes × 4 threads × {r['rounds']} rotations: refresh "
                 "calls per rotation", ",".join(map(str, r["refresh calls per rotation"])),
                 "1"),
                ("token soak: invalid_grant / messages delivered once of expected",
                 f"{r['invalid_grant']} / {r['messages'] - r['duplicated']} of "
                 f"{r['expected']}", "0 / all")]

    def fuzzing() -> list[Row]:
        return [(f"fuzz {r['name']}: unexpected exceptions in {r['examples']:,} examples",
                 str(r["unexpected"]), "0") for r in fuzz.run(n(10_000, 500))]

    timed("Sending", sending)
    timed("The notebook side", notebook)
    timed("Markdown", rich_text)
    timed("Talking back", asking)
    timed("A fleet on one channel", fleet_rows)
    timed("Memory", mem)
    timed("Fault soak (20% of requests faulted)", faults, debug_log=True)
    timed("Crash test (SIGKILL at random moments)", crashes)
    timed("Recovery after SIGKILL", recover)
    timed("The JupyterLab extension", lab_rows)
    timed("Interrupt fuzz (SECURITY.md 30)", interrupts)
    timed("Token soak", tokens, debug_log=True)
    timed("Fuzzing", fuzzing)
    return rows, outputs


def render(rows: list[Row], total: float, quick: bool) -> str:
    lines = ["| benchmark | figure | goal |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join([
        "# Performance and reliability",
        "",
        "<!-- Written by benchmarks/run_all.py; do not edit by hand. -->",
        "",
        "Every figure comes from `./scripts/bench` (`benchmarks/run_all.py`), each next to "
        "its baseline measured in the same run, against the local sandbox on 127.0.0.1.",
        "",
        f"Machine: {machine()}. Whole run: {total / 60:.1f} minutes"
        + (" (quick sizes)." if quick else "."),
        "",
        *lines,
        "",
        (HERE / "NOTES.md").read_text(encoding="utf-8").strip(),
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument("--only", nargs="+", metavar="SECTION",
                        help="re-run these sections (e.g. 'Talking back') and replace their "
                             "rows in the existing page, keeping the others")
    args = parser.parse_args()
    if args.only:
        rerun_sections(args.only, Path(args.out), args.quick)
        return
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "benchmarks.log"
        logging.basicConfig(level=logging.DEBUG, filename=log, force=True)
        rows, outputs = run(args.quick)
        audit_start = time.perf_counter()
        paths = secrets_audit.execute_notebooks(Path(tmp))
        table_so_far = "\n".join(f"{a} {b} {c}" for a, b, c in rows)
        audit = secrets_audit.scan([*paths, log], {
            f"benchmark output {i}": text for i, text in enumerate(outputs)}
            | {"the table": table_so_far})
        rows.extend(section("Secrets audit", [
            (f"secrets found in {audit['sources']} notebooks, logs and outputs "
             f"({audit['secrets']} secrets issued)", str(audit["hits"]), "0")],
            time.perf_counter() - audit_start))
    total = time.perf_counter() - start
    width = max(len(a) for a, _, _ in rows) + 2
    print(f"{'benchmark':<{width}}{'figure':>22}  goal")
    for a, b, c in rows:
        print(f"{a:<{width}}{b:>22}  {c}")
    Path(args.out).write_text(render(rows, total, args.quick), encoding="utf-8")
    print(f"\nwrote {args.out} ({total / 60:.1f} minutes)")


def rerun_sections(only: list[str], out: Path, quick: bool) -> None:
    """Run some sections again and put their rows in place of the old ones (new
    sections go before the secrets audit); the rest of the page is kept as it was."""
    logging.basicConfig(level=logging.WARNING, force=True)
    rows, _ = run(quick, only)
    fresh: dict[str, list[str]] = {}
    for a, b, c in rows:
        if a.startswith("**"):
            current = fresh.setdefault(a[2:].split("**")[0], [])
        current.append(f"| {a} | {b} | {c} |")
    lines = out.read_text(encoding="utf-8").splitlines()
    result: list[str] = []
    skipping = False
    for line in lines:
        title = line[4:].split("**")[0] if line.startswith("| **") else None
        if title is not None:
            skipping = title in fresh
            if title == "Secrets audit":
                for name in [n for n in fresh if n not in "\n".join(lines)]:
                    result += fresh.pop(name)
            if skipping:
                result += fresh.pop(title)
                continue
        elif skipping and line.startswith("| ") and not line.startswith("| **"):
            continue
        else:
            skipping = False
        result.append(line)
    last_row = max(i for i, line in enumerate(result) if line.startswith("| "))
    notes = (HERE / "NOTES.md").read_text(encoding="utf-8").strip()
    out.write_text("\n".join([*result[:last_row + 1], "", notes, ""]), encoding="utf-8")
    print(f"wrote {out} (re-ran: {', '.join(only)})")


if __name__ == "__main__":
    main()
