"""A stand-in for the person's browser, for ``BROWSER="python approve_browser.py %s &"``:
opens the sandbox's consent page, clicks Allow, and loads the address Zoom redirects to
(the login's loopback listener), as a person's browser would."""

import sys

import requests

from zoom_notebook.sandbox import approve

if __name__ == "__main__":
    requests.get(approve(sys.argv[1]), timeout=70)
