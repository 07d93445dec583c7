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
    # what the sandbox shows besides: rich text, a figure, a reaction, a colleague's reply,
    # a scheduled draft (sent through the HTTP API, as any Zoom client would)
    import requests

    token = sb.issue_token()
    head = {"Authorization": f"Bearer {token}"}
    api = sb.api_url + "/chat/users/me/messages"
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.5), dpi=80)
    ax.plot([1, 2, 3, 4, 5], [0.81, 0.86, 0.88, 0.91, 0.93], marker="o")
    ax.set_title("validation accuracy")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    png = buf.getvalue()
    up = requests.post(sb.file_api_url + f"/chat/users/{sb.me['id']}/files", headers=head,
                       files={"file": ("accuracy.png", png, "image/png")}, timeout=10).json()
    text = "Weekly report\nAccuracy up 2 points; details in the dashboard"
    rich = [{"start_position": 0, "end_position": 13, "format_type": "Paragraph",
             "format_attr": "h2"},
            {"start_position": 14, "end_position": 34, "format_type": "Bold"},
            {"start_position": 51, "end_position": 60, "format_type": "AddLink",
             "format_attr": "https://example.com/dashboard"}]
    mid = requests.post(api, headers=head, timeout=10, json={
        "message": text, "rich_text": rich, "to_channel": ds, "file_ids": [up["id"]]}).json()
    requests.patch(api + f"/{mid['id']}/emoji_reactions", headers=head, timeout=10,
                   json={"action": "add", "emoji": "U+1F389", "to_channel": ds})
    sb.reply("Grace", "Great work, merging it now.", to_channel=ds, reply_to=mid["id"])
    import datetime as dt

    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=15)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    requests.post(api, headers=head, timeout=10, json={
        "message": "Reminder: retrain with the new data", "to_channel": ds,
        "scheduled_time": later})
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([shutil.which("chromium") or "chromium", "--headless", "--no-sandbox",
                        "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
                        "--window-size=1000,1300", f"--screenshot={OUT}", sb.url + "/"],
                       check=True, capture_output=True, timeout=60)
print(OUT)
