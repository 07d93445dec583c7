"""Which Zoom scopes each feature needs, for every kind of Zoom app; what a login can do.

Zoom gives each call its own list of accepted scopes (its OpenAPI document: each
operation's ``security[0].openapi_oauth``, split into ``x-macro-scopes`` — the classic
names — and ``x-granular-scopes``). ``_spec_scopes.OPERATIONS`` holds those lists for the
calls this package makes, written from the document by ``scripts/gen_scopes.py`` (and
checked by ``tests/test_scopes.py``). This module adds one thing by hand: which calls
each *feature* makes. Everything else — the scope names a kind of app must tick, whether a
login can use a feature, what a 4711 means — is derived here, and the sandbox checks
tokens against the same lists.

The kinds of app:

- ``granular``: granular scopes, user-managed. Every app created since spring 2024.
- ``admin``: granular scopes, admin-managed (Server-to-Server, account-level apps).
- ``classic``: the classic (macro) scopes of apps made before 2024.
- ``classic-admin``: classic ``:admin`` scopes (a Server-to-Server app made before 2024).

Pure and cheap to import: no network, no IPython.
"""

from __future__ import annotations

from typing import Iterable

from zoom_notebook.core.errors import ValidationError
from zoom_notebook.core.features import FEATURES, OPERATIONS, hint_for_missing, listed_in

__all__ = ["FEATURES", "KINDS", "OPERATIONS", "capabilities", "feature_table", "hint_for_missing",
           "impossible_for", "impossible_sentence", "kind_of", "listed_in", "needed_sentence",
           "scope_for", "scopes_for", "to_add"]


#: kind -> (its title in tables, what a person has)
KINDS = {
    "granular": ("granular, user-managed (every app made since 2024)",
                 "a General app, user-managed, made in the Marketplace today"),
    "admin": ("granular, admin-managed (Server-to-Server)",
              "a Server-to-Server OAuth app made today"),
    "classic": ("classic (apps made before 2024)", "an OAuth app made before 2024"),
    "classic-admin": ("classic admin (Server-to-Server before 2024)",
                      "a Server-to-Server app made before 2024"),
}


def _granular(name: str) -> bool:
    parts = name.split(":")
    return len(parts) >= 4 or (len(parts) == 3 and parts[2] != "admin")


def kind_of(granted: Iterable[str]) -> str:
    """The kind of app a login's scopes come from (``granular`` when nothing says)."""
    names = list(granted)
    admin = any(n.endswith(":admin") for n in names)
    granular = any(_granular(n) for n in names) or not names
    return ("admin" if admin else "granular") if granular else (
        "classic-admin" if admin else "classic")


def scope_for(operation: str, kind: str) -> str | None:
    """The one scope an app of ``kind`` ticks for ``operation`` (None: it cannot have one)."""
    _, _, _, classic, granular = OPERATIONS[operation]
    admin = kind.endswith("admin")
    names = granular if kind in ("granular", "admin") else classic
    fits = [n for n in names if n.endswith(":admin") == admin]
    if not fits:
        return None
    if kind.startswith("classic") and OPERATIONS[operation][0] == "GET":
        reads = [n for n in fits if ":read" in n]  # the least a read needs
        return (reads or fits)[0]
    return fits[0]


def scopes_for(*features: str, kind: str = "granular") -> tuple[str, ...]:
    """The scopes an app of ``kind`` needs for the named features (all with no argument),
    in order, each once. Raises ValidationError for an unknown feature or a feature that
    kind of app cannot have."""
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValidationError("scopes", f"no feature {sorted(unknown)[0]!r}; choose from "
                                        + ", ".join(FEATURES))
    if kind not in KINDS:
        raise ValidationError("kind", f"choose one of {', '.join(KINDS)}")
    out: list[str] = []
    for name, (_, calls) in FEATURES.items():
        if features and name not in features:
            continue
        for op in calls:
            scope = scope_for(op, kind)
            if scope is None:
                if features:
                    raise ValidationError("scopes", f"{name!r} is not possible with "
                                                    f"{KINDS[kind][1]}: use a user login")
                continue
            if scope not in out:
                out.append(scope)
    return tuple(out)


def feature_table() -> list[tuple[str, str, dict[str, list[str | None]]]]:
    """(feature, what it does, kind -> the scope per call, None where impossible), for the
    docs' table (scripts/gen_scopes.py writes it into docs/zoom-app.md)."""
    rows = []
    for name, (what, calls) in FEATURES.items():
        per_kind: dict[str, list[str | None]] = {}
        for kind in KINDS:
            names: list[str | None] = []
            for op in calls:
                scope = scope_for(op, kind)
                if scope not in names:
                    names.append(scope)
            per_kind[kind] = names
        rows.append((name, what, per_kind))
    return rows


def blocked_calls(feature: str, granted: Iterable[str]) -> list[str]:
    """The feature's calls (operationIds) that a token with ``granted`` scopes cannot make."""
    have = set(granted)
    return [op for op in FEATURES[feature][1] if not have & set(OPERATIONS[op][2])]


def to_add(feature: str, granted: Iterable[str]) -> tuple[list[str], bool]:
    """(the scope names to add in the Marketplace, whether that can work at all) for a
    login with ``granted`` to use ``feature``; ``([], True)`` when it already can."""
    names = list(granted)
    kind = kind_of(names)
    add: list[str] = []
    possible = True
    for op in blocked_calls(feature, names):
        scope = scope_for(op, kind)
        if scope is None:
            possible = False
        elif scope not in add:
            add.append(scope)
    return add, possible


def impossible_for(feature: str, kind: str) -> bool:
    """True when Zoom offers no scope at all for one of the feature's calls to that kind
    of app (Server-to-Server and scheduled messages: the document lists no admin scope)."""
    return any(scope_for(op, kind) is None for op in FEATURES[feature][1])


def capabilities(granted: Iterable[str]) -> dict[str, tuple[list[str], bool]]:
    """feature -> ``to_add`` for every feature."""
    names = list(granted)
    return {feature: to_add(feature, names) for feature in FEATURES}


def impossible_sentence(feature: str, kind: str, *, who: str = "This login") -> str:
    """Why ``feature`` cannot work for that kind of app at all, and what to use."""
    return (f"{who} cannot use {feature} ({FEATURES[feature][0]}): Zoom offers no scope for "
            f"it to {KINDS[kind][1]}. Use a user login (zn.login()) for it.")


def needed_sentence(feature: str, granted: Iterable[str], *, who: str = "This login") -> str:
    """What to do so that ``feature`` works, in words ("" when it already works)."""
    names = list(granted)
    add, possible = to_add(feature, names)
    if not add and possible:
        return ""
    if not possible:
        return impossible_sentence(feature, kind_of(names), who=who)
    what = FEATURES[feature][0]
    return (f"{who} cannot use {feature} ({what}): add "
            + ", ".join(add) + " to the app's scopes in the Zoom App Marketplace "
            "(Scopes page), then log in again.")


