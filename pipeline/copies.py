"""A second copy of a source, fetched moments after a check: what differs between the
two changes by itself (``take_copy``), and the check is judged again with what was
learned (``confirm``), or against its site's template once every page of the site is in
(``judge_with_site``). Stages 2-3 run in the pool when there is one (``evaluate``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from core.records import Extracted, FetchResult
from monitors.base import Monitor
from monitors.volatility import Noise
from pipeline import stages
from pipeline.pool import Extractor
from pipeline.stages import Outcome
from pipeline.templates import SiteRound
from storage.db import Store
from storage.records import CONFIRM, Check, Copy, MonitorState, PackedContent

if TYPE_CHECKING:  # the HTTP stack loads where checks are fetched
    from pipeline.fetch.client import Fetcher

log = logging.getLogger(__name__)


async def evaluate(
    monitor: Monitor, fetched: FetchResult, state: MonitorState, store: Store,
    extractor: Extractor | None, noise: Noise,
) -> Outcome:
    """Stages 2-3, in the pool when there is one. Never raises for a bad source."""
    try:
        if extractor is not None:
            return await extractor.evaluate(monitor, fetched, state, store.load_content, noise)
        return stages.evaluate(monitor, fetched, state, store.load_content, noise)
    except Exception as exc:  # one broken source must not stop the run
        log.exception("internal error while processing %s", monitor.id)
        return stages.failed(fetched, f"internal error: {type(exc).__name__}: {exc}")


async def judge_with_site(
    monitor: Monitor, fetched: FetchResult, state: MonitorState, store: Store,
    extractor: Extractor | None, noise: Noise, outcome: Outcome, site: SiteRound,
) -> Outcome:
    """The change judged again once every page of the site has been fetched, against
    what they share before and now (a new footer is on every page, not yet stored)."""
    template = await site.template()
    if template == await site.before():
        return outcome
    noise = replace(noise, template=template.lines, template_links=template.links)
    again = await evaluate(monitor, fetched, state, store, extractor, noise)
    if again.change is None:  # the same comparison: it cannot, but never lose a change
        return outcome
    return replace(again, check=replace(again.check, note=outcome.check.note))


async def take_copy(
    monitor: Monitor, fetcher: Fetcher, first_check: Check, first: Extracted | PackedContent,
    state: MonitorState, store: Store, extractor: Extractor | None, noise: Noise,
) -> Copy:
    """Fetch a second copy moments after ``first_check`` and learn what differs between
    the two: that changes by itself."""
    # defaults.confirm_pause (1.1 s): long enough for a one-second clock to tick.
    await asyncio.sleep(fetcher.settings.confirm_pause.total_seconds())
    if first_check.outcome == "new":
        # Nothing is announced from a first check: a server that vouches for its
        # validators (304) spares the body; noise it hides is learned at a difference.
        asked = replace(state, last_snapshot_hash=first_check.snapshot_hash,
                        etag=first_check.headers.get("etag"),
                        last_modified=first_check.headers.get("last-modified"))
    else:  # a difference is confirmed on a whole second copy
        asked = replace(state, etag=None, last_modified=None)
    second = await fetcher.fetch(monitor, asked)
    try:
        if extractor is not None:
            copied, learned = await extractor.learn_from_copy(
                monitor, first_check, first, second, noise, state, store.load_content)
        else:
            before = (store.load_content(state.last_content_hash)
                      if state.last_content_hash else None)
            copied, learned = stages.learn_from_copy(monitor, first_check, first, second,
                                                     noise, before)
    except Exception as exc:  # a copy that cannot be read teaches nothing
        log.exception("internal error while learning from a copy of %s", monitor.id)
        copied = stages.Outcome(stages.base_check(
            second, CONFIRM, note=f"confirming copy unusable: {type(exc).__name__}"))
        learned = frozenset()
    return Copy(copied.check, copied.snapshot, copied.content, tuple(sorted(learned)))


async def confirm(
    monitor: Monitor, fetcher: Fetcher, fetched: FetchResult, state: MonitorState,
    store: Store, extractor: Extractor | None, noise: Noise, outcome: Outcome,
) -> tuple[Copy, Outcome]:
    """Take a second copy (``take_copy``) and judge the first copy again with what was
    learned. The copy is recorded as a check of its own."""
    assert outcome.content is not None  # a confirmable outcome has its content
    copy = await take_copy(monitor, fetcher, outcome.check, outcome.content, state, store,
                           extractor, noise)
    if not copy.learned:
        return copy, outcome
    wiser = replace(noise, learned=noise.learned | frozenset(copy.learned))
    again = await evaluate(monitor, fetched, state, store, extractor, wiser)
    if again.change is None and again.check.outcome == "unchanged":
        again = replace(again, check=replace(
            again.check, note="differs only in what changes by itself, learned from a "
                              "second copy fetched moments later"))
    return copy, again
