"""The README's picture of the JupyterLab extension: the Zoom bell on a cell, the Zoom
panel with what was sent (JupyterLab + the sandbox, in Debian Chromium).
Run: .venv/bin/python scripts/screenshot_lab.py"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import browser_page  # noqa: E402
from tests.jupyter_server import jupyter, open_notebook, with_lab_extension  # noqa: E402
from tests.test_lab_extension import run_cell, set_bell, texts, write  # noqa: E402
from zoom_notebook.sandbox import Sandbox  # noqa: E402

OUT = ROOT / "docs" / "images" / "jupyterlab.png"


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="zn-shot-"))
    with Sandbox(channel_limits=False) as sb:
        env = with_lab_extension(tmp, {**sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
                                       "ZOOM_NOTEBOOK_HOME": str(tmp / "home")})
        nb = write(tmp / "train.ipynb",
                   ["import time\ntime.sleep(2)  # a long training step", "1 / 0",
                    "print('the bell is off here')"],
                   target={"to_channel": "#data-science"})
        with jupyter("lab", tmp, env, [nb]) as (base, token), browser_page() as page:
            page.set_viewport_size({"width": 1280, "height": 720})
            open_notebook(page, f"{base}/lab/tree/train.ipynb?token={token}", base, token)
            set_bell(page, 0, "when it ends")
            set_bell(page, 1, "when it fails")
            for i in range(2):
                run_cell(page, i)
            deadline = time.monotonic() + 30
            while len(texts(sb)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            page.locator("li[data-id='zoom-notebook-panel']").click()
            page.wait_for_selector("#zoom-notebook-panel .zn-sent li.zn-item")
            time.sleep(3.5)  # the panel's next refresh shows both as sent
            page.locator(".jp-Notebook .jp-Cell").nth(0).click()
            time.sleep(0.5)
            OUT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(OUT))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
