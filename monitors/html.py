"""Pure HTML helpers for the page kind: decoding, readable text and links."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urldefrag, urljoin, urlsplit

from monitors.bounds import MAX_TAGS, Bounds, cut_to_budget, flatten_deep
from monitors.volatility import MAX_SLOT_LINES

if TYPE_CHECKING:  # the parser itself loads when a page is first parsed
    from selectolax.lexbor import LexborHTMLParser, LexborNode

# Elements that start and end a line of readable text.
BLOCK_TAGS = (
    "address, article, aside, blockquote, br, dd, details, dialog, div, dl, dt, fieldset, "
    "figcaption, figure, footer, form, h1, h2, h3, h4, h5, h6, header, hr, li, main, nav, ol, "
    "p, pre, section, summary, table, tbody, thead, tfoot, tr, td, th, caption, ul, option"
)
_BLOCK_SET = frozenset(name.strip() for name in BLOCK_TAGS.split(","))
# Never readable: code, styling, hidden UI and embedded objects.
INVISIBLE = (
    "script, style, noscript, template, head, svg, iframe, object, embed, "
    "[hidden], [aria-hidden='true'], input[type='hidden']"
)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
_ONE_SPACE = re.compile(r"\s")
_FOLD_SLICE = 65536
_BLOCK_BREAK = "\x1f"
# Where a list (``<ul>``, ``<ol>``, a ``<table>`` of rows) opens and closes: a block break
# too, that ``lines_and_lists`` also counts.
_LIST_OPEN, _LIST_CLOSE = "\x1c", "\x1d"
# A run of markers and the whitespace between them is one line break: a page's text has
# a marker at every block tag, and two in three of the pieces between them were empty.
# (A list marker follows a block marker, and str.split folds it as whitespace.)
_BLOCK_BREAKS = re.compile("\x1f[\\s\x1f]*")
_LIST_MARKS = _LIST_OPEN + _LIST_CLOSE
# A block break that stops at a list marker, which then starts the next part.
_BREAKS_BEFORE_LISTS = re.compile("\x1f[^\\S\x1c\x1d]*")
# A list opens before its tag and closes after its end tag: text a parser finds inside a
# table but outside its cells is moved before the table.
_LIST_TAG = re.compile("\x1f(?:<(?=(?:[uo]l|table)[\\s/>])|(</(?:[uo]l|table)\\s*>))")
_LIST_TAG_ANY_CASE = re.compile(
    "\x1f(?:<(?=(?i:[uo]l|table)[\\s/>])|(</(?i:[uo]l|table)\\s*>))")


def prefix_tree(words: list[str]) -> str:
    """A regex alternation of ``words`` factored by common prefixes (``p(?:re)?``).

    Python's regex engine tries the branches of an alternation one by one, so a flat
    list of 45 names cost 45 tests at every "<"; factored, a tag that is not a block tag
    fails at its first letter (1388 tags a page: 0.26 ms fell to 0.17 ms).
    """
    by_first: dict[str, list[str]] = {}
    ends = False
    for word in words:
        if word:
            by_first.setdefault(word[0], []).append(word[1:])
        else:
            ends = True
    branches = [re.escape(first) + prefix_tree(rest) for first, rest in sorted(by_first.items())]
    if not branches:
        return ""
    if len(branches) == 1 and not ends:
        return branches[0]
    return "(?:" + "|".join(branches) + ")" + ("?" if ends else "")


# Matches the "<" of a block tag (a literal first character keeps the scan fast) so the
# replacement is a plain literal too.
_BLOCK_NAMES = prefix_tree([name.strip() for name in BLOCK_TAGS.split(",")])
_BLOCK_TAG = re.compile(r"<(?=/?" + _BLOCK_NAMES + r"[\s/>])")
# Case-insensitive matching is slower; most pages write tags in lower case.
_BLOCK_TAG_ANY_CASE = re.compile(r"<(?=/?(?i:" + _BLOCK_NAMES + r")[\s/>])")
_UPPERCASE_TAG = re.compile(r"</?[A-Z]")
# Zero-width and other format characters that render as nothing but break equality.
_INVISIBLE_LIST = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_INVISIBLE = re.compile(f"[{_INVISIBLE_LIST}]")
_INVISIBLE_CHARS = dict.fromkeys(map(ord, _INVISIBLE_LIST))


def decode_html(body: bytes, content_type: str = "") -> str:
    """Decode as a browser would: a byte order mark, else the header charset, else a
    ``<meta charset>``, else UTF-8, and when that fails windows-1252 (the web's legacy
    default, which a page with no charset at all most often is)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace")
    for match in (_HEADER_CHARSET.search(content_type), _META_CHARSET.search(body[:4096])):
        if match is None:
            continue
        name = match.group(1)
        charset = name.decode("ascii", "ignore") if isinstance(name, bytes) else name
        try:
            return body.decode(charset, errors="replace")
        except LookupError:  # a bogus charset name: as if none was given
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


@lru_cache(maxsize=4096)
def normalize_line(line: str) -> str:
    """One line: NFC, no invisible characters, runs of whitespace folded to one space."""
    if not line.isascii():
        line = unicodedata.normalize("NFC", line).translate(_INVISIBLE_CHARS)
    return " ".join(line.split())


def normalize_text(text: str) -> str:
    """Collapse whitespace inside lines and drop empty lines."""
    lines = (normalize_line(line) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def remove_invisible(root: LexborNode, extra_selectors: tuple[str, ...] = ()) -> None:
    for selector in (INVISIBLE, *extra_selectors):
        for node in root.css(selector):
            node.decompose()
    for node in root.css("[style]"):
        if _DISPLAY_NONE.search(node.attributes.get("style") or ""):
            node.decompose()


def mark_block_boundaries(html: str) -> str:
    """Put a line-break marker before every block tag, opening or closing, in the source.

    One regex pass over the HTML string costs a fraction of inserting text nodes into the
    parsed tree, and gives the same text: a marker where a block starts or ends.
    """
    pattern = _BLOCK_TAG_ANY_CASE if _UPPERCASE_TAG.search(html) else _BLOCK_TAG
    marked = pattern.sub(_BLOCK_BREAK + "<", html)
    lists = _LIST_TAG_ANY_CASE if pattern is _BLOCK_TAG_ANY_CASE else _LIST_TAG
    # A call per list tag (a few dozen a page) costs less than a pass per kind of tag.
    return lists.sub(_mark_list, marked)


def _mark_list(tag: re.Match[str]) -> str:
    end = tag.group(1)
    return f"{_BLOCK_BREAK}{end}{_LIST_CLOSE}" if end else f"{_BLOCK_BREAK}{_LIST_OPEN}<"


def lines_of(node: LexborNode) -> list[str]:
    """Normalized non-empty lines of a node parsed from marked HTML."""
    return _lines(_text(node))


def lines_and_lists(node: LexborNode) -> tuple[list[str], list[list[int]]]:
    """``lines_of``, and where each outermost list of 2 to ``MAX_SLOT_LINES`` lines
    stands among them, as ``[first index, count]`` runs in document order."""
    lines: list[str] = []
    runs: list[list[int]] = []
    depth = start = 0
    for part in _BREAKS_BEFORE_LISTS.split(_text(node)):
        if part and part[0] in _LIST_MARKS:  # markers start the part that follows them
            for index, char in enumerate(part):
                if char == _LIST_OPEN:
                    depth += 1
                    start = len(lines) if depth == 1 else start
                elif char == _LIST_CLOSE:
                    if depth == 1 and 2 <= len(lines) - start <= MAX_SLOT_LINES:
                        runs.append([start, len(lines) - start])  # longer: never one slot
                    depth = max(depth - 1, 0)
                elif not char.isspace():
                    part = part[index:]
                    break
        line = " ".join(part.split()) if len(part) <= _FOLD_SLICE else _fold(part)
        if line:  # list markers are whitespace to str.split: a part of markers is empty
            lines.append(line)
    return lines, runs


def mark_repeated_siblings(root: LexborNode) -> None:
    """Mark, as a list, each run of sibling blocks that share their tag and class and each
    hold a link (cards: ``<div class="card">`` after ``<div class="card">``), so that
    ``lines_and_lists`` finds them as it finds a ``<ul>``. Paragraphs of a text that
    share a class (a word processor's ``MsoNormal``) hold no link each, and stay text.
    One selector finds the candidates in C; a page has few."""
    last_of: dict[int, list[LexborNode]] = {}
    runs: list[list[LexborNode]] = []
    for node in root.css("[class] + [class]"):
        if node.tag not in _BLOCK_SET:
            continue
        before = node.prev
        while before is not None and before.tag in ("-text", "-comment"):
            before = before.prev
        if (before is None or before.tag != node.tag
                or before.attributes.get("class") != node.attributes.get("class")):
            continue
        run = last_of.pop(before.mem_id, None)
        if run is None:
            run = [before, node]
            runs.append(run)
        else:
            run.append(node)
        last_of[node.mem_id] = run
    for run in runs:
        if all(member.css_first("a[href]") is not None for member in run):
            run[0].insert_before(_LIST_OPEN)
            run[-1].insert_after(_LIST_CLOSE)


def _text(node: LexborNode) -> str:
    text = node.text(deep=True)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
        # Six substring scans cost a fortieth of one regex pass that finds nothing.
        if any(char in text for char in _INVISIBLE_LIST):
            text = _INVISIBLE.sub("", text)
    return text


def _lines(text: str) -> list[str]:
    # The common short block is folded inline; a function call per line cost more than
    # the folding itself on large pages.
    lines = [" ".join(part.split()) if len(part) <= _FOLD_SLICE else _fold(part)
             for part in _BLOCK_BREAKS.split(text)]
    return [line for line in lines if line]


def _fold(part: str) -> str:
    """Whitespace runs to one space. str.split is fastest, but its list of every word of
    a huge block (a 20 MB page with no block tags) took 300 MB: fold those by slices."""
    if len(part) <= _FOLD_SLICE:
        return " ".join(part.split())
    folded = []
    start = 0
    while start < len(part):
        # Each slice ends at a whitespace character, so no word is cut in two.
        space = _ONE_SPACE.search(part, start + _FOLD_SLICE)
        end = space.start() if space is not None else len(part)
        piece = " ".join(part[start:end].split())
        if piece:
            folded.append(piece)
        start = end
    return " ".join(folded)


def readable_text(html: str) -> str:
    """Text of an HTML fragment with one line per block element and normalized whitespace.

    Newlines in the HTML source are just whitespace, as in a browser; only block
    boundaries (marked with a control character no page text uses) start a line.
    """
    tree = parse_bounded(html)[0]
    root = tree.body or tree.root
    return "\n".join(lines_of(root)) if root is not None else ""


def outermost(nodes: list[LexborNode]) -> list[LexborNode]:
    """Drop nodes nested in another node of the list (their text would count twice)."""
    chosen = {node.mem_id for node in nodes}
    result = []
    seen: set[int] = set()
    for node in nodes:
        if node.mem_id in seen:  # a node matched by two selectors of one list
            continue
        seen.add(node.mem_id)
        parent = node.parent
        while parent is not None and parent.mem_id not in chosen:
            parent = parent.parent
        if parent is None:
            result.append(node)
    return result


# Mount points of single-page-app frameworks, empty until JavaScript renders them.
_APP_ROOTS = "#root, #app, #__next, #__nuxt, [ng-app], [ng-version], [data-reactroot], app-root"
_FACTS = "base, title, script, noscript, " + _APP_ROOTS


@dataclass(frozen=True, slots=True)
class PageFacts:
    """What a page says about itself, read before anything is removed from it."""

    #: ``href`` of the first ``<base href>``, else None.
    base: str | None
    #: Text of the first ``<title>``.
    title: str
    scripts: int
    #: Scripts plus an app mount point, or a ``<noscript>`` asking for JavaScript.
    js_shell: bool


def page_facts(tree: LexborHTMLParser) -> PageFacts:
    """One query over the tree instead of one per fact (each walks every element)."""
    base: str | None = None
    title: str | None = None
    scripts = 0
    app_root = asks_for_js = False
    seen: set[int] = set()
    for node in tree.css(_FACTS):
        if node.mem_id in seen:  # lexbor lists a node once per selector it matches
            continue
        seen.add(node.mem_id)
        tag = node.tag
        if tag == "script":
            scripts += 1
        elif tag == "title":
            if title is None:
                title = node.text(strip=True)
        elif tag == "base":
            href = node.attributes.get("href")
            if base is None and href is not None:
                base = href
        elif tag == "noscript":
            asks_for_js = asks_for_js or "javascript" in node.text().lower()
        if not app_root and node.css_matches(_APP_ROOTS):
            app_root = True
    return PageFacts(base, title or "", scripts, scripts > 0 and (app_root or asks_for_js))


# Pages of one site repeat their navigation links, and versions of a page repeat most of
# theirs: resolving each (href, base) once keeps link extraction off the profile. A few
# thousand keep a site's navigation; 32,768 held 9 MB in each worker, mostly links seen once.
@lru_cache(maxsize=4096)
def http_link(href: str, base: str) -> str | None:
    """Absolute http(s) URL for ``href`` (fragment dropped), or None for other schemes."""
    href = href.strip()
    if not href:
        return None
    if "#" not in href and "/." not in href:
        # The common shapes, without urllib: already absolute, or rooted at the host.
        if href.startswith(("https://", "http://")):
            return href
        if href.startswith("/") and not href.startswith("//"):
            origin = _origin(base)
            if origin:
                return origin + href
    try:
        absolute = urldefrag(urljoin(base, href)).url
    except ValueError:
        return None
    if urlsplit(absolute).scheme not in ("http", "https"):
        return None
    return absolute


@lru_cache(maxsize=1024)
def _origin(base: str) -> str:
    """``scheme://host[:port]`` of an http(s) base URL, or "" to take the slow path."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def extract_links(root: LexborNode, base: str) -> list[list[str]]:
    """``[url, text]`` pairs in document order, each URL once."""
    seen: set[str] = set()
    links: list[list[str]] = []
    for anchor in root.css("a[href]"):
        url = http_link(anchor.attributes.get("href") or "", base)
        if url is None or url in seen:
            continue
        seen.add(url)
        links.append([url, normalize_line(anchor.text(deep=True, separator=" "))])
    return links


def link_urls(root: LexborNode, base: str) -> list[str]:
    """The absolute http(s) URLs a region links to (no texts: for membership tests)."""
    urls = (http_link(a.attributes.get("href") or "", base) for a in root.css("a[href]"))
    return [url for url in urls if url is not None]



def parse_bounded(html: str) -> tuple[LexborHTMLParser, Bounds]:
    """Parse for reading: block boundaries marked, within the tag budget and the nesting
    limit of monitors/bounds.py (cut first, so a huge page is not marked whole)."""
    from selectolax.lexbor import LexborHTMLParser

    tags = html.count("<")
    html, cut_chars = cut_to_budget(html, tags=tags)
    html, flattened = flatten_deep(mark_block_boundaries(html), tags=min(tags, MAX_TAGS))
    return LexborHTMLParser(html), Bounds(cut_chars, flattened)
