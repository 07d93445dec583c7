"""Check HTTP requests against Zoom's own OpenAPI document for Team Chat.

The document is Zoom's own, vendored in ``tests/zoom/team-chat-openapi.json`` (its source
and date in ``tests/zoom/README.md``; ``ZOOM_OPENAPI_SPEC`` names another copy).
As NOTES.md says, the overlapping string ``oneOf`` (``to_contact``, ``at_contact``) are
rewritten to ``anyOf`` before validating with Draft 4 + FormatChecker, and "exactly one
of to_contact / to_channel" is checked by hand.
"""

from __future__ import annotations

import io
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import jsonschema

ROOT = Path(__file__).resolve().parent.parent


VENDORED_SPEC = ROOT / "tests" / "zoom" / "team-chat-openapi.json"
SPEC_PATH = Path(os.environ.get("ZOOM_OPENAPI_SPEC") or VENDORED_SPEC)
#: URL path prefixes of Zoom's bases, as Zoom serves them and as the sandbox does.
BASE_PREFIXES = ("/file-us01/v2", "/file/v2", "/v2")
#: Calls the client makes that live in Zoom's other API documents (Users API: GET a user,
#: by "me" or by id/email for a Server-to-Server sender).
OUTSIDE_TEAM_CHAT = re.compile(r"^GET /users/[^/]+$")


def _string_oneofs_to_anyof(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _string_oneofs_to_anyof(v) for k, v in node.items()}
        branches = out.get("oneOf")
        if isinstance(branches, list) and branches and all(
                isinstance(b, dict) and b.get("type") == "string" for b in branches):
            out["anyOf"] = out.pop("oneOf")
        return out
    if isinstance(node, list):
        return [_string_oneofs_to_anyof(v) for v in node]
    return node


@lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    with open(SPEC_PATH, encoding="utf-8") as fh:
        return _string_oneofs_to_anyof(json.load(fh))


@lru_cache(maxsize=1)
def _operations() -> list[tuple[str, re.Pattern[str], str, dict[str, Any]]]:
    ops = []
    for template, item in load_spec()["paths"].items():
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ops.append((method.upper(), re.compile(pattern), template, op))
    # Literal paths before templated ones (/chat/users/me/contacts vs {userId}).
    ops.sort(key=lambda o: o[2].count("{"))
    return ops


def _validator(schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    builder = EnvironBuilder(method="POST", input_stream=io.BytesIO(body),
                             content_type=content_type, content_length=len(body))
    with Request(builder.get_environ()) as request:  # closes the spooled upload files
        obj: dict[str, Any] = {k: request.form.get(k) for k in request.form}
        for key in request.files:
            obj[key] = [f.filename for f in request.files.getlist(key)]
    builder.close()
    return obj


def check_request(method: str, url: str, headers: dict[str, str], body: bytes | str | None
                  ) -> list[str]:
    """Problems with one request, as sentences; ``[]`` when it follows Zoom's schema."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    for prefix in BASE_PREFIXES:
        if path.startswith(prefix + "/"):
            path = path[len(prefix):]
            break
    else:
        return [f"{method} {path}: not under a Zoom API base"]
    problems: list[str] = []
    query = parse_qs(parts.query, keep_blank_values=True)
    if "access_token" in query:
        problems.append(f"{method} {path}: token in the URL query")
    if not headers.get("Authorization", "").startswith("Bearer "):
        problems.append(f"{method} {path}: no Bearer Authorization header")
    if OUTSIDE_TEAM_CHAT.match(f"{method} {path}"):
        return problems + ([f"{method} {path}: unexpected query"] if query else [])
    for op_method, pattern, template, op in _operations():
        match = pattern.match(path)
        if op_method != method or not match:
            continue
        where = f"{method} {template}"
        params = op.get("parameters", [])
        for p in params:
            if p["in"] == "path" and not match.group(p["name"]):
                problems.append(f"{where}: empty path parameter {p['name']}")
        known = {p["name"]: p for p in params if p["in"] == "query"}
        for name, values in query.items():
            if name not in known:
                problems.append(f"{where}: query parameter {name!r} is not in Zoom's API")
                continue
            for value in values:
                schema = known[name].get("schema", {})
                for err in _validator(schema).iter_errors(_coerce(value, schema)):
                    problems.append(f"{where}: query {name}={value!r}: {err.message}")
        for name, p in known.items():
            if p.get("required") and name not in query:
                problems.append(f"{where}: required query parameter {name!r} missing")
        content = (op.get("requestBody") or {}).get("content", {})
        ctype = headers.get("Content-Type", "")
        if body is None or body == b"" or body == "":
            if (op.get("requestBody") or {}).get("required"):
                problems.append(f"{where}: request body missing")
            return problems
        raw = body.encode() if isinstance(body, str) else body
        if ctype.startswith("application/json") and "application/json" in content:
            obj = json.loads(raw)
            schema = content["application/json"]["schema"]
        elif ctype.startswith("multipart/form-data") and "multipart/form-data" in content:
            obj = _multipart(raw, ctype)
            schema = content["multipart/form-data"]["schema"]
            for key, prop in (schema.get("properties") or {}).items():
                # a file part is "string, binary" where the spec has one, not an array
                if prop.get("type") == "string" and isinstance(obj.get(key), list) and len(
                        obj[key]) == 1:
                    obj[key] = obj[key][0]
        else:
            takes = ", ".join(content) or "no body"
            return [*problems, f"{where}: body of type {ctype!r} is not what Zoom takes "
                               f"({takes})"]
        for err in _validator(schema).iter_errors(obj):
            loc = "/".join(str(x) for x in err.absolute_path)
            problems.append(f"{where}: body {loc or '(root)'}: {err.message}")
        if template in ("/chat/users/{userId}/messages",
                        "/chat/users/{userId}/messages/files") and method == "POST":
            targets = [k for k in ("to_contact", "to_channel") if obj.get(k)]
            if len(targets) != 1:
                problems.append(f"{where}: needs exactly one of to_contact / to_channel")
        return problems
    return [*problems, f"{method} {path}: no such operation in Zoom's Team Chat API"]


def _operation(method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    for op_method, pattern, template, op in _operations():
        if op_method == method and pattern.match(path):
            return template, op
    return None


def _api_path(url: str) -> str | None:
    path = unquote(urlsplit(url).path)
    for prefix in BASE_PREFIXES:
        if path.startswith(prefix + "/"):
            return path[len(prefix):]
    return None


def check_response(method: str, url: str, status: int, headers: dict[str, str],
                   body: bytes) -> list[str]:
    """Problems with one answer to a Team Chat call, judged by Zoom's response schemas:
    a documented status, its JSON schema for 2xx, Zoom's ``{code, message}`` for errors,
    and no body (nor a content type) for a 204."""
    path = _api_path(url)
    if path is None or OUTSIDE_TEAM_CHAT.match(f"{method} {path}"):
        return []
    found = _operation(method, path)
    if found is None:
        return []  # the request check reports it
    template, op = found
    where = f"{method} {template} -> {status}"
    responses = op.get("responses", {})
    if 300 <= status < 400:
        return []  # a redirect (the file API): followed by the client
    if status == 204:
        problems = [f"{where}: a 204 with a body"] if body else []
        if headers.get("Content-Type"):
            problems.append(f"{where}: a 204 with Content-Type {headers['Content-Type']!r}")
        return problems
    if not body:
        return [] if status >= 500 else [f"{where}: no body"]
    try:
        obj = json.loads(body)
    except ValueError:
        return [f"{where}: the body is not JSON"]
    if status >= 400:
        ok = isinstance(obj, dict) and isinstance(obj.get("code"), int) and isinstance(
            obj.get("message"), str)
        # Zoom's answers to any call: 401/124 (token), 400/4711 (scope), 400/300 (a bad
        # parameter, e.g. an expired next_page_token), 404/1001 and 404/4130 (no such
        # user or channel: documented on most calls, not all), 429, 5xx
        code = obj.get("code") if isinstance(obj, dict) else None
        documented = (str(status) in responses or status in (401, 429) or status >= 500
                      or (status, code) in ((400, 300), (400, 4711), (404, 1001),
                                            (404, 4130)))
        return ([] if ok else [f"{where}: not Zoom's error shape {{code, message}}"]) + (
            [] if documented else [f"{where}: status not in Zoom's API"])
    spec = responses.get(str(status))
    if spec is None:
        return [f"{where}: status not in Zoom's API"]
    schema = (spec.get("content") or {}).get("application/json", {}).get("schema")
    if schema is None:
        return []
    return [f"{where}: body {'/'.join(str(x) for x in e.absolute_path) or '(root)'}: "
            f"{e.message}" for e in _validator(schema).iter_errors(obj)]
