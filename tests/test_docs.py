"""The documentation stands alone and stays true to the code.

* No file of the repository cites the outside design document the project started from: a
  reader of the repository cannot open it, so what it said lives in ``docs/``.
* Every relative link of ``docs/*.md`` and of every README resolves — the file exists and, for a
  ``#fragment`` into a Markdown file, so does the heading.
* ``docs/http-api.md`` lists exactly the routes the three services serve: a route added without
  its line there, or a line left behind by a removed route, fails here.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from fustor_agent.openapi import build_openapi as agent_openapi
from fustor_fusion.app import ENDPOINTS as FUSION_ENDPOINTS
from fustor_registry.api.app import ENDPOINTS as REGISTRY_ENDPOINTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HTTP_API = DOCS / "http-api.md"

# Spelt in pieces so that this file does not cite what it forbids.
OUTSIDE_DOC = "DES" + "IGN"
CITATION = re.compile(rf"\b{OUTSIDE_DOC}\b|(?i:{OUTSIDE_DOC.lower()} brief)")
"""The document's name in capitals (alone, with ``.md`` or a section number), or "the ... brief"
in any case; the word "design" alone is fine."""

SKIPPED_DIRS = {".git", ".venv", ".tox", ".nox", "node_modules", "__pycache__", "build", "dist"}


def repository_files() -> list[Path]:
    """The files of the repository: git's list when this is a checkout, else a walk that leaves
    out virtualenvs, caches and build output."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return [
            path
            for path in ROOT.rglob("*")
            if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts)
        ]
    return [ROOT / name for name in listed.decode("utf-8", "surrogateescape").split("\0") if name]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary, or gone from the work tree


def test_no_file_cites_the_outside_design_document() -> None:
    citing = []
    for path in repository_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if CITATION.search(line):
                citing.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not citing, "cite a docs/ page instead (or say it where it is needed):\n" + "\n".join(citing)


def test_the_citation_check_finds_citations() -> None:
    """The pattern is what makes the check above able to fail."""
    for cited in (f"({OUTSIDE_DOC} 6.2)", f"see {OUTSIDE_DOC}.md", f"the {OUTSIDE_DOC.lower()} brief's file"):
        assert CITATION.search(cited), cited
    for fine in ("The first design used watchfiles", "designed for NFS"):
        assert not CITATION.search(fine), fine


# --------------------------------------------------------------------------------------------
# links
# --------------------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def documentation_pages() -> list[Path]:
    pages = set(DOCS.glob("*.md"))
    pages.update(path for path in repository_files() if path.name == "README.md" and path.is_file())
    return sorted(pages)


def prose(text: str) -> str:
    """The text without code blocks and code spans, where a ``[x](y)`` is no link."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def anchors(text: str) -> set[str]:
    """The fragments GitHub gives the headings of a Markdown text."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in HEADING.findall(FENCE.sub("", text)):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
        slug = re.sub(r"[^\w\- ]", "", plain.lower()).replace(" ", "-")
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        found.add(slug if not seen else f"{slug}-{seen}")
    return found


def relative_links(page: Path) -> Iterator[str]:
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: ...
        yield target


def broken_link(page: Path, target: str, root: Path = ROOT) -> str | None:
    """Why ``target`` (a relative link on ``page``) does not resolve inside ``root``, or None when
    it does."""
    name, _, fragment = target.partition("#")
    destination = (page.parent / name).resolve() if name else page
    if not destination.exists():
        return f"{name} does not exist"
    if not destination.is_relative_to(root):
        return f"{name} lies outside the repository"
    if (
        fragment
        and destination.suffix == ".md"
        and fragment not in anchors(destination.read_text(encoding="utf-8"))
    ):
        return f"{destination.relative_to(root)} has no heading #{fragment}"
    return None


def test_every_relative_link_of_the_docs_and_readmes_resolves() -> None:
    pages = documentation_pages()
    assert DOCS / "architecture.md" in pages and ROOT / "README.md" in pages
    broken = [
        f"{page.relative_to(ROOT)}: ({target}): {why}"
        for page in pages
        for target in relative_links(page)
        if (why := broken_link(page, target)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_the_link_check_sees_a_broken_link(tmp_path: Path) -> None:
    """A missing file, a missing heading, and links inside code are not links."""
    page = tmp_path / "page.md"
    page.write_text(
        "# A `code` title\n\n[ok](#a-code-title) [gone](missing.md) [bad](#nowhere)\n"
        "`[not](a-link.md)`\n\n```\n[nor](this.md)\n```\n"
    )
    targets = list(relative_links(page))
    assert targets == ["#a-code-title", "missing.md", "#nowhere"]
    assert broken_link(page, "#a-code-title", tmp_path) is None
    assert broken_link(page, "missing.md", tmp_path) is not None
    assert broken_link(page, "#nowhere", tmp_path) is not None
    assert broken_link(page, "../elsewhere.md", tmp_path) is not None


# --------------------------------------------------------------------------------------------
# the HTTP API page against the route tables
# --------------------------------------------------------------------------------------------

DOCUMENTED_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")
TRIGGER = "/api/v1/pipes/{name}/{mode}"


class _Options(BaseModel):
    pass


def agent_routes() -> set[tuple[str, str]]:
    """The agent's routes; its trigger route is documented once per triggerable mode, here once."""
    document = agent_openapi({"some-mode": _Options})
    routes = set()
    for path, operations in document["paths"].items():
        for method in operations:
            routes.add((method.upper(), TRIGGER if path.endswith("/some-mode") else path))
    return routes


def documented_routes(section: str) -> set[tuple[str, str]]:
    """The ``METHOD /path`` of the tables in one ``## section`` of the HTTP API page."""
    text = HTTP_API.read_text(encoding="utf-8")
    match = re.search(rf"^## {section}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"docs/http-api.md has no section '## {section}'"
    rows = [line for line in match.group(1).splitlines() if line.startswith("| `")]
    return {(method, path) for line in rows for method, path in DOCUMENTED_ROUTE.findall(line.split("|")[1])}


def test_the_http_api_page_lists_every_route_of_each_service() -> None:
    served = {
        "Fusion": {(e.method, e.path) for e in FUSION_ENDPOINTS},
        "Agent": agent_routes(),
        "Registry": {(e.method, e.path) for e in REGISTRY_ENDPOINTS},
    }
    problems = []
    for section, routes in served.items():
        documented = documented_routes(section)
        for method, path in sorted(routes - documented):
            problems.append(f"{section}: {method} {path} is served but not in docs/http-api.md")
        for method, path in sorted(documented - routes):
            problems.append(f"{section}: {method} {path} is in docs/http-api.md but not served")
    assert not problems, "\n".join(problems)
