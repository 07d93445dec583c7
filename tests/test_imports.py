"""Importing the package stays cheap: nothing heavy loads until it is used."""

import subprocess
import sys

HEAVY = ["requests", "authlib", "werkzeug", "ipywidgets", "IPython", "urllib3", "filelock"]


def test_import_is_light():
    code = ("import sys, zoom_notebook; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve():
    import zoom_notebook as zn

    for name in zn.__all__:
        assert getattr(zn, name) is not None
