"""Write the scopes Zoom accepts for each call this project makes, from Zoom's OpenAPI document.

Reads tests/zoom/team-chat-openapi.json (Zoom's own document, vendored) and writes
zoom_notebook/core/_spec_scopes.py (the package and the sandbox read it) and the feature/scope
table in docs/zoom-app.md between its markers. tests/test_scopes.py checks both are current.

Run: .venv/bin/python scripts/gen_scopes.py
"""

from __future__ import annotations

import json
import pprint
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "zoom" / "team-chat-openapi.json"
MODULE = ROOT / "zoom_notebook" / "core" / "_spec_scopes.py"
DOC = ROOT / "docs" / "zoom-app.md"
START, END = "<!-- scope-table:start -->", "<!-- scope-table:end -->"

#: The Team Chat operations the client calls or the sandbox serves.
USED = ("sendaChatMessage", "editMessage", "deleteChatMessage", "reactMessage",
        "uploadAChatFile", "sendChatFile", "getChatMessages", "getChatMessage",
        "retrieveThread", "getChannels", "listUserLevelChannelMembers", "getUserContacts",
        "searchCompanyContacts", "listScheduledMessages", "deleteScheduleMessage")


def operations() -> dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...],
                                    tuple[str, ...]]]:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    out = {}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or op.get("operationId") not in USED:
                continue
            ext = op.get("x-extensions", {})
            out[op["operationId"]] = (
                method.upper(), path, tuple(op["security"][0]["openapi_oauth"]),
                tuple(ext.get("x-macro-scopes") or ()), tuple(ext.get("x-granular-scopes") or ()))
    missing = set(USED) - set(out)
    assert not missing, f"not in Zoom's document: {sorted(missing)}"
    return {name: out[name] for name in USED}


def module() -> str:
    body = pprint.pformat(operations(), width=96, sort_dicts=False)
    return ('"""Scopes Zoom accepts per Team Chat operation, written by scripts/gen_scopes.py '
            "from\nZoom's OpenAPI document (tests/zoom/team-chat-openapi.json: each operation's\n"
            "``security[0].openapi_oauth``, ``x-macro-scopes`` and ``x-granular-scopes``).\n"
            'tests/test_scopes.py checks it is current. Do not edit by hand."""\n\n'
            "#: operationId -> (method, path, every accepted scope, classic, granular)\n"
            f"OPERATIONS: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...], "
            f"tuple[str, ...]]] = (\n    {body.replace(chr(10), chr(10) + '    ')}\n)\n")


def table() -> str:
    from zoom_notebook.scopes import KINDS, feature_table

    heads = ["feature", "what it does", *[title for title, _ in KINDS.values()]]
    rows = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for name, what, per_kind in feature_table():
        cells = [f"`{name}`", what]
        for kind in KINDS:
            names = per_kind[kind]
            cells.append("<br>".join(f"`{n}`" if n else "— (none: use a user login)"
                                     for n in names))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def doc() -> str:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    MODULE.write_text(module(), encoding="utf-8")
    DOC.write_text(doc(), encoding="utf-8")
    print(f"wrote {MODULE.relative_to(ROOT)} and the table in {DOC.relative_to(ROOT)}")
