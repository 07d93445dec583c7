"""Issue 12 finding 2 / SECURITY.md 31 in a real browser: JupyterLab started by the test,
Debian Chromium driven by Playwright. The paste-login widget is given an address whose
OAuth ``error`` carries an ``<img onerror=...>`` script, as a hostile authorization server
would send it; the script must not run and its text must be shown as text.

A control cell puts the same kind of markup, unescaped, into a plain ipywidgets ``HTML``:
there the script does run, which proves this browser would have caught the injection."""

from __future__ import annotations

import nbformat
import pytest

from .browser import browser_page
from .jupyter_server import jupyter, open_and_run_all, sandbox_env

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=top.znPwned=1>"
CONTROL = "<img src=x onerror=top.znControl=1>"

CELLS = [
    "import zoom_notebook as zn\nprompt = zn.login(method='paste')\nprompt",
    # what a hostile OAuth server does: redirect with an error that is markup
    f"""from urllib.parse import parse_qs, urlencode, urlsplit
state = parse_qs(urlsplit(prompt.authorize_url).query)['state'][0]
redirect = parse_qs(urlsplit(prompt.authorize_url).query)['redirect_uri'][0]
prompt.field.value = redirect + '?' + urlencode({{'error': {HOSTILE!r}, 'state': state}})
prompt.button.click()
print('pasted:', type(prompt.error).__name__)""",
    f"import ipywidgets\nipywidgets.HTML({CONTROL!r})",
]


def test_finding_2_injected_script_does_not_run_in_jupyterlab(oauth_env, tmp_path):
    env = sandbox_env()
    with jupyter("lab", tmp_path, env, []) as (base, token), browser_page() as page:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, tmp_path / "root" / "hostile.ipynb")
        open_and_run_all(page, f"{base}/lab/tree/hostile.ipynb?token={token}", base, token)

        page.locator(".jp-OutputArea-output", has_text="pasted: AuthError").wait_for(
            timeout=60_000)
        shown = page.locator(".widget-html", has_text="Zoom refused the login")
        shown.wait_for(timeout=30_000)
        # the control's script runs: this browser executes markup put in a widget unescaped
        page.wait_for_function("() => top.znControl === 1", timeout=30_000)

        assert HOSTILE in shown.inner_text()  # shown as text, character for character
        assert page.evaluate("() => top.znPwned") is None
        assert page.locator(".widget-html img[src='x']").count() == 1  # only the control's
