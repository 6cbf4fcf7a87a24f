"""What the docs tests share: the pages, and readers of their lines, headings, sections
and code spans."""

from __future__ import annotations

import re
from pathlib import Path

import pipeline.cli.main  # noqa: F401  (registers the commands on the group)

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
README = REPO / "README.md"
CHANGELOG = REPO / "CHANGELOG.md"
PAGES = sorted(DOCS.glob("*.md"))
LINKED_FILES = [README, CHANGELOG, *PAGES]
LINE_LIMITS = {README: 200, DOCS / "architecture.md": 250}


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def marked_lines(path: Path) -> list[tuple[str, bool]]:
    """Each line of a page, and whether it is inside a fenced code block."""
    marked, fenced = [], False
    for line in text_of(path).splitlines():
        fence = line.startswith("```")
        fenced ^= fence
        marked.append((line, fenced or fence))
    return marked


def prose(path: Path) -> str:
    """The page without its fenced code blocks (a ``# comment`` there is no heading)."""
    return "\n".join(line for line, code in marked_lines(path) if not code)


def level(line: str) -> int:
    return len(line) - len(line.lstrip("#")) if line.startswith("#") else 0


def headings(path: Path) -> list[str]:
    return [line.lstrip("#").strip() for line, code in marked_lines(path)
            if not code and level(line)]


def section(page: Path, title: str) -> str:
    """The part of ``page`` under the first heading that contains ``title``, up to the next
    heading of the same or a higher level; empty when there is no such heading."""
    lines = marked_lines(page)
    starts = [n for n, (line, code) in enumerate(lines)
              if not code and level(line) and title in line]
    if not starts:
        return ""
    start = starts[0]
    end = next((n for n in range(start + 1, len(lines)) if not lines[n][1]
                and 0 < level(lines[n][0]) <= level(lines[start][0])), len(lines))
    return "\n".join(line for line, _ in lines[start:end])


def code_spans(line: str) -> list[str]:
    return re.findall(r"`([^`]+)`", line)
