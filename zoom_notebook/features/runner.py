"""``zoom-notebook run NOTEBOOK.ipynb``: execute a notebook with papermill (the
``papermill`` extra) and post its start, then its end or failure, in ONE Zoom thread.

The failure names the cell (``In [N]``), the error and the last lines of its traceback;
the output notebook is attached to the last message either way. The exit status is
papermill's (0 done, 1 failed). Zoom being unreachable never stops the run: what could not
be posted is kept in the outbox (text only) and delivered later.

The kernel gets ``JPY_SESSION_NAME`` (the notebook's name) and
``ZOOM_NOTEBOOK_PARAMETERS`` (its parameters as JSON), so the alerts the notebook posts
itself (``zn.notify``, ``autonotify``) say which notebook and parameters they come from.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from zoom_notebook.core.config import Settings
from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.secret import remember_secret
from zoom_notebook.features import texts
from zoom_notebook.features.context import (
    PARAMETERS_ENV,
    SECRET_NAME,
    check_names,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run(notebook: str, *, parameters: dict[str, Any] | None = None,
        output: str | None = None, to_channel: str | None = None,
        to_contact: str | None = None, settings: Settings | None = None) -> int:
    from zoom_notebook.delivery import draft as building
    from zoom_notebook.features.context import resolve_target, where_and_when

    source = Path(notebook).absolute()  # "-x.ipynb" is a file, not papermill's stdin
    if source.suffix != ".ipynb" or not source.is_file():
        raise ValidationError("NOTEBOOK", f"{notebook}: give the path of an existing .ipynb")
    _check_readable(source)
    out = (Path(output) if output else source.with_name(f"{source.stem}-output.ipynb")
           ).absolute()
    if out.resolve() == source.resolve():
        raise ValidationError("--output", "the output must not overwrite the notebook")
    if not out.parent.is_dir():
        raise ValidationError("--output", f"the folder {out.parent} does not exist: create "
                                          "it (mkdir -p) or choose another --output")
    params = dict(parameters or {})
    check_names(params)
    settings = settings or Settings.load()
    target = resolve_target(to_channel, to_contact, settings)
    try:
        import papermill
    except ImportError:
        from zoom_notebook.core.errors import install_hint

        raise ValidationError("run", "zoom-notebook run needs papermill: "
                                     + install_hint("papermill")) from None
    building.prepare("x", settings=settings, **target)  # the target is checked before the run
    # The kernel inherits these: its own alerts name the notebook and its parameters,
    # as ours do ("train.ipynb on gpu-01 (epochs=3)").
    os.environ["JPY_SESSION_NAME"] = str(source)
    secret = {k for k in params if SECRET_NAME.search(k)}
    for name in secret:  # never posted: masked in the names, redacted from the output
        remember_secret(str(params[name]))
    os.environ[PARAMETERS_ENV] = json.dumps(
        {k: "***" if k in secret else v for k, v in params.items()}, default=str)
    what = where_and_when()
    start = _post(texts.run_started(what), target, settings)
    began = time.monotonic()
    try:
        papermill.execute_notebook(str(source), str(out), parameters=params,
                                   progress_bar=False, log_output=False)
    except KeyboardInterrupt:
        _post(texts.run_interrupted(what, time.monotonic() - began), target, settings,
              reply_to=start, files=[out])
        raise
    except papermill.PapermillExecutionError as exc:
        took = time.monotonic() - began
        lines = [_ANSI.sub("", line) for line in exc.traceback]
        tail = "\n".join("\n".join(lines).strip().splitlines()[-8:])
        cell = _source_cell(out, exc.cell_index)
        _post(texts.run_failed_in_cell(what, cell, exc.exec_count, out.name, took,
                                       f"{exc.ename}: {exc.evalue}", tail),
              target, settings, reply_to=start, files=[out])
        print(f"{source.name} failed in cell {cell}: {exc.ename}: {exc.evalue} (output: "
              f"{out})", file=sys.stderr)
        return 1
    except Exception as exc:  # a dead kernel, a missing kernelspec, a full disk, …
        cause = _cause(exc)
        _post(texts.run_broken(what, time.monotonic() - began, cause), target, settings,
              reply_to=start, files=[out])
        print(f"{source.name} did not run to the end: {cause}", file=sys.stderr)
        return 1
    _post(texts.run_done(what, time.monotonic() - began), target, settings,
          reply_to=start, files=[out])
    print(f"{source.name} finished (output: {out})", file=sys.stderr)
    return 0


def _check_readable(source: Path) -> None:
    """A notebook papermill can read, checked before anything is posted."""
    import nbformat

    try:
        nbformat.read(str(source), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise ValidationError("NOTEBOOK", f"{source.name} is not a readable notebook "
                                          f"({type(exc).__name__}: {str(exc)[:120]})"
                              ) from None


def _cause(exc: BaseException) -> str:
    """One line: what ended the run (papermill's and jupyter_client's own words)."""
    text = " ".join(_ANSI.sub("", str(exc)).split())
    if type(exc).__name__ == "DeadKernelError":
        text = "the kernel died (killed, out of memory, or crashed)" + (
            f": {text}" if text else "")
    elif type(exc).__name__ == "NoSuchKernel":
        text = (f"no Jupyter kernel named {text}: install it, or name one that "
                "`jupyter kernelspec list` shows in the notebook's metadata")
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _source_cell(output: Path, index: int) -> int:
    """The failing cell's number in the notebook as written (1-based): papermill's index
    counts the "injected-parameters" cell it added to the output."""
    try:
        import nbformat

        cells = nbformat.read(str(output), as_version=4).cells  # type: ignore[no-untyped-call]
        injected = [i for i, c in enumerate(cells)
                    if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    except Exception:  # an unreadable output: papermill's own count
        return index + 1
    return index + 1 - sum(1 for i in injected if i < index)


def _post(text: str, target: dict[str, Any], settings: Settings, *,
          reply_to: str | None = None, files: list[Path] | None = None) -> str | None:
    """Post now (so the thread exists), as the CLI's ``send`` does
    (``delivery.policy.NOW_KEEP``): a failure is said on stderr and the text kept in the
    outbox (the output notebook, a file, is not kept: it stays on disk)."""
    from zoom_notebook.delivery.draft import prepare
    from zoom_notebook.delivery.policy import NOW_KEEP, deliver_as
    from zoom_notebook.zoom.client import MAX_FILE_BYTES

    kept = [f for f in files or [] if f.is_file() and f.stat().st_size <= MAX_FILE_BYTES
            and "via" not in target]  # an Incoming Webhook post is text only
    draft = prepare(text, reply_to=reply_to, files=kept, settings=settings, markdown=False,
                    **target)
    outcome = deliver_as(draft, NOW_KEEP, show=False)
    if outcome.sent is None:
        print(f"zoom-notebook: could not post to Zoom now: {outcome.words}", file=sys.stderr)
        return None
    return outcome.sent.id
