"""The sandbox judged by a client we did not write: Zoom's own Node SDK, ``@zoom/rivet``
0.4.0 (Team Chat), Server-to-Server and user OAuth, every Team Chat call it exposes that
the sandbox serves (tests/conformance/rivet_suite.cjs). Every request Rivet sent and every
answer the sandbox gave is also checked against Zoom's OpenAPI document.

Rivet is installed with ``npm ci`` into ``.venv/rivet`` (``./scripts/test`` does it, with
Debian's nodejs/npm if they are missing); without Node it is skipped, or fails under CI.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from zoom_notebook.sandbox import Sandbox

from . import contract
from .jupyter_server import ROOT

pytestmark = pytest.mark.slow

SUITE = ROOT / "tests" / "conformance"
RIVET = ROOT / ".venv" / "rivet"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg==")


def rivet_modules() -> str:
    """node_modules holding Rivet, installed from the committed lock file if needed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed for the Rivet conformance suite")
        pytest.skip("node/npm not installed")
    lock = (SUITE / "package-lock.json").read_bytes()
    if not (RIVET / "node_modules" / "@zoom" / "rivet").exists() or (
            RIVET / "package-lock.json").read_bytes() != lock:
        RIVET.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SUITE / name, RIVET / name)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=RIVET, check=True, capture_output=True, timeout=600)
    return str(RIVET / "node_modules")


def user_code(sb: Sandbox, redirect: str) -> str:
    """A code for the confidential app, approved at the consent page (as a person)."""
    url = sb.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": sb.client_id, "redirect_uri": redirect,
        "state": "rivet"})
    back = sb.approve(url)
    return parse_qs(urlsplit(back).query)["code"][0]


@pytest.mark.raw_http
def test_zoom_rivet_agrees_with_the_sandbox():
    modules = rivet_modules()
    with Sandbox() as sb:
        sb.app.capture = True
        sb.configure(channel_limits=False)
        grace = sb.user("Grace")
        facts = {
            "channel": sb.channel_id("general"), "client_id": sb.client_id,
            "client_secret": sb.client_secret, "account_id": sb.account_id,
            "me_email": sb.me["email"], "me_id": sb.me["id"],
            "me_member_id": sb.user(sb.me["email"])["member_id"],
            "grace_email": grace["email"], "png_b64": base64.b64encode(PNG).decode(),
            "redirect_uri": "http://127.0.0.1:9",
            "code": user_code(sb, "http://127.0.0.1:9/zoom/oauth/callback"),
            # a granular write-only scope: it may send, not read
            "write_only_token": sb.issue_token(scopes="team_chat:write:user_message"),
        }
        proc = subprocess.run(
            ["node", str(SUITE / "rivet_suite.cjs")], capture_output=True, text=True,
            timeout=120, env={**os.environ, "NODE_PATH": modules, "SB_URL": sb.url,
                              "SB_FACTS": json.dumps(facts)})
        exchanges = list(sb.app.exchanges)
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    failed = [f"{r['name']}: {r['detail']}" for r in results if not r["ok"]]
    assert results and not failed, "\n".join(failed) + proc.stderr[-2000:]
    assert len(results) >= 28
    problems = []
    for method, url, req_headers, req_body, status, headers, body in exchanges:
        if status < 400:  # the scenarios that expect an error send bad requests on purpose
            problems += contract.check_request(method, url, req_headers, req_body or None)
        problems += contract.check_response(method, url, status, headers, body)
    assert len(exchanges) >= 40
    assert not problems, "\n".join(sorted(set(problems)))
