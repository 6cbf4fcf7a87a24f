"""``page``: an HTML page, reduced to the readable text of a region plus its links."""

from __future__ import annotations

from typing import ClassVar

from monitors.base import Monitor
from monitors.errors import ExtractError
from monitors.html import decode_html, extract_links, parse, readable_text, remove_invisible
from monitors.records import Extracted


class PageMonitor(Monitor):
    kind = "page"
    accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
    own_keys: ClassVar[frozenset[str]] = frozenset({"select", "exclude"})
    description = (
        "HTML page: text of the `select` region (default: body) without `exclude`, scripts, "
        "styles and hidden elements, plus its links as absolute URLs."
    )

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        tree = parse(decode_html(body, content_type))
        base = url or self.config.url
        base_tag = tree.css_first("base[href]")
        if base_tag is not None:
            base = base_tag.attributes.get("href") or base
        title_node = tree.css_first("title")
        title = title_node.text(strip=True) if title_node is not None else ""
        root = tree.body or tree.root
        if root is None:
            raise ExtractError("page has no HTML content")
        if self.config.select:
            regions = root.css(self.config.select)
            if not regions:
                raise ExtractError(f"select {self.config.select!r} matched nothing on the page")
        else:
            regions = [root]
        texts: list[str] = []
        links: list[list[str]] = []
        for region in regions:
            remove_invisible(region, self.config.exclude)
            links.extend(extract_links(region, base))
            texts.append(readable_text(region))
        return Extracted(
            text="\n".join(t for t in texts if t), data={"title": title, "links": links}
        )
