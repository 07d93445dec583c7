"""%zoomchat login / logout / status in a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext zoom_notebook", store_history=False)
    yield sh
    sh.run_cell("%reset -f", store_history=False)


def run(shell, line):
    result = shell.run_cell(line, store_history=False)
    return result


def test_login_status_logout(shell, fake_browser, capsys):
    result = run(shell, "%zoomchat status")
    assert not result.result.logged_in
    result = run(shell, "%zoomchat login --browser")
    assert result.success and result.result.logged_in
    assert fake_browser.opened  # the link was opened (and shown)
    out = capsys.readouterr().out
    assert "/oauth/authorize?" in out
    status = run(shell, "%zoomchat status").result
    assert "Ada Lovelace" in repr(status) and "browser" in status._repr_html_()
    run(shell, "%zoomchat logout")
    assert "Logged out" in capsys.readouterr().out
    assert not run(shell, "%zoomchat status").result.logged_in


def test_bad_usage_is_a_clear_error_not_an_exit(shell, capsys):
    result = run(shell, "%zoomchat login --sideways")
    assert not result.success
    assert "usage" in str(result.error_in_exec)
    result = run(shell, "%zoomchat")  # no command: the whole help, not an error
    assert result.success and "%zoomchat login" in capsys.readouterr().out


def test_load_ext_is_cheap():
    import subprocess
    import sys

    code = ("from IPython.core.interactiveshell import InteractiveShell; import sys; "
            "sh = InteractiveShell.instance(); sh.run_line_magic('load_ext', 'zoom_notebook');"
            "print(sorted(m for m in ('requests', 'authlib', 'ipywidgets', 'werkzeug', "
            "'jupyter_server', 'jupyterlab') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
