"""The pure middle of a check: classify, extract and compare, from values to values.

Nothing here touches the network or the database; the run loop hands in what was fetched,
the monitor's state and a way to read its previous content, and gets back what to store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from core.canonical import read_json
from core.errors import ExtractError, FailureKind
from core.records import TEMPLATE_ONLY, Change, Extracted, FetchResult, Volatile
from monitors import signals
from monitors.base import Monitor
from monitors.learning import FINAL_URL, RESPONSE, learn_final_url, url_words
from monitors.significance import STATUS_FLIP
from monitors.volatility import NO_NOISE, Noise
from storage.blobs import decompress_body
from storage.records import CONFIRM, Check, MonitorState, PackedContent, Snapshot

# A redirect that moves a page elsewhere matters, but less than the page disappearing.
MOVED_SIGNIFICANCE = 0.7
RESTORED_SIGNIFICANCE = 0.6
#: Why a signal's change is not announced: its alert is (``_signal_change``).
ADVISED = "announced as an alert, with what to do"
#: The type of a DOM a browser rendered (the check's headers stay the server's).
RENDERED_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one check produced, ready for ``Store.record``."""

    check: Check
    snapshot: Snapshot | None = None
    #: Packed when the outcome comes from a parsing worker.
    content: Extracted | PackedContent | None = None
    change: Change | None = None
    #: The status signal the monitor is in after this check (None: a normal page).
    signal: str | None = None
    #: A difference in content that a confirming copy may show to be noise.
    confirmable: bool = False
    #: Facts noted with a change: what was learned at the lines it edited, carried to
    #: their new wording, and, for a change to announce, where it took place when that is
    #: the words of one line (learned once it changes at nearly every check;
    #: ``monitors.recurring``).
    noted: frozenset[Volatile] = frozenset()


def base_check(fetched: FetchResult, outcome: str, **fields: object) -> Check:
    served = served_snapshot(fetched)
    return Check(
        monitor_id=fetched.monitor_id, started_at=fetched.started_at,
        duration_ms=fetched.duration_ms, url=fetched.url, final_url=fetched.final_url,
        status=fetched.status, redirects=fetched.redirects, headers=fetched.headers,
        bytes=fetched.bytes_received, outcome=outcome,
        served_snapshot_hash=served.hash if served else None,
        **fields,  # type: ignore[arg-type]
    )


def served_snapshot(fetched: FetchResult) -> Snapshot | None:
    """A rendered page's server HTML, kept beside the DOM it was rendered into."""
    if fetched.served_body is None:
        return None
    return Snapshot.of(fetched.served_body, fetched.content_type)


def snapshot_of(fetched: FetchResult) -> Snapshot:
    """The body as stored: for a rendered page the DOM (serialized as UTF-8, whatever the
    server's charset), carrying what the server sent."""
    served = served_snapshot(fetched)
    if served is None:
        return Snapshot.of(fetched.body or b"", fetched.content_type)
    return replace(Snapshot.of(fetched.body or b"", RENDERED_TYPE), served=served)


def failed(
    fetched: FetchResult, error: str, snapshot: Snapshot | None = None,
    signal: str | None = None,
) -> Outcome:
    check = base_check(
        fetched, "error", error=error, snapshot_hash=snapshot.hash if snapshot else None
    )
    return Outcome(check=check, snapshot=snapshot, signal=signal)


def extract(monitor: Monitor, fetched: FetchResult) -> tuple[Snapshot, Extracted | str]:
    """The snapshot always survives; a failed extraction returns its message."""
    body = fetched.body or b""
    snapshot = snapshot_of(fetched)
    if not body:
        return snapshot, "empty body: the server answered 200 with no content"
    try:
        return snapshot, monitor.extract(
            body, content_type=snapshot.content_type, url=fetched.final_url or fetched.url
        )
    except ExtractError as exc:
        return snapshot, exc.kind.message(str(exc))
    except (ValueError, TypeError, RecursionError, UnicodeError, LookupError) as exc:
        # A parser choking on hostile input is a bad source, not a bug in the run.
        return snapshot, FailureKind.EXTRACT_ERROR.message(f"{type(exc).__name__}: {exc}")


def has_body_to_read(fetched: FetchResult) -> bool:
    """Will ``evaluate`` have a body to look at? (So a caller can evaluate it elsewhere.)"""
    status = fetched.status or 0
    return fetched.error is None and 200 <= status < 300 and bool(fetched.body)


def evaluate(
    monitor: Monitor,
    fetched: FetchResult,
    state: MonitorState,
    load_content: Callable[[str], Extracted],
    noise: Noise = NO_NOISE,
) -> Outcome:
    """Decide what one fetch means: error, signal, not-modified, new, changed, unchanged.

    ``noise`` is what the monitor learned changes by itself on its source."""
    if fetched.error is not None:
        return failed(fetched, fetched.error, signal=state.signal)
    if fetched.status == 304:
        return not_modified(fetched, state)
    signal = signals.response_signal(fetched)
    status = fetched.status or 0
    if signal is not None or status >= 400 or status < 200:
        raw = snapshot_of(fetched) if fetched.body else None
        if signal is not None:
            return enter_signal(signal, fetched, state, raw)
        error = FailureKind.HTTP_STATUS_FAILED.message(f"HTTP {status} {fetched.reason}".strip())
        return failed(fetched, error, raw, signal=state.signal)
    snapshot, extracted = extract(monitor, fetched)                         # extract
    if isinstance(extracted, str):
        return failed(fetched, extracted, snapshot, signal=state.signal)
    signal = signals.content_signal(monitor.kind, extracted,
                                    rendered=fetched.served_body is not None)
    if signal is not None:
        return enter_signal(signal, fetched, state, snapshot)
    previous = None
    if state.last_content_hash == extracted.content_hash:
        previous = extracted  # equal content: compare() finds nothing without a read
    elif state.last_content_hash is not None:
        previous = load_content(state.last_content_hash)
    outcome = compare(monitor, fetched, snapshot, extracted, previous, noise,
                      _moment(state.last_content_at))                       # compare
    return _after_signals(outcome, fetched, state, noise)


def not_modified(fetched: FetchResult, state: MonitorState) -> Outcome:
    if state.last_snapshot_hash is None:
        return failed(fetched, "HTTP 304 Not Modified, but no earlier version is stored")
    check = base_check(
        fetched, "not-modified",
        snapshot_hash=state.last_snapshot_hash, content_hash=state.last_content_hash,
    )
    return Outcome(check=check, signal=state.signal)


def enter_signal(
    signal: str, fetched: FetchResult, state: MonitorState, snapshot: Snapshot | None
) -> Outcome:
    """A signal is a change once, when the monitor enters it; then it is the steady state.

    The response is kept as evidence, never compared as content, and never becomes the
    baseline: when the page comes back it is compared with the last real version.
    """
    snapshot_hash = snapshot.hash if snapshot else None
    if signal == signals.BLOCKED:
        change = None if state.signal == signal else _signal_change(signal, fetched)
        check = base_check(fetched, "blocked", snapshot_hash=snapshot_hash,
                           error=signals.describe(signal, fetched))
        return Outcome(check=check, snapshot=snapshot, change=change, signal=signal)
    advice = signals.ADVICE.get(signal)
    note = f"{signals.describe(signal, fetched)}; {advice}" if advice else None
    if state.signal == signal:
        check = base_check(fetched, "unchanged", snapshot_hash=snapshot_hash, note=note)
        return Outcome(check=check, snapshot=snapshot, signal=signal)
    check = base_check(fetched, "changed", snapshot_hash=snapshot_hash, note=note)
    return Outcome(check=check, snapshot=snapshot, change=_signal_change(signal, fetched),
                   signal=signal)


def _signal_change(signal: str, fetched: FetchResult) -> Change:
    # A signal with advice reaches the digest once, as an alert saying what to do
    # (storage/alerts.py): the change that records it is not announced besides.
    quiet = ADVISED if signal in signals.ADVICE else None
    return Change(
        kind=signal, summary=signals.describe(signal, fetched), diff="",
        detail={"status": fetched.status, "final_url": fetched.final_url},
        significance=STATUS_FLIP, reasons=(f"status: {signal}",), quiet=quiet,
    )


def _after_signals(outcome: Outcome, fetched: FetchResult, state: MonitorState,
                   noise: Noise = NO_NOISE) -> Outcome:
    """Leaving a signal, or a redirect moving elsewhere, is news even with equal content.
    A redirect target that moved only where it was learned to change by itself (a session
    in its path) did not move; one that moved otherwise is confirmed on a second copy."""
    notes: list[str] = []
    kind = None
    significance = 0.0
    if state.signal is not None and outcome.check.outcome != "new":
        notes.append(f"back after {state.signal}")
        kind, significance = "restored", RESTORED_SIGNIFICANCE
    if signals.moved(state.last_final_url, fetched.final_url) and not noise.same_field(
            RESPONSE, FINAL_URL, url_words(state.last_final_url or ""),
            url_words(fetched.final_url or "")):
        notes.append(f"redirect target moved: {state.last_final_url} -> {fetched.final_url}")
        kind, significance = "redirected", MOVED_SIGNIFICANCE
    if kind is None:
        return outcome
    change = outcome.change
    if change is not None:
        change = replace(
            change,
            significance=max(change.significance, significance),
            reasons=(*change.reasons, *notes),
            detail={**change.detail, "previous_signal": state.signal,
                    "previous_final_url": state.last_final_url},
        )
    else:
        change = Change(kind=kind, summary="; ".join(notes), diff="",
                        detail={"previous_signal": state.signal,
                                "previous_final_url": state.last_final_url,
                                "final_url": fetched.final_url},
                        significance=significance, reasons=tuple(notes))
    check = replace(outcome.check, outcome="changed")
    confirmable = outcome.confirmable or (kind == "redirected" and outcome.content is not None)
    return replace(outcome, check=check, change=change, confirmable=confirmable)


def compare(
    monitor: Monitor,
    fetched: FetchResult,
    snapshot: Snapshot,
    new: Extracted,
    previous: Extracted | None,
    noise: Noise = NO_NOISE,
    previous_at: datetime | None = None,
) -> Outcome:
    """``new`` against the monitor's previous content (None for a first check)."""
    ids = {"snapshot_hash": snapshot.hash, "content_hash": new.content_hash}
    if previous is None:
        return Outcome(base_check(fetched, "new", **ids), snapshot, new, confirmable=True)
    change = monitor.compare(previous, new, noise, old_at=previous_at,
                             new_at=_moment(fetched.started_at))
    if change is None:
        note = None
        if previous.content_hash != new.content_hash:
            note = "differs only in what changes by itself (clocks, learned noise, order)"
        return Outcome(base_check(fetched, "unchanged", note=note, **ids), snapshot, new)
    new_at = _moment(fetched.started_at)
    carried = monitor.carried(previous, new, noise, previous_at, new_at)
    # A regenerated PDF is not announced whatever a second copy shows: no confirming
    # fetch for it. A change only in the site's template is confirmed: a stamp in the
    # footer that moves at each request is noise to learn, not a template change to
    # record at every check. What was learned at the lines it edited (a new footer's
    # year) follows them.
    if change.quiet is not None:
        return Outcome(base_check(fetched, "changed", **ids), snapshot, new, change,
                       confirmable=change.quiet == TEMPLATE_ONLY, noted=frozenset(carried))
    noted = monitor.recurring(previous, new, change, noise, previous_at, new_at) | carried
    return Outcome(base_check(fetched, "changed", **ids), snapshot, new, change,
                   confirmable=True, noted=frozenset(noted))


def _moment(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def _same_note(first_check: Check) -> str:
    return ("second copy of a first check: the same, nothing changes by itself"
            if first_check.outcome == "new" else
            "second copy: the same, so the difference is real")


def copy_to_read(first_check: Check, copy: FetchResult) -> bool:
    """Whether learning from ``copy`` means parsing it: not for a 304, a copy that
    failed, or the same bytes as the first copy (each settled without a parser)."""
    if copy.status == 304 or copy.body is None or not has_body_to_read(copy):
        return False
    return snapshot_of(copy).hash != first_check.snapshot_hash


def learn_from_copy(
    monitor: Monitor, first_check: Check, first: Extracted | PackedContent,
    copy: FetchResult, noise: Noise = NO_NOISE, before: Extracted | None = None,
) -> tuple[Outcome, frozenset[Volatile]]:
    """A confirming copy's outcome (``confirm``) and what differs between it and the
    first copy (``first_check``, its content ``first``): that changes by itself, the
    redirect target included. Nothing is learned from a copy that failed. ``before`` is
    the version stored before the difference: what it shows too is not chance, and is
    never taken into a learned slot. The first copy's body is not needed: the two are
    compared by their extracted contents, and a copy of the same bytes (the same
    snapshot hash) is not read at all."""
    outcome, learned = _learn_from_copy(monitor, first_check, first, copy, noise, before)
    target = learn_final_url(first_check.final_url, copy.final_url) if copy.error is None \
        else set()
    if not target:
        return outcome, learned
    note = "; ".join(filter(None, (outcome.check.note, "redirected elsewhere than the "
                                   "first copy: where the two differ changes by itself")))
    return replace(outcome, check=replace(outcome.check, note=note)), learned | target


def _learn_from_copy(
    monitor: Monitor, first_check: Check, first: Extracted | PackedContent,
    copy: FetchResult, noise: Noise, before: Extracted | None,
) -> tuple[Outcome, frozenset[Volatile]]:
    if copy.status == 304 and copy.error is None:  # a first check's copy is conditional
        check = base_check(copy, CONFIRM, snapshot_hash=first_check.snapshot_hash,
                           content_hash=first_check.content_hash,
                           note="second copy: not modified, the server says")
        return Outcome(check), frozenset()
    snapshot = snapshot_of(copy) if copy.body else None
    if snapshot is None or not has_body_to_read(copy):
        error = copy.error or f"HTTP {copy.status}: not a copy to compare"
        check = base_check(copy, CONFIRM, snapshot_hash=snapshot.hash if snapshot else None,
                           note=f"confirming copy unusable: {error}")
        return Outcome(check, snapshot), frozenset()
    if snapshot.hash == first_check.snapshot_hash:
        # The same bytes moments later: nothing changes by itself, nothing to read again.
        content_hash = first.hash if isinstance(first, PackedContent) else first.content_hash
        check = base_check(copy, CONFIRM, snapshot_hash=snapshot.hash,
                           content_hash=content_hash, note=_same_note(first_check))
        return Outcome(check, snapshot, first), frozenset()
    if isinstance(first, PackedContent):
        payload = read_json(decompress_body(first.compressed))
        first = Extracted(text=payload["text"], data=payload["data"])
    snapshot, second = extract(monitor, copy)
    if isinstance(second, str):
        check = base_check(copy, CONFIRM, snapshot_hash=snapshot.hash,
                           note=f"confirming copy unusable: {second}")
        return Outcome(check, snapshot), frozenset()
    learned: frozenset[Volatile] = frozenset()
    if second.content_hash != first.content_hash:  # else only the bytes differ
        if before is not None:
            noise = replace(noise, stable=monitor.stood(before))
        learned = frozenset(monitor.learn(first, second, noise,
                                          _moment(first_check.started_at),
                                          _moment(copy.started_at)))
    note = (f"second copy: {len(learned)} thing(s) that change by themselves learned"
            if learned else _same_note(first_check))
    check = base_check(copy, CONFIRM, snapshot_hash=snapshot.hash,
                       content_hash=second.content_hash, note=note)
    return Outcome(check, snapshot, second), learned
