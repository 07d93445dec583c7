"""The docs tell the truth about the code."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_magics_reference_is_generated_from_the_magics_help():
    module = runpy.run_path(str(ROOT / "scripts" / "gen_magics_doc.py"))
    current = (ROOT / "docs" / "magics.md").read_text(encoding="utf-8")
    assert current == module["render"](), (
        "docs/magics.md is stale: run .venv/bin/python scripts/gen_magics_doc.py")


def test_the_magics_help_module_is_generated_from_the_parsers():
    """%load_ext reads the help from zoom_notebook/notebook/_magics_help.py instead of building
    every parser: it must say what the parsers say."""
    module = runpy.run_path(str(ROOT / "scripts" / "gen_magics_doc.py"))
    current = (ROOT / "zoom_notebook" / "notebook" / "_magics_help.py").read_text(encoding="utf-8")
    assert current == module["help_module"](), (
        "zoom_notebook/notebook/_magics_help.py is stale: run .venv/bin/python "
        "scripts/gen_magics_doc.py")


def test_readme_links_resolve():
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+)\)", readme):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target


#: The design documents the docs are checked against, vendored from the team's shared
#: folder (tests/design/README.md says from where; test_vendored_copies_are_current).
DESIGN = ROOT / "tests" / "design"


def test_vendored_copies_are_current():
    """With the team's shared folder beside the checkout, the copies here are the same."""
    import pytest

    shared = ROOT.parent / "shared" / "design"
    if not shared.is_dir():
        pytest.skip("no shared folder beside this checkout (a plain clone)")
    for copy in DESIGN.glob("*.md"):
        if copy.name != "README.md":
            assert copy.read_text(encoding="utf-8") == (shared / copy.name).read_text(
                encoding="utf-8"), f"tests/design/{copy.name} differs from shared/design/"


def _contract() -> str:
    return (DESIGN / "CONTRACT.md").read_text(encoding="utf-8")


def contract_names() -> set[str]:
    """The user-facing names CONTRACT.md fixes: environment variables, the zn.* API,
    magic commands and options, error classes."""
    import re

    text = _contract()
    names = set(re.findall(r"\bZOOM_[A-Z_]+\b", text))
    names |= {m for m in re.findall(r"zn\.([a-zA-Z_.]+)", text)}
    for usage in re.findall(r"```\n(%.*?)```", text, flags=re.S):
        names |= set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", usage))
        names |= set(re.findall(r"%zoomchat (\w+)", usage))
    names |= set(re.findall(r"`([A-Z][A-Za-z]+(?:Error|Limited|Unknown|Required|Denied))`",
                            text))
    names |= {"RateLimited", "SentMessage", "ZoomChat", "zoom-notebook", "zoom_notebook",
              "%%zoomchat", "default_channel"}
    return {n.rstrip(".") for n in names}


def test_every_contract_name_is_in_the_docs():
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    names = contract_names()
    assert len(names) > 40
    missing = sorted(n for n in names if n not in docs)
    assert not missing, f"CONTRACT.md names missing from docs/: {missing}"


#: CONTRACT-2026-12.md's sections whose issues have landed (its names must be in docs/);
#: a bullet naming a feature still to come is left out until it lands.
LANDED_2026_12 = ("Formatting", "Files in the same message", "Scheduling", "Batches",
                  "Talking back", "Fleets and batch jobs", "Command line",
                  "Finding people and channels; the webhook sender")
NOT_YET: tuple[str, ...] = ()


def contract_2026_12_names() -> set[str]:
    import re

    path = DESIGN / "CONTRACT-2026-12.md"
    sections = re.split(r"^### ", path.read_text(encoding="utf-8"), flags=re.M)
    names: set[str] = set()
    for section in sections:
        title = section.splitlines()[0].split(" (")[0].strip() if section else ""
        if title not in LANDED_2026_12:
            continue
        for bullet in re.split(r"^- ", section, flags=re.M)[1:]:
            if any(word in bullet for word in NOT_YET):
                continue
            for code in re.findall(r"`([^`]+)`", bullet):
                names |= set(re.findall(r"zn\.([a-zA-Z_]+)", code))
                names |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", code))
                names |= {f"{k}=" for k in re.findall(r"\b([a-z_]+)=", code)}
                names |= set(re.findall(r"^\.([a-z_]+)", code))
                names |= set(re.findall(r"\bZOOM_[A-Z_]+\b", code))
                if re.fullmatch(r"[A-Za-z_]+", code):
                    names.add(code)  # a field or style name: file_ids, Bold, ...
    return names


def test_every_landed_2026_12_name_is_in_the_docs():
    docs = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    names = contract_2026_12_names()
    expected = {"markdown=", "--plain", "at=", "scheduled_for", "cancel", "scheduled",
                "--at", "--batch-gap", "file_ids", "Bold", "channels", "contacts", "ask",
                "AskTimeout", "watchdog", "stoppable=", "from_users=", "--off"}
    assert expected <= names, sorted(expected - names)
    missing = sorted(n for n in names if n not in docs)
    assert not missing, f"CONTRACT-2026-12.md names missing from docs/: {missing}"


def test_mkdocs_nav_lists_every_page():
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert all(page in nav for page in pages), sorted(p for p in pages if p not in nav)


@pytest.mark.slow
def test_getting_started_wheel_install_is_true(tmp_path):
    """The wheel the getting-started page tells people to build has the package and the
    notebook extra it names (zoom-notebook is not on PyPI: the page must not say so)."""
    import zipfile

    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert "not\n   on PyPI yet" in page or "not on PyPI yet" in page
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("zoom_notebook-*.whl")
    assert wheel.name in page.replace("0.1.0", wheel.name.split("-")[1])
    names = zipfile.ZipFile(wheel).namelist()
    assert "zoom_notebook/core/display.py" in names and "zoom_notebook/sandbox/chat.py" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA")))
    assert b"Provides-Extra: notebook" in meta and b'traitlets>=5.9; extra == "notebook"' in meta
    # a real package: its license travels with it, and the scope table it reads
    assert b"License-Expression: MIT" in meta and any(n.endswith("/LICENSE") for n in names)
    assert "zoom_notebook/core/_spec_scopes.py" in names
    # the docs the errors name come with it (`zoom-notebook docs zoom-app`)
    assert any(n.endswith("data/share/zoom-notebook/docs/zoom-app.md") for n in names)


def test_readme_what_is_where_names_every_module_and_only_real_ones():
    """Every layer folder is in the table, and every module of it is named in its row
    (and nothing that does not exist)."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `([\w/.]+)` \| (.*) \|$", section, flags=re.M))
    package = ROOT / "zoom_notebook"
    folders = {p.name + "/" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert set(rows) == folders | {"__init__.py"}, (sorted(set(rows) ^ (folders | {"__init__.py"})))
    for folder in folders:
        modules = {p.name for p in (package / folder).glob("*.py")} - {"__init__.py",
                                                                       "__main__.py"}
        named = set(re.findall(r"`(\w+\.py)`", rows[folder]))
        assert named == modules, (folder, sorted(modules - named), sorted(named - modules))
    for rule in ("delivery/draft.py", "delivery/sending.py", "core/retry.py"):
        assert rule in section, rule  # the three reviewer rules
    for folder in ("tests/harness/", "tests/contract.py", "notebooks/", "benchmarks/"):
        assert folder in section and (ROOT / folder).exists(), folder


def test_every_code_block_names_its_language():
    """Issue 23 item 6: code blocks are labelled (python, bash, text …)."""
    import re

    for page in (ROOT / "docs").glob("*.md"):
        inside = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            fence = re.match(r"^\s*```(.*)$", line)
            if fence:
                if not inside:
                    assert fence.group(1).strip(), f"{page.name}:{number}: a bare ```"
                inside = not inside


def test_the_api_reference_covers_every_public_name():
    """The reference is generated from the docstrings (mkdocstrings): each public zn.*
    function and class has its `::: module.name` there."""
    import zoom_notebook as zn

    page = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    left_out = {"load_ipython_extension", "unload_ipython_extension", "sandbox", "Settings",
                "compose", "ComposeForm", "ZoomChatClient"}  # documented on their pages
    for name in sorted(set(zn.__all__) - left_out):
        obj = getattr(zn, name)
        assert f"::: {obj.__module__}.{name}" in page, name


def test_reliability_names_only_tests_that_exist():
    """docs/reliability.md maps SECURITY.md's items to tests: each named test exists."""
    import re

    page = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    for path, name in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page):
        assert f"def {name}(" in (ROOT / path).read_text(encoding="utf-8"), (path, name)
    for item in range(36, 42):
        assert f"\n| {item} |" in page, item
