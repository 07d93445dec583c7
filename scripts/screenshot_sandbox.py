"""Make docs/images/sandbox.png: the sandbox page after the demo's messages (needs Debian
chromium). Run: .venv/bin/python scripts/screenshot_sandbox.py"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import zoom_notebook as zn
from zoom_notebook.config import Settings
from zoom_notebook.sandbox import Sandbox

OUT = Path(__file__).resolve().parent.parent / "docs" / "images" / "sandbox.png"

with Sandbox() as sb:
    settings = Settings.load(environ={**os.environ, **sb.env(server_to_server=True)})
    grace, alan = sb.user("grace"), sb.user("alan")
    ds = sb.channel_id("data-science")
    zn.send("Model training finished: accuracy 0.93. @Grace Hopper can you review?",
            to_channel=ds, mentions={"Grace Hopper": grace["email"]}, settings=settings)
    zn.send("12 epochs, 41 minutes. Loss curve attached.", to_channel=ds, reply_to="last",
            files=[("loss.csv", b"epoch,loss\n1,0.9\n2,0.5\n3,0.3\n")], settings=settings)
    zn.send("Nightly ETL failed at step 3 (KeyError: 'region') @all", to_channel=sb.channel_id(
        "alerts"), mentions=["all"], settings=settings)
    zn.send("Your notebook finished: 2 h 14 min", to_contact=alan["email"], settings=settings)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([shutil.which("chromium") or "chromium", "--headless", "--no-sandbox",
                        "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
                        "--window-size=1000,760", f"--screenshot={OUT}", sb.url + "/"],
                       check=True, capture_output=True, timeout=60)
print(OUT)
