"""``page``: an HTML page, reduced to the readable text of a region plus its links."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, ClassVar

from core.errors import ExtractError
from core.records import TEMPLATE_ONLY, Change, Extracted, Volatile
from monitors.base import Monitor, titles_summary
from monitors.diffing import MAX_SHOWN_LINE, diff_lines
from monitors.html import (
    decode_html,
    extract_links,
    lines_and_lists,
    lines_of,
    link_urls,
    mark_repeated_siblings,
    outermost,
    page_facts,
    parse_bounded,
    remove_invisible,
)
from monitors.keywords import focused
from monitors.learning import learn_lines, learn_link_order, learn_links, learn_path_segments
from monitors.lists import link_runs
from monitors.normalize import (
    TEMPLATE_SELECTORS,
    ComparablePair,
    apply_ignores,
    comparable_pair,
    compile_ignores,
    normalize_url,
)
from monitors.recurring import carried_lines, recurring_lines, too_edited
from monitors.significance import Evidence, edit_size, score
from monitors.sniff import binary_kind
from monitors.volatility import NO_NOISE, Noise, words


class PageMonitor(Monitor):
    kind = "page"
    accept = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
    own_keys: ClassVar[frozenset[str]] = frozenset(
        {"select", "exclude", "ignore_selectors", "render", "wait_for"})
    description = (
        "HTML page: text of the `select` region (default: body) without `exclude`, scripts, "
        "styles and hidden elements, plus its links as absolute URLs."
    )

    def extract(self, body: bytes, *, content_type: str = "", url: str = "") -> Extracted:
        binary = binary_kind(body, content_type)
        if binary is not None:
            served = content_type or "no Content-Type"
            raise ExtractError(f"not HTML: the body is {binary} (served as {served})")
        tree, bounds = parse_bounded(decode_html(body, content_type))
        facts = page_facts(tree)
        base = facts.base or url or self.config.url
        root = tree.body or tree.root
        if root is None:
            raise ExtractError("page has no HTML content")
        if self.config.select:
            regions = root.css(self.config.select)
            if not regions:
                raise ExtractError(f"select {self.config.select!r} matched nothing on the page")
        else:
            regions = [root]
        ignored = ", ".join(self.config.ignore_selectors)
        lines: list[str] = []
        links: list[list[str]] = []
        noise: list[str] = []
        noise_links: list[str] = []
        template: list[str] = []
        template_links: list[str] = []
        line_runs: list[list[int]] = []
        for region in regions:
            remove_invisible(region, self.config.exclude)
            for node in outermost(region.css(ignored)) if ignored else ():
                noise.extend(lines_of(node))
                noise_links.extend(link_urls(node, base))
            for node in outermost(region.css(TEMPLATE_SELECTORS)):
                template.extend(lines_of(node))
                template_links.extend(link_urls(node, base))
            mark_repeated_siblings(region)
            region_lines, region_lists = lines_and_lists(region)
            line_runs.extend([first + len(lines), count] for first, count in region_lists)
            links.extend(extract_links(region, base))
            lines.extend(region_lines)
        data: dict[str, Any] = {"title": facts.title, "links": links,
                                "scripts": facts.scripts, **bounds.notes()}
        if facts.js_shell:
            data["js_shell"] = True
        if noise:
            data.update(noise=noise, noise_links=noise_links)
        if template:
            data.update(template=template, template_links=template_links)
        if line_runs:
            data["list_lines"] = line_runs
        return Extracted(text="\n".join(lines), data=data)

    def _lines(self, old: Extracted, new: Extracted, noise: Noise,
               old_at: datetime | None, new_at: datetime | None,
               titles: Collection[str] = ()) -> ComparablePair:
        return comparable_pair(
            old.text.splitlines(), new.text.splitlines(), noise=noise,
            old_at=old_at, new_at=new_at, removed=old.data.get("noise", ()),
            new_removed=new.data.get("noise", ()),
            ignore=compile_ignores(self.config.ignore), content=frozenset(titles),
        )

    @staticmethod
    def _links(version: Extracted, noise: Noise) -> tuple[dict[str, list[str]], set[str]]:
        """Comparable links: key -> [url, text], without ignored regions and without what
        the monitor learned changes by itself (volatile parameters, rotating links); and
        the keys of every link the version shows, those included."""
        ignored = {normalize_url(u) for u in version.data.get("noise_links", ())}
        by_key: dict[str, list[str]] = {}
        for link, text in version.data.get("links", ()):
            canonical = normalize_url(link)
            if canonical not in ignored:
                by_key.setdefault(noise.link_key(canonical), [link, text])
        kept = {key for key, _ in noise.links.comparable(list(by_key))}
        return {key: value for key, value in by_key.items() if key in kept}, set(by_key)

    def stood(self, before: Extracted) -> frozenset[str]:
        return super().stood(before) | frozenset(
            normalize_url(u) for u, _ in before.data.get("links", ()))

    def recurring(self, old: Extracted, new: Extracted, change: Change,
                  noise: Noise = NO_NOISE, old_at: datetime | None = None,
                  new_at: datetime | None = None) -> set[Volatile]:
        # A new or withdrawn document is never slow noise: its line is added or removed
        # whole, which is never noted; a stamp that moved beside it is.
        if too_edited(change.detail):
            return set()
        ignore = compile_ignores(self.config.ignore)
        documents = [text for _, text in (*change.detail.get("links_added", ()),
                                          *change.detail.get("links_removed", ()))]
        return recurring_lines(
            [apply_ignores(line, ignore) for line in old.text.splitlines()],
            [apply_ignores(line, ignore) for line in new.text.splitlines()],
            noise, old_at, new_at, content=documents)

    def carried(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> set[Volatile]:
        ignore = compile_ignores(self.config.ignore)
        return carried_lines(
            [apply_ignores(line, ignore) for line in old.text.splitlines()],
            [apply_ignores(line, ignore) for line in new.text.splitlines()],
            noise, old_at, new_at)

    def learn(self, a: Extracted, b: Extracted, noise: Noise = NO_NOISE,
              at_a: datetime | None = None, at_b: datetime | None = None) -> set[Volatile]:
        learned: set[Volatile] = set()
        if a.text != b.text:  # the same text teaches nothing of the lines
            ignore = compile_ignores(self.config.ignore)
            lines_a = [apply_ignores(line, ignore) if ignore else line
                       for line in a.text.splitlines()]
            lines_b = [apply_ignores(line, ignore) if ignore else line
                       for line in b.text.splitlines()]
            learned = learn_lines(lines_a, lines_b, noise, at_a, at_b,
                                  a.data.get("list_lines", ()), b.data.get("list_lines", ()))
        if a.data.get("links") == b.data.get("links"):  # nor the same links, in order
            return learned
        urls_a = [normalize_url(u) for u, _ in a.data.get("links", ())]
        urls_b = [normalize_url(u) for u, _ in b.data.get("links", ())]
        learned |= learn_path_segments(urls_a, urls_b)
        keyed = Noise(noise.learned | frozenset(learned))
        learned |= learn_links([keyed.link_key(u) for u in urls_a],
                               [keyed.link_key(u) for u in urls_b])
        keyed = Noise(noise.learned | frozenset(learned))
        learned |= learn_link_order([keyed.link_key(u) for u in urls_a],
                                    [keyed.link_key(u) for u in urls_b], keyed,
                                    link_runs(a), link_runs(b))
        return learned

    def compare(self, old: Extracted, new: Extracted, noise: Noise = NO_NOISE, *,
                old_at: datetime | None = None, new_at: datetime | None = None
                ) -> Change | None:
        if old.content_hash == new.content_hash:
            return None
        (old_links, old_shown), (new_links, new_shown) = (self._links(old, noise),
                                                          self._links(new, noise))
        # A link that the other version shows, even where noise is learned (a "featured"
        # box that repeats a listed document at random), neither came nor went.
        added = [new_links[k] for k in new_links if k not in old_shown]
        removed = [old_links[k] for k in old_links if k not in new_shown]
        # The line of a document added or withdrawn is content, whatever noise is near.
        pair = self._lines(old, new, noise, old_at, new_at,
                           {words(text) for _, text in (*added, *removed) if text})
        diff = diff_lines(pair.old, pair.new, ordered=self.config.ordered)
        config = self.config
        if config.keywords or config.exclude_keywords:
            # Focused pages: only new (or withdrawn) matching links count, not text edits.
            added = [x for x in added if focused(x[1:], config.keywords, config.exclude_keywords)]
            removed = [x for x in removed
                       if focused(x[1:], config.keywords, config.exclude_keywords)]
            if not added and not removed:
                return None
        elif not diff and not added and not removed:
            return None
        template = {words(line) for line in (*old.data.get("template", ()),
                                             *new.data.get("template", ()))} | noise.template
        template_links = {
            noise.link_key(normalize_url(u))
            for u in (*old.data.get("template_links", ()), *new.data.get("template_links", ()),
                      *noise.template_links)
        }
        documents = [{"url": url, "title": text} for url, text in added
                     if noise.link_key(normalize_url(url)) not in template_links]
        # Only in the template: every changed line and every link added or removed is the
        # template's (a link withdrawn from the page's own content is news).
        template_only = all(words(line) in template for line in (*diff.added, *diff.removed)) \
            and all(noise.link_key(normalize_url(url)) in template_links
                    for url, _ in (*added, *removed))
        evidence = Evidence(
            lines_changed=len(diff.added) + len(diff.removed),
            lines_total=max(len(pair.old), len(pair.new)),
            edit_size=edit_size(diff.runs),
            links_added=len(added), links_removed=len(removed), documents=len(documents),
            template_only=template_only,
        )
        if diff.coarse:
            evidence.notes.append("diff cut short at its time limit: coarse view")
        if diff.clipped:
            evidence.notes.append(f"lines over {MAX_SHOWN_LINE:,} characters shown clipped")
        significance, reasons = score(evidence)
        return Change(
            kind="links" if added or removed else "text",
            summary=_summary(documents, added, removed, diff.added, diff.removed),
            diff=diff.unified,
            detail={
                "added": list(diff.added), "removed": list(diff.removed),
                "inline": diff.inline, "coarse": diff.coarse,
                **({"clipped": True} if diff.clipped else {}),
                "links_added": added, "links_removed": removed, "documents": documents,
            },
            significance=significance,
            reasons=reasons,
            quiet=TEMPLATE_ONLY if template_only else None,
        )


def _summary(
    documents: list[dict[str, str]], links_added: list[list[str]],
    links_removed: list[list[str]], lines_added: tuple[str, ...],
    lines_removed: tuple[str, ...],
) -> str:
    if documents:
        noun = "new document" if len(documents) == 1 else "new documents"
        return titles_summary(len(documents), noun, [d["title"] or d["url"] for d in documents])
    if links_added or links_removed:
        # Name them: a withdrawn document is news only if the digest says which one.
        named = [f"+{text or url}" for url, text in links_added] + \
                [f"-{text or url}" for url, text in links_removed]
        more = f" (+{len(named) - 3} more)" if len(named) > 3 else ""
        return (f"links: {len(links_added)} added, {len(links_removed)} removed: "
                f"{'; '.join(named[:3])}{more}")
    return f"{len(lines_added)} line(s) added, {len(lines_removed)} removed"
