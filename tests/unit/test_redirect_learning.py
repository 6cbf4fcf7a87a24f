"""A redirect target that changes at each request (a session in the path, in forms drawn
at random here) is learned from a second copy, and is then no longer a move; a move to
another page still is."""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from core.records import Extracted, FetchResult, Redirect
from monitors import MonitorConfig, build_monitor
from monitors.learning import learn_final_url
from monitors.volatility import Noise
from pipeline import stages
from storage.records import MonitorState

PAGE = b"<html><body><main><h1>Consultation</h1><p>Open until 30 June.</p></main></body></html>"
MONITOR = build_monitor(MonitorConfig(id="m", kind="page", url="https://x.example/c"), "o")
PAGE_CONTENT = Extracted(text="", data={})  # never read: a first check has no version


def sessions(rng: random.Random) -> dict[str, Callable[[str, str], str]]:
    """A page's URL with a session token, by form."""
    name = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10)))
    return {
        "parameter in the path": lambda page, t: f"https://x.example/{page};{name}={t}",
        "segment before the page": lambda page, t: f"https://x.example/({name}({t}))/{page}",
        "segment of its own": lambda page, t: f"https://x.example/{name}/{t}/{page}",
    }


def token(rng: random.Random) -> str:
    alphabet = rng.choice([string.ascii_uppercase + string.digits, string.hexdigits.lower()])
    return "".join(rng.choices(alphabet, k=rng.randint(10, 32)))


def fetched(final_url: str) -> FetchResult:
    return FetchResult(
        monitor_id="m", url="https://x.example/c", started_at=datetime.now(UTC).isoformat(),
        duration_ms=1, final_url=final_url, status=200,
        headers={"content-type": "text/html"}, redirects=(Redirect(302, final_url),),
        body=PAGE, bytes_received=len(PAGE))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("form", ["parameter in the path", "segment before the page",
                                  "segment of its own"])
def test_a_session_in_the_redirect_target_is_learned_and_a_real_move_still_shows(
        form: str, seed: int) -> None:
    rng = random.Random(f"{form}-{seed}")
    url = sessions(rng)[form]
    first = stages.evaluate(MONITOR, fetched(url("consultation", token(rng))),
                            MonitorState("m", None, None, None, None, None, None, 0),
                            lambda _digest: PAGE_CONTENT)
    assert first.check.outcome == "new" and isinstance(first.content, Extracted)
    stored = first.content
    state = MonitorState("m", None, None, first.check.snapshot_hash, stored.content_hash,
                         None, None, 0, last_final_url=first.check.final_url)

    def load(_digest: str) -> Extracted:
        return stored

    now = fetched(url("consultation", token(rng)))
    moved = stages.evaluate(MONITOR, now, state, load)
    assert moved.change is not None and moved.change.kind == "redirected"
    assert moved.confirmable  # a move alone is confirmed on a second copy
    copy, learned = stages.learn_from_copy(MONITOR, moved.check, stored,
                                           fetched(url("consultation", token(rng))))
    assert learned, copy.check.note
    assert copy.check.note is not None and "redirected elsewhere" in copy.check.note
    again = stages.evaluate(MONITOR, now, state, load, Noise(frozenset(learned)))
    assert again.change is None and again.check.outcome == "unchanged"
    elsewhere = stages.evaluate(MONITOR, fetched(url("archive", token(rng))), state, load,
                                Noise(frozenset(learned)))
    assert elsewhere.change is not None and elsewhere.change.kind == "redirected"


@pytest.mark.parametrize(("a", "b"), [
    ("https://x.example/consultation", "https://x.example/archive"),
    ("https://x.example/2026/consultation", "https://x.example/2027/archive"),
    ("https://x.example/a/b", "https://y.example/a/b/c/d"),
])
def test_two_pages_are_never_one_redirect_target(a: str, b: str) -> None:
    """Copies that land on two different pages (more than one segment apart) teach
    nothing: a template of them would hide the next real move on the site."""
    assert learn_final_url(a, b) == set()
