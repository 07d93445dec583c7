"""Interrupt fuzz (SECURITY.md 30): a real Jupyter kernel, in ``%xmode Verbose``, is
interrupted (the notebook's Stop button: SIGINT through jupyter_client) at random moments
of a paste login's code exchange, a refresh before a send, a device login's polling and
exchange, a plain send and a ``%%zoomchat`` cell. Every cell and its outputs go into one
notebook, which is saved and then scanned for every secret the sandbox issued or received
(client secret, codes, code verifiers, device codes, access and refresh tokens) and for
``Basic `` headers and ``refresh_token=`` bodies.

The sandbox answers slowly at random (0.05-0.4 s) so interrupts land inside requests,
not only between them. A point counts when the cell ended in KeyboardInterrupt (the
interrupt landed inside the operation); the run goes on until ``points`` have landed.

Run: ``.venv/bin/python tests/harness/interrupt_fuzz.py [--points 200]``
"""

from __future__ import annotations

import argparse
import collections
import os
import queue
import random
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SETUP = """%xmode Verbose
import os
import zoom_notebook as zn
from zoom_notebook.sandbox import approve
%load_ext zoom_notebook
CH = os.environ["CH"]"""

#: operation -> (cell run first, not interrupted; the cell that is interrupted)
OPERATIONS: dict[str, tuple[str, str]] = {
    "paste login (code exchange)": (
        "prompt = zn.login(method='paste')\nprompt.field.value = approve(prompt.authorize_url)",
        "prompt.button.click()\nprompt.status"),
    "refresh, then send": ("", "zn.send('after a refresh', to_channel=CH)"),
    "device login (polling, exchange)": ("", "zn.login(method='device')"),
    "send": ("", "zn.send('a plain send', to_channel=CH)"),
    "%%zoomchat cell": ("", "%%zoomchat -c {ch}\nprint('the cell ran')"),
}
MARKERS = ("Basic ", "refresh_token=", "code_verifier=", "client_secret=")


class Kernel:
    """One kernel, its iopub messages turned into notebook outputs cell by cell."""

    def __init__(self, env: dict[str, str], cwd: str) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=cwd)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, source: str, *, interrupt_after: float | None = None,
            on_text: Any = None, timeout: float = 60) -> tuple[list[Any], float]:
        """Execute ``source``; interrupt it after ``interrupt_after`` seconds; its
        outputs and how long it ran."""
        import nbformat

        msg_id = self.kc.execute(source)
        start = sent = time.monotonic()
        busy = False  # interrupts are timed from the moment the cell starts running
        interrupted = interrupt_after is None
        outputs: list[Any] = []
        while True:
            if busy and not interrupted and (
                    time.monotonic() - start >= interrupt_after):  # type: ignore[operator]
                self.km.interrupt_kernel()
                interrupted = True
            wait = 0.02 if not interrupted else 1.0
            try:
                msg = self.kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                assert time.monotonic() - sent < timeout, f"cell hung: {source!r}"
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "busy":
                busy, start = True, time.monotonic()
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                elapsed = time.monotonic() - start
                break
            if kind in {"stream", "display_data", "execute_result", "error",
                        "update_display_data"}:
                if kind == "update_display_data":  # kept as one more output: every
                    kind = "display_data"  # version is scanned, not only the last
                    msg["header"]["msg_type"] = msg["msg_type"] = kind
                outputs.append(nbformat.v4.output_from_msg(msg))
                if on_text is not None and kind == "stream":
                    on_text(msg["content"]["text"])
        while True:  # its execute_reply (others, if any, are stale)
            try:
                reply = self.kc.get_shell_msg(timeout=5)
            except queue.Empty:  # an interrupt that lands in ipykernel itself, after the
                return outputs, elapsed  # cell, loses the reply ("caught in kernel")
            if reply["parent_header"].get("msg_id") == msg_id:
                return outputs, elapsed

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)
        self.km.cleanup_resources()


def run(points: int = 200, seed: int = 1, keep: Path | None = None) -> dict[str, Any]:
    import nbformat

    from zoom_notebook.sandbox import Sandbox
    from zoom_notebook.sandbox.faults import Fault

    rng = random.Random(seed)
    landed: collections.Counter[str] = collections.Counter()
    tried: collections.Counter[str] = collections.Counter()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Sandbox(channel_limits=False) as sb:
        home = Path(tmp) / "home"
        ch = sb.channel_id("general")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZOOM_")}
        env.update(sb.env())
        env.update({"ZOOM_CLIENT_SECRET": sb.client_secret, "ZOOM_NOTEBOOK_HOME": str(home),
                    "CH": ch, "PYTHONUNBUFFERED": "1"})
        sb.configure(device_interval=0.1)
        sb.faults.set_random(0.7, [Fault("delay", seconds=s) for s in (0.05, 0.15, 0.4)],
                             seed=seed)
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        kernel = Kernel(env, tmp)

        def cell(source: str, **options: Any) -> tuple[list[Any], float]:
            outputs, elapsed = kernel.run(source, **options)
            code = nbformat.v4.new_code_cell(source)
            code.outputs = outputs
            nb.cells.append(code)
            return outputs, elapsed

        def approver(text: str) -> None:  # the person typing the device code, a bit later
            found = re.search(r"enter the code (\S+)", text)
            if found:
                code = found.group(1)

                def later() -> None:
                    time.sleep(rng.uniform(0.0, 0.6))
                    try:
                        sb.approve_device(code)
                    except Exception:  # the login was interrupted and its code is gone
                        pass
                threading.Thread(target=later, daemon=True).start()

        try:
            cell(SETUP)
            first = OPERATIONS["paste login (code exchange)"]
            cell(first[0])
            cell(first[1])  # logged in once, uninterrupted, so refreshes have a token
            names = list(OPERATIONS)
            # how long each operation takes when it runs to the end: interrupts are drawn
            # from that span, so they land inside it
            span = dict.fromkeys(names, 0.9)
            i = 0
            while sum(landed.values()) < points and i < 4 * points:
                name = names[i % len(names)]
                i += 1
                before, during = OPERATIONS[name]
                if before:
                    cell(before)
                if name == "refresh, then send":
                    sb.expire_access_tokens()
                tried[name] += 1
                outputs, elapsed = cell(
                    during.format(ch=ch), interrupt_after=rng.uniform(0.0, span[name]),
                    on_text=approver if "device" in name else None)
                if any(o.get("ename") == "KeyboardInterrupt" for o in outputs):
                    landed[name] += 1
                else:
                    span[name] = 0.7 * span[name] + 0.3 * elapsed
        finally:
            kernel.close()
        path = Path(tmp) / "interrupted.ipynb"
        nbformat.write(nb, path)
        saved = path.read_text(encoding="utf-8")
        if keep is not None:
            keep.write_text(saved, encoding="utf-8")
        secrets = {s for s in sb.secrets() if len(s) >= 8}
        hits = sorted({s[:6] + "…" for s in secrets if s in saved})
        markers = [m for m in MARKERS if m in saved]
        verbose_frames = saved.count("<hidden>")
    return {"tried": sum(tried.values()), "points": sum(landed.values()),
            "landed by operation": dict(landed), "tried by operation": dict(tried),
            "secrets issued": len(secrets), "secrets found": len(hits), "found": hits,
            "markers found": markers, "hidden values shown": verbose_frames,
            "notebook bytes": len(saved), "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="also save the notebook here")
    args = parser.parse_args()
    result = run(args.points, args.seed, args.keep)
    for key, value in result.items():
        print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
