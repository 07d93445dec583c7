"""The layout is the design: every import (lazy ones inside functions included) runs down
the layers or stays in its own, no two modules import each other (directly or round a
circle), and no module grows past 600 lines. Read by walking the source with ``ast``."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "zoom_notebook"

#: lowest first; a module may import its own layer and the ones before it
LAYERS = ["core", "zoom", "account", "delivery", "features",
          "notebook|integrations|lab", "sandbox", "cli", "zoom_notebook"]
MAX_LINES = 600
GENERATED = {"zoom_notebook.core._spec_scopes", "zoom_notebook.notebook._magics_help"}


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "zoom_notebook"
    for rank, names in enumerate(LAYERS):
        if name in names.split("|"):
            return rank
    raise AssertionError(f"{module} is in no layer: put it in one of {LAYERS[:-1]}")


def imports(module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the package in ``module``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                where = ".".join(base + ([node.module] if node.module else []))
            else:
                where = node.module or ""
            targets = [f"{where}.{a.name}" if f"{where}.{a.name}" in MODULES else where
                       for a in node.names]
        else:
            continue
        out += [(node.lineno, t) for t in targets if t.split(".")[0] == "zoom_notebook"]
    return out


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for _, target in imports(module):
            if target in MODULES and target != module:
                edges[module].add(target)
    return edges


def test_every_import_names_a_real_module_not_an_old_flat_alias():
    wrong = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t}"
             for m in MODULES for line, t in imports(m) if t not in MODULES]
    assert not wrong, "import the layer path (zoom_notebook.<layer>.<module>):\n" + "\n".join(wrong)


def test_no_import_runs_up_a_layer():
    up = [f"{MODULES[m].relative_to(ROOT)}:{line} ({LAYERS[layer_of(m)]}) imports {t} "
          f"({LAYERS[layer_of(t)]})"
          for m in MODULES for line, t in imports(m)
          if t in MODULES and layer_of(t) > layer_of(m)]
    assert not up, "upward imports:\n" + "\n".join(up)


def test_no_circles():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                circles.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not circles, f"modules that import each other: {circles}"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    # the walk must find an import inside a function: the ones that made circles were lazy
    found = dict((t, line) for line, t in imports("zoom_notebook.cli"))
    assert "zoom_notebook.sandbox" in found


@pytest.mark.parametrize("module", sorted(set(MODULES) - GENERATED))
def test_no_module_is_over_600_lines(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module].relative_to(ROOT)} has {lines} lines"


def test_below_the_notebook_layer_only_the_display_kit_touches_ipython():
    """IPython and ipywidgets are the notebook layer's; below it only ``core.display``
    (inside functions, when it finds itself in a notebook) and ``core.nbui`` (the login
    widgets, itself imported only inside functions) use them; jupyter_server and
    JupyterLab nowhere below the notebook layer."""
    heavy = ("IPython", "ipywidgets", "jupyter_server", "jupyterlab", "notebook")
    allowed = {"zoom_notebook.core.display": ("IPython",),
               "zoom_notebook.core.nbui": ("ipywidgets",)}
    bad = []
    for m, path in MODULES.items():
        if layer_of(m) >= LAYERS.index("notebook|integrations|lab"):
            continue
        tree = ast.parse(path.read_text())
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            for n in names:
                root = n.split(".")[0]
                if root in heavy and root not in allowed.get(m, ()):
                    bad.append(f"{m} imports {n}")
                if n == "zoom_notebook.core.nbui" and id(node) in top:
                    bad.append(f"{m} imports nbui when it is imported")
    assert not bad, bad


def test_one_choke_point_for_http():
    """Every exchange with Zoom goes through ``zoom.http.exchange`` (secrets kept out of
    tracebacks, connect-only retries, deadlines in one place): no other module wraps a
    request itself with ``guarded``/``within``/``with_connect_retries``, and no module
    outside the zoom and account layers imports ``requests``' request functions."""
    home = {"zoom_notebook.zoom.http", "zoom_notebook.core.secret", "zoom_notebook.core.retry"}
    bad = []
    for m, path in MODULES.items():
        if m in home or m.startswith("zoom_notebook.sandbox"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ("guarded", "within", "with_connect_retries"):
                    bad.append(f"{m}:{node.lineno} calls {name}")
    assert not bad, bad


def test_one_retry_policy_object():
    """Outside ``core/retry.py`` the retry rules are reached through ``POLICY`` (the one
    object the client, token requests, the outbox, the watchdog and the poller hold), not
    by calling the rule functions directly."""
    rules = {"backoff_delay", "wait_for", "seconds_until", "later_attempt",
             "not_worth_keeping", "with_connect_retries"}
    bad = []
    for m, path in MODULES.items():
        if m == "zoom_notebook.core.retry" or m.startswith("zoom_notebook.sandbox"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in rules:
                    bad.append(f"{m}:{node.lineno} calls {name}")
    assert not bad, bad
