"""The README and docs/ hold together: every relative link names a file that exists, and an
``#anchor`` names a heading of that file (GitHub's slugs); the README stays a README."""

from __future__ import annotations

import re
from pathlib import Path

from harness.env.binaries import PROJECT_ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"```.*?```", re.S)
README_MAX_LINES = 350  # the rest goes to docs/


def slugs(markdown: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    found = set()
    for heading in re.findall(r"^#+\s+(.*)$", FENCE.sub("", markdown), re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def broken_links(files: list[Path]) -> list[str]:
    broken = []
    for page in files:
        for target in LINK.findall(FENCE.sub("", page.read_text())):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in slugs(dest.read_text()):
                broken.append(f"{page.name}: {target} (no such heading)")
    return broken


def test_every_link_in_the_readme_and_docs_resolves() -> None:
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    assert len(pages) > 1 and broken_links(pages) == []


def test_a_broken_link_and_a_missing_heading_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n")
    (tmp_path / "b.md").write_text("[ok](a.md#two-words) [gone](c.md) [bad](a.md#three) [web](https://x.y/z)\n"
                                   "```\n[in code](nowhere.md)\n```\n")
    assert broken_links([tmp_path / "b.md"]) == ["b.md: c.md (no such file)", "b.md: a.md#three (no such heading)"]


def test_the_readme_is_short() -> None:
    assert len((PROJECT_ROOT / "README.md").read_text().splitlines()) < README_MAX_LINES
