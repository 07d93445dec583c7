"""Issue 26: the JupyterLab / Notebook 7 extension, in a real browser (Debian Chromium,
Playwright) against a real Jupyter server with the server extension on, and the sandbox as
Zoom. The bell is turned on by clicking it; kernels are SIGKILLed by their PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from nbformat.v4 import new_code_cell, new_notebook

from zoom_notebook.sandbox import Sandbox

from .browser import browser_page
from .jupyter_server import jupyter, open_notebook, wait_kernel_idle, with_lab_extension

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PY3 = {"name": "python3", "display_name": "Python 3", "language": "python"}


@pytest.fixture
def zoom(tmp_path):
    with Sandbox(channel_limits=False) as sb:
        env = {**sb.env(), "ZOOM_ACCESS_TOKEN": sb.issue_token(),
               "ZOOM_NOTEBOOK_HOME": str(tmp_path / "zoom-home"),
               "ZOOM_NOTEBOOK_FLOOD_PACING": "0"}
        sb.lab_env = with_lab_extension(tmp_path, env)
        yield sb


def write(path: Path, sources: list[str], *, target: dict[str, Any] | None,
          kernelspec: dict[str, str] = PY3, cell_meta: dict[int, dict[str, Any]] | None = None
          ) -> Path:
    cells = [new_code_cell(src) for src in sources]
    for index, meta in (cell_meta or {}).items():
        cells[index].metadata["zoom_notebook"] = meta
    meta: dict[str, Any] = {"kernelspec": kernelspec}
    if target is not None:
        meta["zoom_notebook"] = target
    nbformat.write(new_notebook(cells=cells, metadata=meta), path)
    return path


def texts(sb: Sandbox) -> list[str]:
    return [m["message"] for m in sb.messages()]


def wait_for(what, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def kernel_pid(kernel_id: str) -> int:
    """The process of a kernel, found by its connection file (kernel-<id>.json)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if f"kernel-{kernel_id}.json" in cmdline:
                return int(entry.name)
    raise AssertionError(f"no process for kernel {kernel_id}")


def only_session(base: str, token: str) -> dict[str, Any]:
    (session,) = requests.get(f"{base}/api/sessions", params={"token": token},
                              timeout=5).json()
    return session


def set_bell(page: Any, cell_index: int, choice: str) -> None:
    """Click a cell, then its bell, and pick ``choice`` in the dialog."""
    page.locator(".jp-Notebook .jp-Cell").nth(cell_index).click()
    page.locator(".jp-Cell.jp-mod-active [data-command='zoom-notebook:cell-bell']").click()
    page.locator(".jp-Dialog select").select_option(label=choice)
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_selector(".jp-Dialog", state="detached")


def run_cell(page: Any, cell_index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(cell_index).click()
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+Enter")


def secrets_of(sb: Sandbox) -> set[str]:
    return {s for s in sb.secrets() if s and len(s) >= 8}


def test_jupyterlab_bell_panel_kernel_death_and_no_secret(zoom, tmp_path):
    ch = zoom.channel_id("general")
    nb = write(tmp_path / "watched.ipynb",
               ["import time; time.sleep(1.5)", "1/0", "print('quiet')"],
               target={"to_channel": ch})
    with jupyter("lab", tmp_path, zoom.lab_env, [nb]) as (base, token), \
            browser_page() as page:
        open_notebook(page, f"{base}/lab/tree/watched.ipynb?token={token}", base, token)
        set_bell(page, 0, "when it ends")
        set_bell(page, 1, "when it fails")
        for i in range(3):
            run_cell(page, i)
        done = wait_for(lambda: [t for t in texts(zoom) if "In [" in t]
                        if len(texts(zoom)) >= 2 else None)
        assert any(t.startswith("✅ In [1] finished in") and "watched.ipynb on" in t
                   for t in done), done
        assert any(t.startswith("❌ In [2] failed after") and "ZeroDivisionError" in t
                   for t in done), done
        time.sleep(1.5)
        assert len(texts(zoom)) == 2  # the third cell's bell is off: nothing for it

        # the panel lists the sends; a click goes to the cell that sent it
        page.locator("li[data-id='zoom-notebook-panel']").click()
        page.wait_for_selector("#zoom-notebook-panel .zn-sent li.zn-item")
        items = page.locator("#zoom-notebook-panel .zn-sent li.zn-item")
        assert items.count() == 2
        assert "Ada Lovelace" in page.locator("#zoom-notebook-panel .zn-status").inner_text()
        items.nth(1).click()  # the older one: cell 1
        wait_for(lambda: page.locator(".jp-Notebook .jp-Cell").nth(0).get_attribute(
            "class").count("jp-mod-active"))

        # SIGKILL the kernel: exactly one message, within 10 s, naming the notebook
        session = only_session(base, token)
        killed = time.monotonic()
        os.kill(kernel_pid(session["kernel"]["id"]), signal.SIGKILL)
        died = wait_for(lambda: [t for t in texts(zoom) if "the kernel died" in t], 10)
        took = time.monotonic() - killed
        print(f"SIGKILL -> Zoom message: {took:.1f} s")
        assert "watched.ipynb" in died[0]
        wait_kernel_idle(base, token)  # the automatic restart
        time.sleep(4)
        assert len([t for t in texts(zoom) if "the kernel died" in t]) == 1

        # nothing secret reached the page, its DOM or the saved notebook
        page.keyboard.press("Control+s")
        time.sleep(1)
        page_text = page.content() + page.evaluate("document.documentElement.outerHTML")
        saved = (tmp_path / "root" / "watched.ipynb").read_text()
        for secret in secrets_of(zoom) | {zoom.lab_env["ZOOM_ACCESS_TOKEN"]}:
            assert secret not in page_text and secret not in saved
        assert '"notify": "end"' in saved.replace(" ", "").replace('":"', '": "')


def test_a_kernel_death_with_no_browser_and_restarts_that_are_not_deaths(zoom, tmp_path):
    """No browser: the server watches the notebook by its metadata. A restart and a
    shutdown asked for through Jupyter's API post nothing; a SIGKILL posts once."""
    ch = zoom.channel_id("general")
    write(tmp_path / "job.ipynb", ["x = 1"], target={"to_channel": ch})
    write(tmp_path / "other.ipynb", ["x = 1"], target=None)
    with jupyter("lab", tmp_path, zoom.lab_env, [tmp_path / "job.ipynb",
                                                  tmp_path / "other.ipynb"]) as (base, token):
        api = f"{base}/api"
        auth = {"Authorization": f"token {token}"}

        def start(path: str) -> str:
            r = requests.post(f"{api}/sessions", headers=auth, timeout=30, json={
                "path": path, "type": "notebook", "name": path,
                "kernel": {"name": "python3"}})
            return r.json()["kernel"]["id"]

        kid = start("job.ipynb")
        other = start("other.ipynb")
        first = wait_for(lambda: pid_or_none(kid))
        wait_for(lambda: pid_or_none(other))
        time.sleep(1)  # the server's watch hooks new kernels within half a second
        assert requests.post(f"{api}/kernels/{kid}/restart", headers=auth,
                             timeout=60).ok  # asked for: not a death
        second = wait_for(lambda: (pid_or_none(kid) or first) != first and pid_or_none(kid))
        os.kill(pid_or_none(other) or 0, signal.SIGKILL)  # not watched: nothing
        time.sleep(1)
        killed = time.monotonic()
        os.kill(second, signal.SIGKILL)
        died = wait_for(lambda: [t for t in texts(zoom) if "the kernel died" in t], 10)
        print(f"SIGKILL -> Zoom message, no browser: {time.monotonic() - killed:.1f} s")
        assert "job.ipynb" in died[0] and "other.ipynb" not in " ".join(texts(zoom))
        wait_for(lambda: (pid_or_none(kid) or second) != second)  # the automatic restart
        time.sleep(1)
        assert requests.delete(f"{api}/kernels/{kid}", headers=auth, timeout=30).ok
        time.sleep(4)
        assert len([t for t in texts(zoom) if "kernel died" in t]) == 1, texts(zoom)


def pid_or_none(kernel_id: str) -> int | None:
    try:
        return kernel_pid(kernel_id)
    except AssertionError:
        return None


def bare_kernel(tmp_path: Path) -> dict[str, str]:
    """A kernelspec whose Python cannot import zoom_notebook: a venv that sees the test
    venv's site-packages as a plain path (so ipykernel imports) but not its .pth files
    (so the editable zoom_notebook does not)."""
    import site
    import venv

    bare = tmp_path / "bare-venv"
    venv.EnvBuilder(with_pip=False).create(bare)
    pure = next(Path(p) for p in site.getsitepackages() if p.endswith("site-packages"))
    (next(bare.glob("lib/python*/site-packages")) / "test-venv.pth").write_text(f"{pure}\n")
    spec = tmp_path / "jupyter-path" / "kernels" / "bare"
    spec.mkdir(parents=True)
    python = str(bare / "bin" / "python")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Bare Python (no zoom_notebook)", "language": "python"}))
    check = subprocess.run([python, "-c", "import ipykernel, importlib.util; print("
                            "importlib.util.find_spec('zoom_notebook'))"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert check.stdout.strip() == "None", check.stderr
    return {"name": "bare", "display_name": "Bare Python (no zoom_notebook)",
            "language": "python"}


def test_a_kernel_without_zoom_notebook_gets_cell_alerts_too(zoom, tmp_path):
    """The server sends, not the kernel: a kernel that cannot import zoom_notebook (any
    language) gets the same alert."""
    ch = zoom.channel_id("general")
    spec = bare_kernel(tmp_path)
    nb = write(tmp_path / "bare.ipynb",
               ["import importlib.util\nprint(importlib.util.find_spec('zoom_notebook'))"],
               target={"to_channel": ch}, kernelspec=spec, cell_meta={0: {"notify": "end"}})
    with jupyter("lab", tmp_path, zoom.lab_env, [nb]) as (base, token), \
            browser_page() as page:
        open_notebook(page, f"{base}/lab/tree/bare.ipynb?token={token}", base, token)
        assert only_session(base, token)["kernel"]["name"] == "bare"
        run_cell(page, 0)
        page.wait_for_selector(".jp-OutputArea-output:has-text('None')")
        (msg,) = wait_for(lambda: texts(zoom))
        assert msg.startswith("✅ In [1] finished in") and "bare.ipynb" in msg


def test_notebook_7_bell_and_alert(zoom, tmp_path):
    ch = zoom.channel_id("general")
    nb = write(tmp_path / "nb7.ipynb", ["import time; time.sleep(0.5)\nraise KeyError('x')"],
               target={"to_channel": ch})
    with jupyter("notebook", tmp_path, zoom.lab_env, [nb]) as (base, token), \
            browser_page() as page:
        open_notebook(page, f"{base}/notebooks/nb7.ipynb?token={token}", base, token)
        set_bell(page, 0, "when it fails")
        run_cell(page, 0)
        (msg,) = wait_for(lambda: texts(zoom))
        assert msg.startswith("❌ In [1] failed after") and "KeyError" in msg
        assert "nb7.ipynb" in msg
        # the panel: View > Left Sidebar > Show Zoom
        page.locator(".lm-MenuBar-item", has_text="View").first.click()
        page.locator(".lm-Menu-item", has_text="Left Sidebar").first.hover()
        page.locator(".lm-Menu").last.locator(".lm-Menu-item", has_text="Show Zoom").click()
        item = page.locator("#zoom-notebook-panel .zn-sent li.zn-item")
        item.first.wait_for(timeout=20_000)
        assert "In [1] failed" in item.first.inner_text()


def test_the_wheel_carries_both_extensions_and_installs_without_node(tmp_path):
    """``pip wheel .`` holds the prebuilt labextension and the server config; installed
    into a fresh venv with no Node on the PATH, Jupyter lists both as enabled."""
    import zipfile

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(root)], check=True, timeout=300)
    (wheel,) = out.glob("zoom_notebook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    share = "zoom_notebook-0.1.0.data/data/share/jupyter/labextensions/zoom-notebook/"
    assert share + "package.json" in names and share + "install.json" in names
    assert any(n.startswith(share + "static/remoteEntry.") for n in names)
    assert share + "schemas/zoom-notebook/plugin.json" in names
    assert ("zoom_notebook-0.1.0.data/data/etc/jupyter/jupyter_server_config.d/"
            "zoom_notebook.json") in names
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, timeout=120)
    no_node = {**os.environ, "PATH": f"{fresh / 'bin'}:/usr/bin:/bin".replace(
        ":/usr/bin:/bin", ":/nonexistent")}
    no_node.pop("JUPYTER_PATH", None)
    no_node.pop("JUPYTER_CONFIG_DIR", None)
    pip = [str(fresh / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    subprocess.run([*pip, f"{wheel}[notebook]", "jupyterlab"], check=True, env=no_node,
                   timeout=900)
    jupyter_bin = str(fresh / "bin" / "jupyter")
    labs = subprocess.run([jupyter_bin, "labextension", "list"], env=no_node,
                          capture_output=True, text=True, timeout=120)
    servers = subprocess.run([jupyter_bin, "server", "extension", "list"], env=no_node,
                             capture_output=True, text=True, timeout=120)
    listing = labs.stdout + labs.stderr
    assert "zoom-notebook" in listing and "enabled" in listing.split("zoom-notebook")[1][:60]
    listing = servers.stdout + servers.stderr
    assert "zoom_notebook.lab" in listing
    assert "enabled" in listing.split("zoom_notebook.lab")[1][:40], listing


def test_the_server_routes_are_jupyters_own_auth_bounded_and_hold_no_secret(zoom, tmp_path):
    """No token: 403. A cookie session without the XSRF token: 403. Bodies over 64 KiB:
    413; not an object: 400; a bad target: 400 naming the field, nothing posted. A send
    that fails is listed with its error; the answers hold no secret."""
    with jupyter("lab", tmp_path, zoom.lab_env, []) as (base, token):
        url = f"{base}/zoom-notebook"
        auth = {"Authorization": f"token {token}"}
        cell = {"path": "a.ipynb", "cell_id": "c1", "count": 3, "took": 1.0,
                "failed": False, "mode": "end",
                "target": {"to_channel": zoom.channel_id("general")}}
        assert requests.get(f"{url}/status", timeout=10).status_code == 403
        assert requests.post(f"{url}/cell", json=cell, timeout=10).status_code == 403
        browser = requests.Session()  # logged in by cookie, as a page is
        assert browser.get(f"{base}/lab", params={"token": token}, timeout=10).ok
        assert browser.get(f"{url}/sent", timeout=10).ok
        assert browser.post(f"{url}/cell", json=cell, timeout=10).status_code == 403  # no XSRF
        big = {**cell, "error": "x" * (70 * 1024)}
        assert requests.post(f"{url}/cell", json=big, headers=auth,
                             timeout=10).status_code == 413
        assert requests.post(f"{url}/cell", data="[1]", headers=auth,
                             timeout=10).status_code == 400
        bad = requests.post(f"{url}/cell", json={**cell, "target": {"to_channel": ""}},
                            headers=auth, timeout=10)
        assert bad.status_code == 400 and bad.json()["field"] == "target"
        assert requests.post(f"{url}/cell", json=cell, headers=auth, timeout=10).json()[
            "posted"]
        lost = {**cell, "cell_id": "c2", "target": {"to_channel": "no-such-channel"}}
        assert requests.post(f"{url}/cell", json=lost, headers=auth, timeout=10).ok
        def by_cell() -> dict[str, Any] | None:
            found = {s["cell_id"]: s for s in requests.get(f"{url}/sent", headers=auth,
                                                           timeout=10).json()}
            done = (found.get("c1", {}).get("status") == "sent"
                    and found.get("c2", {}).get("status") == "failed")
            return found if done else None

        statuses = wait_for(by_cell)
        (msg,) = texts(zoom)
        assert msg.startswith("✅ In [3] finished")
        assert "HTTP 404" in (statuses["c2"]["error"] or "")
        every = "".join(requests.get(f"{url}/{r}", headers=auth, timeout=30).text
                        for r in ("status", "sent", "outbox", "scheduled"))
        for secret in secrets_of(zoom) | {zoom.lab_env["ZOOM_ACCESS_TOKEN"]}:
            assert secret not in every


def test_a_failed_send_is_a_notification_with_retry(zoom, tmp_path):
    nb = write(tmp_path / "lost.ipynb", ["x = 1"], target={"to_channel": "no-such-channel"},
               cell_meta={0: {"notify": "end"}})
    with jupyter("lab", tmp_path, zoom.lab_env, [nb]) as (base, token), \
            browser_page() as page:
        open_notebook(page, f"{base}/lab/tree/lost.ipynb?token={token}", base, token)
        run_cell(page, 0)
        toast = page.locator(".Toastify__toast", has_text="Zoom: not sent to")
        toast.wait_for(timeout=20_000)
        assert "HTTP 404" in toast.inner_text()
        assert toast.get_by_role("button", name="Retry").count() == 1
        assert texts(zoom) == []


def test_the_panels_scheduled_list_and_cancel(zoom, tmp_path, monkeypatch):
    """A message scheduled from this home (here by zn.send in the test process, as a
    kernel would) is listed by the server and cancelled from the panel's route."""
    import zoom_notebook as zn

    for key, value in zoom.lab_env.items():
        monkeypatch.setenv(key, value)
    zn.api.forget_clients()
    later = zn.send("standup in 2 hours", to_channel=zoom.channel_id("general"), at="2h")
    with jupyter("lab", tmp_path, zoom.lab_env, []) as (base, token):
        url = f"{base}/zoom-notebook/scheduled"
        auth = {"Authorization": f"token {token}"}
        (listed,) = requests.get(url, headers=auth, timeout=30).json()
        assert listed["id"] == later.id and listed["text"] == "standup in 2 hours"
        done = requests.post(url, headers=auth, timeout=30, json={
            "id": listed["id"], "to_channel": listed["to_channel"]})
        assert done.ok, done.text
        assert requests.get(url, headers=auth, timeout=30).json() == []
    assert zoom.drafts() == []


def test_the_panels_outbox_retries_and_discards_one_message(zoom, tmp_path, monkeypatch):
    """Two messages kept in the outbox (Zoom was unreachable when they were sent, from a
    kernel sharing the home folder): the panel lists both; Retry on one delivers it,
    Discard on the other drops it."""
    from zoom_notebook.core.errors import ConnectFailed
    from zoom_notebook.outbox import Item, get_outbox, reset_outbox

    for key, value in zoom.lab_env.items():
        monkeypatch.setenv(key, value)
    ch = zoom.channel_id("general")
    box = get_outbox()
    for text in ("kept one", "kept two"):
        assert box.keep(Item(payload={"message": text, "to_channel": ch}),
                        ConnectFailed("Zoom was unreachable"))
    reset_outbox()
    with jupyter("lab", tmp_path, zoom.lab_env, []) as (base, token), \
            browser_page() as page:
        page.goto(f"{base}/lab?token={token}")
        page.locator("li[data-id='zoom-notebook-panel']").click()
        kept = page.locator("#zoom-notebook-panel .zn-outbox li.zn-kept")
        kept.first.wait_for(timeout=30_000)
        assert kept.count() == 2
        # while it is open it re-reads the server's lists, but asks Zoom only when opened
        asked = [r for r in zoom.requests() if r["path"].startswith("/v2/users/")
                 or r["path"].endswith("/schedule")]
        time.sleep(7)  # two of the panel's refreshes
        assert [r for r in zoom.requests() if r["path"].startswith("/v2/users/")
                or r["path"].endswith("/schedule")] == asked
        kept.filter(has_text="kept one").locator(".zn-retry-one").click()
        wait_for(lambda: texts(zoom) == ["kept one"])
        page.locator("#zoom-notebook-panel .zn-outbox li.zn-kept",
                     has_text="kept two").locator(".zn-discard-one").click()
        wait_for(lambda: page.locator("#zoom-notebook-panel .zn-outbox li.zn-kept")
                 .count() == 0)
    assert texts(zoom) == ["kept one"]
    assert get_outbox().saved() == []


def test_a_bell_with_no_login_says_so_and_retry_sends_once_logged_in(zoom, tmp_path):
    """The server has no login yet: the alert is refused before the outbox, the page says
    why (a notification), and its Retry posts it once a login exists (here a token
    saved in the shared home, as `zoom-notebook login` would)."""
    import zoom_notebook as zn

    env = {k: v for k, v in zoom.lab_env.items() if k != "ZOOM_ACCESS_TOKEN"}
    nb = write(tmp_path / "nologin.ipynb", ["x = 1"],
               target={"to_channel": zoom.channel_id("general")},
               cell_meta={0: {"notify": "end"}})
    with jupyter("lab", tmp_path, env, [nb]) as (base, token), browser_page() as page:
        open_notebook(page, f"{base}/lab/tree/nologin.ipynb?token={token}", base, token)
        run_cell(page, 0)
        toast = page.locator(".Toastify__toast", has_text="Zoom: not sent to")
        toast.wait_for(timeout=20_000)
        said = toast.inner_text()
        assert "No Zoom credentials" in said and "zoom-notebook login" in said, said
        assert texts(zoom) == []
        from zoom_notebook.account.login import save_login
        from zoom_notebook.core.config import Settings

        save_login(Settings.load(environ=env), {
            "access_token": zoom.issue_token(), "token_type": "bearer", "expires_in": 3600,
            "refresh_token": "unused-here", "scope": ""}, "test")
        toast.get_by_role("button", name="Retry").click()
        (msg,) = wait_for(lambda: texts(zoom))
        assert msg.startswith("✅ In [1] finished")
    zn.api.forget_clients()
