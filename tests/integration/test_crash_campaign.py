"""Crash campaign: real ``govwatch run`` processes killed with SIGKILL at random points.

40 monitors (pages, feeds, PDFs) on a local HTTP server whose sources grow round by round
(the truth, tests/integration/crash_truth.py), email digests to a real aiosmtpd relay on
loopback (sometimes down), the feed channel, retention pruning after every run, and
parsing in a worker process. Each round, a run is killed during its fetches (responses
held back), at a random time, at a precise crash point (GOVWATCH_TEST_CRASH_AT: inside
and right after a check's transaction, after a digest was committed, between the relay's
acceptance and its commit, after the feeds were published) or while the relay holds its
reply to DATA. After each kill: no process of the run is left, ``govwatch verify``
passes, the next run takes the stale lock over and completes with no error, and no
change reached a recipient in two different messages. At the end, with the relay up:
every change of the truth is in a recorded change of its monitor, every change owed by
email reached each of its recipients in exactly one message (resends of the duplicate
window carry the same Message-ID), the feeds list every change once.

The short form (one kill of each family) always runs; the full campaign, 50 kills at
random, runs with ``pytest --crash-campaign`` or ``GOVWATCH_CRASH_CAMPAIGN=50``.
``GOVWATCH_CRASH_SEED`` replays a campaign (the seed is printed and in every failure).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import pytest

from storage.crashpoints import CRASH_AT
from tests.integration.conftest import Site
from tests.integration.crash_support import (
    DESK,
    EVERYONE,
    SHORT_FORM,
    Finished,
    Govwatch,
    MailLedger,
    Plan,
    Relay,
    counts_line,
    describe,
    draw_family,
    draw_plan,
    kill_when,
    page_requests,
    sql,
    stale_lock_holder,
    write_config,
)
from tests.integration.crash_truth import ROUTED_ORG, Truth

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/environ").exists(),
                       reason="finds a killed run's children in /proc (Linux)"),
]
FETCH_DELAY = 0.4  # seconds each response is held back when a kill is aimed at fetches
SMTP_HOLD = 1.0    # seconds the relay holds its reply when a kill is aimed at it
RELAY_DOWN = 0.15  # chance that the relay is down for a round


def campaign_seed() -> int:
    return int(os.environ.get("GOVWATCH_CRASH_SEED") or random.SystemRandom().randrange(10**9))


@dataclass
class Campaign:
    site: Site
    workdir: Path
    seed: int
    relay: Relay = field(default_factory=Relay)
    kills: list[Plan] = field(default_factory=list)
    missed: list[Plan] = field(default_factory=list)
    run_seconds: float = 2.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.truth = Truth(self.site)
        self.gw = Govwatch(self.workdir)
        self.log_path = self.workdir / "campaign.log"

    def note(self, line: str) -> None:
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")
        print(line, flush=True)

    def check(self, condition: bool, message: str) -> None:
        assert condition, f"[seed {self.seed}, kill {len(self.kills)}] {message}"

    def completed(self, finished: Finished, what: str) -> dict[str, int]:
        self.check(finished.returncode == 0, f"{what} failed: {describe(finished)}")
        counts = counts_line(finished.stdout)
        self.check(counts["errors"] == 0, f"{what} recorded errors: {describe(finished)}")
        return counts

    # -- the campaign ------------------------------------------------------------------
    def start(self) -> None:
        self.note(f"crash campaign seed {self.seed} (GOVWATCH_CRASH_SEED={self.seed} replays)")
        self.truth.publish()
        self.relay.start()
        write_config(self.gw, self.truth, self.relay)
        first = self.gw.run("run", "--all")
        counts = self.completed(first, "the first run")
        self.check(counts["new"] == len(self.truth.sources), describe(first))
        self.run_seconds = first.seconds

    def kill_once(self, family: str) -> bool:
        """One round with one aimed kill and its recovery; False when the run ended first."""
        plan = draw_plan(self.rng, family, len(self.truth.sources), self.run_seconds)
        changed = self.truth.advance(self.rng)
        relay_up = plan.needs_relay or self.rng.random() >= RELAY_DOWN
        if relay_up:
            self.relay.start()
        else:
            self.relay.stop()
        killed = self.aimed_run(plan)
        where = (f"round {self.truth.round}: {plan} ({len(changed)} sources changed, "
                 f"relay {'up' if relay_up else 'down'})")
        if not killed.killed:
            self.check(killed.returncode == 0, f"{where}: {describe(killed)}")
            self.missed.append(plan)
            self.note(f"  missed  {where}: the run ended first")
            return False
        self.kills.append(plan)
        self.after_kill(killed, where)
        return True

    def aimed_run(self, plan: Plan) -> Finished:
        env = {CRASH_AT: f"{plan.point}:{plan.nth}"} if plan.kind == "hook" else None
        if plan.kind == "fetch":
            self.truth.set_delay(FETCH_DELAY)
        self.relay.reply_delay = SMTP_HOLD if plan.kind == "smtp" else 0.0
        requests, mails = page_requests(self.truth), len(self.relay.messages)
        began = time.monotonic()
        process, out = self.gw.start("run", "--all", env=env)
        try:
            if plan.kind == "fetch":
                kill_when(process, lambda: page_requests(self.truth) - requests >= plan.nth,
                          settle=self.rng.uniform(0.0, FETCH_DELAY / 2))
            elif plan.kind == "timer":
                kill_when(process, lambda: time.monotonic() - began >= plan.seconds)
            elif plan.kind == "smtp":
                kill_when(process, lambda: len(self.relay.messages) > mails,
                          settle=self.rng.uniform(0.0, SMTP_HOLD / 2))
            return self.gw.finish(process, out, began)
        finally:
            self.truth.set_delay(0.0)
            self.relay.reply_delay = 0.0

    def after_kill(self, killed: Finished, where: str) -> None:
        left = self.gw.wait_no_descendants()
        self.check(not left, f"{where}: processes of the killed run left behind: {left}")
        holder = stale_lock_holder(self.gw)
        self.check(not holder or holder.startswith(f"pid {killed.pid} "),
                   f"{where}: the lock names {holder!r}, not the killed pid {killed.pid}")
        verify = self.gw.run("verify")
        self.check(verify.returncode == 0, f"{where}: verify after the kill: {describe(verify)}")
        if self.rng.random() < 0.5:  # the sources move on before the next run
            self.truth.advance(self.rng)
        recovery = self.gw.run("run", "--all")
        counts = self.completed(recovery, f"{where}: the run after the kill")
        if holder:
            self.check("took over the stale lock" in recovery.stderr,
                       f"{where}: the stale lock was not taken over: {describe(recovery)}")
        doubled = MailLedger.of(self.relay.messages).doubled()
        self.check(not doubled, f"{where}: a change reached a recipient twice: {doubled}")
        self.note(f"  killed  {where} after {killed.seconds:.2f}s; lock "
                  f"{'stale' if holder else 'free'}; next run {recovery.seconds:.2f}s "
                  f"changed {counts['changed']}")

    def run(self, families: list[str]) -> None:
        """One kill per family; a run that ended before its kill is tried again."""
        for family in families:
            while not self.kill_once(family):
                self.check(len(self.missed) <= len(families),
                           f"too many runs ended before their kill: {list(map(str, self.missed))}")

    # -- the end -------------------------------------------------------------------------
    def finish(self) -> None:
        self.relay.start()
        final = self.gw.run("run", "--all")
        self.completed(final, "the final clean run")
        self.check("FAILED" not in final.stdout, f"a channel failed: {describe(final)}")
        verify = self.gw.run("verify")
        self.check(verify.returncode == 0, f"final verify: {describe(verify)}")
        self.check(not self.gw.tagged_pids(), "a govwatch process is still running")
        self.assert_truth_recorded()
        self.assert_email_exactly_once()
        self.assert_feeds_list_each_change_once()

    def changes(self) -> list[tuple[int, str, str, dict[str, object]]]:
        rows = sql(self.gw.db, "SELECT id, monitor_id, diff, detail FROM changes ORDER BY id")
        return [(r[0], r[1], r[2] or "", json.loads(r[3] or "{}")) for r in rows]

    def assert_truth_recorded(self) -> None:
        added: dict[str, list[str]] = {}
        for _, monitor_id, diff, detail in self.changes():
            lines = [line for line in diff.splitlines()
                     if line.startswith("+") and not line.startswith("+++")]
            entries = detail.get("entries_added") or []
            assert isinstance(entries, list)
            lines += [str(entry.get("title")) for entry in entries]
            added.setdefault(monitor_id, []).extend(lines)
        lost = [f"{monitor_id} round {n} ({token})"
                for (monitor_id, n), token in sorted(self.truth.expected().items())
                if not any(token in line for line in added.get(monitor_id, []))]
        self.check(not lost, f"changes of the truth never recorded: {lost}")

    def owed_change_ids(self, channel: str, org: str | None = None) -> set[int]:
        query = ("SELECT changes.id FROM changes JOIN monitors ON monitors.id = "
                 "changes.monitor_id JOIN channels ON channels.channel = ? "
                 "WHERE changes.id > channels.start_change_id AND changes.notable = 1")
        args: list[object] = [channel]
        if org is not None:
            query += " AND monitors.org_id = ?"
            args.append(org)
        return {row[0] for row in sql(self.gw.db, query, *args)}

    def assert_email_exactly_once(self) -> None:
        ledger = MailLedger.of(self.relay.messages)
        self.check(not ledger.doubled(), f"changes mailed twice: {ledger.doubled()}")
        for recipient, org in ((EVERYONE, None), (DESK, ROUTED_ORG)):
            owed = self.owed_change_ids("email", org)
            got = set(ledger.carried.get(recipient, {}))
            self.check(owed == got, f"{recipient}: never mailed {sorted(owed - got)}, "
                                    f"mailed but not owed {sorted(got - owed)}")
        states = sql(self.gw.db, "SELECT channel, state, COUNT(*) FROM deliveries "
                                 "GROUP BY channel, state")
        self.check({(c, s) for c, s, _ in states} <= {("email", "delivered"),
                                                      ("feed", "delivered")},
                   f"deliveries not all delivered: {states}")
        digests = sql(self.gw.db, "SELECT DISTINCT state FROM digests")
        self.check(digests == [("sent",)], f"digests not all sent: {digests}")
        self.note(f"  email: {len(self.relay.messages)} messages received, {ledger.resent} "
                  f"resent with the same Message-ID, {len(self.owed_change_ids('email'))} "
                  "changes each mailed once")

    def assert_feeds_list_each_change_once(self) -> None:
        directory = self.gw.workdir / "feeds"
        owed = self.owed_change_ids("feed")
        for name in ("govwatch.atom", "govwatch.rss"):
            parsed = feedparser.parse((directory / name).read_bytes())
            self.check(parsed.bozo == 0, f"{name}: {parsed.get('bozo_exception')}")
            ids = [int(entry.id.rsplit("/change/", 1)[1]) for entry in parsed.entries
                   if "/change/" in entry.id]
            twice = [i for i, n in Counter(ids).items() if n > 1]
            self.check(not twice, f"{name} lists changes twice: {twice}")
            self.check(set(ids) == owed, f"{name} misses {sorted(owed - set(ids))}")
        leftovers = sorted(str(p.relative_to(directory)) for p in directory.rglob("*.tmp"))
        self.check(not leftovers, f"temporary feed files left by killed runs: {leftovers}")


def run_campaign(site: Site, workdir: Path, kills: int,
                 families: tuple[str, ...] = ()) -> Campaign:
    """``kills`` kills: one per family given, the rest of families drawn at random."""
    campaign = Campaign(site, workdir, campaign_seed())
    chosen = list(families) + [draw_family(campaign.rng) for _ in range(kills - len(families))]
    began = time.monotonic()
    try:
        campaign.start()
        campaign.run(chosen)
        campaign.finish()
    finally:
        campaign.gw.kill_leftovers()
        campaign.relay.stop()
    by_point = Counter(plan.family for plan in campaign.kills)
    campaign.note(f"crash campaign seed {campaign.seed}: {len(campaign.kills)} kills "
                  f"({', '.join(f'{k} {n}' for k, n in sorted(by_point.items()))}), "
                  f"{len(campaign.missed)} runs ended before their kill, "
                  f"{len(campaign.truth.changes)} changes in the truth, "
                  f"{time.monotonic() - began:.1f}s")
    return campaign


def full_campaign_kills(config: pytest.Config) -> int:
    if config.getoption("--crash-campaign"):
        return int(os.environ.get("GOVWATCH_CRASH_CAMPAIGN") or 50)
    return int(os.environ.get("GOVWATCH_CRASH_CAMPAIGN") or 0)


@pytest.mark.timeout(120)
def test_crash_campaign_short(site: Site, tmp_path: Path) -> None:
    campaign = run_campaign(site, tmp_path, len(SHORT_FORM), SHORT_FORM)
    assert len(campaign.kills) == len(SHORT_FORM)


@pytest.mark.timeout(3600)
def test_crash_campaign_full(site: Site, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    kills = full_campaign_kills(request.config)
    if not kills:
        pytest.skip("the full crash campaign runs with --crash-campaign "
                    "or GOVWATCH_CRASH_CAMPAIGN=50")
    campaign = run_campaign(site, tmp_path, kills)
    assert len(campaign.kills) == kills
