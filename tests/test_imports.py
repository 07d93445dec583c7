"""Importing the package stays cheap: nothing heavy loads until it is used."""

import subprocess
import sys

HEAVY = ["requests", "authlib", "werkzeug", "ipywidgets", "IPython", "urllib3", "filelock",
         "jupyter_server", "jupyterlab", "tornado"]


def test_import_is_light():
    code = ("import sys, zoom_notebook; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve():
    import types

    import zoom_notebook as zn

    for name in zn.__all__:
        value = getattr(zn, name)
        home = value.__name__ if isinstance(value, types.ModuleType) else value.__module__
        assert home.startswith("zoom_notebook"), (name, home)  # ours, not a stray import
        assert name in dir(zn)


def test_tab_completion_offers_the_public_names_only():
    """Issue 23 finding 11: ``zn.<Tab>`` lists what a user can use, not the module's own
    imports; the submodules the docs name (zn.auth.scopes_for) work in a fresh process."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c",
                          "import zoom_notebook as zn; print(dir(zn));"
                          "print(zn.auth.scopes_for('send'))"],
                         capture_output=True, text=True, timeout=60)
    names = __import__("ast").literal_eval(out.stdout.splitlines()[0])
    assert {"send", "progress", "ValidationError", "MissingScope"} <= set(names)
    assert not {"Any", "TYPE_CHECKING", "importlib", "annotations"} & set(names)
    assert "team_chat:write:user_message" in out.stdout.splitlines()[1]
