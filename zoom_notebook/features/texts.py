"""What alerts say: every alert text is written here, so a cell reads the same from every
path — ``%%zoomchat``, autonotify, ``zn.notify``, ``zn.progress`` and the tqdm and Dask bars,
the Dask plugin, ``zoom-notebook run`` and the watchdog's notes. ✅ / ❌ / ⏹ / ▶️ open the
headline (``alerts.post_alert`` colours ✅ green and ❌ red). Pure: no I/O."""

from __future__ import annotations

from typing import Any, Sequence

from zoom_notebook.features.context import duration


def cell(count: int | str, took: float, failed: bool, where: str, body: str = "") -> str:
    """One cell that ended: ``✅ In [3] finished in 2 min 5 s (where)`` or ``❌ … failed
    after …``, then what it printed (and, failed, its traceback's last lines)."""
    verb = f"failed after {duration(took)}" if failed else f"finished in {duration(took)}"
    head = f"{'❌' if failed else '✅'} In [{count}] {verb} ({where})"
    return head + ("\n" + body if body else "")


def cells(ran: Sequence[Any], where: str) -> str:
    """A batch of cells (autonotify): one cell as itself; several as the run, its total time
    and the failing cell (or the slowest and the last cell's output). Each item has
    ``count``, ``took``, ``failed`` and ``body``."""
    if len(ran) == 1:
        (c,) = ran
        return cell(c.count, c.took, c.failed, where, c.body)
    total = duration(sum(c.took for c in ran))
    span = f"In [{ran[0].count}]–[{ran[-1].count}]"
    bad = next((c for c in ran if c.failed), None)
    if bad is not None:
        n = list(ran).index(bad) + 1
        head = (f"❌ In [{bad.count}] failed after {duration(bad.took)}: cell {n} of a run of "
                f"{len(ran)} cells ({span}, {total} in all; {where})")
        return head + ("\n" + bad.body if bad.body else "")
    slowest = max(ran, key=lambda c: c.took)
    head = (f"✅ {len(ran)} cells finished in {total} ({span}; {where})\n"
            f"slowest: In [{slowest.count}], {duration(slowest.took)}")
    last = ran[-1]
    return head + (f"\nIn [{last.count}]: {last.body}" if last.body else "")


def block(name: str, took: float, where: str, error: str | None = None) -> str:
    """``zn.notify``: a block or function that ended (``error``: its traceback's end)."""
    if error is None:
        return f"✅ {name} finished in {duration(took)} ({where})"
    return f"❌ {name} failed after {duration(took)} ({where})\n{error}"


def progress_done(desc: str, n: int, of: str, took: str) -> str:
    return f"✅ {desc}: done, {n}{of} in {took}"


def progress_stopped(desc: str, n: int, of: str, took: str, why: str = "") -> str:
    return f"⏹ {desc}: stopped at {n}{of} after {took}{why}"


def progress_failed(desc: str, n: int, of: str, took: str, detail: str) -> str:
    return f"❌ {desc}: failed at {n}{of} after {took}\n{detail}"


def run_started(what: str) -> str:
    return f"▶️ {what}: started"


def run_done(what: str, took: float) -> str:
    return f"✅ {what}: finished in {duration(took)}"


def run_interrupted(what: str, took: float) -> str:
    return f"⏹ {what}: interrupted after {duration(took)}"


def run_failed_in_cell(what: str, cell_no: int, count: Any, output: str, took: float,
                       error: str, tail: str) -> str:
    return (f"❌ {what}: failed in cell {cell_no} (In [{count}] of {output}) after "
            f"{duration(took)}\n{error}\n{tail}")


def run_broken(what: str, took: float, cause: str) -> str:
    return f"❌ {what}: could not run to the end after {duration(took)}\n{cause}"


def cluster_lines(lines: Sequence[str]) -> str:
    """Problems on a Dask cluster, coalesced: the first ten, then how many more."""
    shown = list(lines[:10]) + ([f"… and {len(lines) - 10} more"] if len(lines) > 10 else [])
    return "\n".join(shown)


def cluster_problems(desc: str, where: str, lines: Sequence[str]) -> str:
    """The Dask plugin's first message (later ones reply to it with ``cluster_lines``)."""
    return f"❌ {desc} cluster: {len(lines)} problem(s) ({where})\n" + cluster_lines(lines)


def kernel_died(notebook: str, host: str, running: str | None = None) -> str:
    """The Jupyter server saw the kernel of a watched notebook die (SIGKILL, OOM, crash)."""
    during = f"; {running} was running" if running else ""
    return (f"❌ {notebook} on {host}: the kernel died{during}. Jupyter restarts it; "
            "what was in memory is gone.")
