"""The demo: start a sandbox, send a message with a mention and a threaded reply and a
file, and print the receipts and where to watch them."""

from __future__ import annotations

import os
import time


def run(keep: bool = False) -> int:
    from . import api
    from .config import Settings
    from .sandbox import Sandbox

    with Sandbox() as sb:
        settings = Settings.load(environ={**os.environ, **sb.env(server_to_server=True)})
        grace = sb.user("grace")
        channel = sb.channel_id("data-science")
        first = api.send(f"Model training finished: accuracy 0.93. @{grace['email']} can "
                         "you review?", to_channel=channel, mentions=[grace["email"]],
                         settings=settings)
        print(repr(first), "\n")
        reply = api.send("Details: 12 epochs, 41 minutes. Loss curve attached.",
                         to_channel=channel, reply_to="last",
                         files=[("loss.csv", b"epoch,loss\n1,0.9\n2,0.5\n3,0.3\n")],
                         settings=settings)
        print(repr(reply), "\n")
        print(f"The sandbox received {len(sb.messages())} messages. See them at {sb.url}/")
        if keep:
            print("Sandbox running; Ctrl-C to stop.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0
