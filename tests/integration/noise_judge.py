"""govwatch over the noisy world of ``noise_world.py``, and a judge of its digests.

:func:`drive` runs the real ``govwatch run`` after each revision of a :class:`World`,
with the email digest going to a real aiosmtpd relay, and :func:`judge_run` reads each
digest against the revision's ground truth: what was announced, missed, or announced
although only noise changed.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.noise_world import Event, World


def monitor_ids(world: World) -> dict[str, str]:
    """monitor id -> organization id."""
    return {f"{o.id}-{m}": o.id for o in world.orgs for m in ("pubs", "policy", "feed", "report")}


def config_text(world: World, smtp_port: int) -> str:
    lines = ["defaults: {per_host: 64, concurrency: 64}", "organizations:"]
    for o in world.orgs:
        lines += [f"  - id: {o.id}", f"    name: {o.name}", "    monitors:"]
        for m, kind, path in (("pubs", "page", "pubs"), ("policy", "page", "policy"),
                              ("feed", "feed", "feed"), ("report", "pdf", "report.pdf")):
            lines.append(f'      - {{id: {o.id}-{m}, name: {o.id} {m}, kind: {kind}, '
                         f'url: "{world.base_url}/{o.id}/{path}"}}')
    lines += ["notifications:", "  email:",
              f"    smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, timeout: 5s}}",
              "    from: govwatch@example.org", "    to: [analyst@example.org]",
              'digest: "after-run"']
    return "\n".join(lines) + "\n"


def govwatch_run(config: Path, db: Path) -> str:
    command = [sys.executable, "-c", "from pipeline.cli.main import main; main()",
               "--config", str(config), "--db", str(db), "run", "--all"]
    done = subprocess.run(command, capture_output=True, timeout=300, check=False,
                          cwd=config.parent)
    assert done.returncode in (0, 1), done.stderr.decode()[-3000:]
    return done.stdout.decode()


@dataclass
class Verdict:
    """One run judged against its revision's ground truth."""

    revision: int
    events: list[Event]
    detected: list[Event] = field(default_factory=list)
    missed: list[Event] = field(default_factory=list)
    false_alerts: list[tuple[str, int, str]] = field(default_factory=list)  # monitor, id, diff
    template_announcements: Counter[str] = field(default_factory=Counter)
    confirms: Counter[str] = field(default_factory=Counter)
    checks: int = 0


def judge_run(world: World, db: Path, email_text: str, events: list[Event],
              first_check_id: int) -> Verdict:
    """What the digest of one run announced, against what happened in its revision."""
    verdict = Verdict(world.revision, events)
    with sqlite3.connect(db) as conn:
        announced = dict(conn.execute(
            "SELECT c.id, c.monitor_id FROM changes c WHERE c.check_id >= ?", (first_check_id,)))
        diffs = {i: f"{s}\n{d}\n{x}" for i, s, d, x in conn.execute(
            "SELECT id, summary, diff, detail FROM changes WHERE check_id >= ?",
            (first_check_id,))}
        for monitor, outcome in conn.execute(
                "SELECT monitor_id, outcome FROM checks WHERE id >= ?", (first_check_id,)):
            verdict.checks += 1
            if outcome == "confirm":
                verdict.confirms[monitor] += 1
    in_email = [int(n) for n in re.findall(r"\* change #(\d+) \[", email_text)]
    sections = re.split(r"(?=\n\s+\* change #)", email_text)
    by_change = {int(m.group(1)): s for s in sections
                 if (m := re.search(r"\* change #(\d+) \[", s))}
    by_monitor: dict[str, list[int]] = defaultdict(list)
    for change_id in in_email:
        by_monitor[announced.get(change_id, "?")].append(change_id)
    names = {o.id: o.name for o in world.orgs}
    for ev in events:
        if ev.kind == "template":
            continue
        shown = " ".join(by_change.get(c, "") for c in by_monitor.get(ev.monitor, []))
        org_part = email_text.split(f"== {names[ev.org]} ==")[-1].split("\n== ")[0] \
            if f"== {names[ev.org]} ==" in email_text else ""
        documents = org_part.split("\n-- ")[0]
        found = ev.marker in shown or (ev.marker in documents and by_monitor.get(ev.monitor))
        (verdict.detected if found else verdict.missed).append(ev)
    real = {ev.monitor for ev in events if ev.kind != "template"}
    template = {ev.monitor for ev in events if ev.kind == "template"}
    for monitor, change_ids in by_monitor.items():
        if monitor in real:
            continue
        if monitor in template:
            verdict.template_announcements[monitor.split("-")[0]] += len(change_ids)
            continue
        for change_id in change_ids:
            verdict.false_alerts.append((monitor, change_id, diffs.get(change_id, "")))
    return verdict


def noise_of(world: World, monitor: str, diff: str) -> list[str]:
    """The noise kinds whose served text shows in ``diff`` (else every kind of the page)."""
    org_id, page = monitor.split("-", 1)
    org = next(o for o in world.orgs if o.id == org_id)
    kinds = [k for k, _ in org.page_noise[page]]
    if page == "report" and '"metadata_changed":[]' not in diff:
        return ["pdf-regenerated"]
    seen = [k for k in kinds if any(f and f in diff for f in world.fragments.get(k, ()))]
    return seen or [f"{k}?" for k in kinds]


def drive(world: World, workdir: Path, revisions: int, steady: int = 1) -> list[Verdict]:
    """Serve ``world``, run govwatch once as a baseline, then after each of ``revisions``
    revisions and ``steady`` times more with nothing changed; judge every run."""
    from tests.integration.conftest import SiteServer
    from tests.integration.digest_support import smtp_server

    server = SiteServer(world)
    server.start()
    verdicts = []
    try:
        with smtp_server() as mailbox:
            config, db = workdir / "config.yaml", workdir / "govwatch.db"
            config.write_text(config_text(world, mailbox.port))
            govwatch_run(config, db)  # the baseline: every monitor new
            for step in range(revisions + steady):
                events = world.revise() if step < revisions else []
                with sqlite3.connect(db) as conn:
                    first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM checks"
                                         ).fetchone()[0]
                sent = len(mailbox.messages)
                govwatch_run(config, db)
                text = "\n".join(m.part("plain") for m in mailbox.messages[sent:])
                verdict = judge_run(world, db, text, events, first)
                if step >= revisions:
                    verdict.revision = -step  # steady state: nothing changed
                verdicts.append(verdict)
    finally:
        server.stop()
    return verdicts
