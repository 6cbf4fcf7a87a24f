"""A plain ``page`` monitor on an app shell: ``preview`` and ``run`` agree, and the shell
is reported once, with what to do about it, in ``status`` and in the digest's alerts.

Real ``govwatch`` commands against the test site; the digest goes to the feed channel.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import Site
from tests.integration.jsapp_support import grants, needs_browser, serve_app

pytestmark = pytest.mark.integration

GOVWATCH = Path(sys.executable).parent / "govwatch"


def govwatch(tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [str(GOVWATCH), "--config", str(tmp_path / "config.yaml"), "--db",
         str(tmp_path / "gw.db"), *args],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_an_app_shell_is_one_signal_in_preview_run_status_and_digest(
    site: Site, tmp_path: Path
) -> None:
    url = serve_app(site, grants(100))
    (tmp_path / "config.yaml").write_text(json.dumps({
        "defaults": {"every": "1h", "jitter": "0s"},
        "notifications": {"feed": {"directory": str(tmp_path / "feeds"),
                                   "formats": ["atom"]}},
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": [
            {"id": "shell", "kind": "page", "url": url, "robots": False}]}],
    }), encoding="utf-8")

    first = govwatch(tmp_path, "preview", "shell")
    assert "would record: changed [page shows almost no text without JavaScript" in first
    assert "render: browser" in first
    govwatch(tmp_path, "run")
    # Now in the signal: a run records "unchanged", and so does preview say.
    again = govwatch(tmp_path, "preview", "shell")
    assert "would record: unchanged" in again and "render: browser" in again
    govwatch(tmp_path, "run", "--all")
    history = json.loads(govwatch(tmp_path, "history", "shell", "--json"))
    assert [check["outcome"] for check in history] == ["unchanged", "changed"]

    status = govwatch(tmp_path, "status")
    assert "! ministry/shell (needs-js): its content is built by JavaScript: set " \
           "`render: browser`" in status
    rows = json.loads(govwatch(tmp_path, "status", "--json"))
    assert (rows[0]["signal"], "render: browser" in rows[0]["advice"]) == ("needs-js", True)

    feed = (tmp_path / "feeds" / "govwatch.atom").read_text(encoding="utf-8")
    assert feed.count("shell needs a browser (render: browser)") == 1
    # Said once, as the alert: the change that entered the signal is kept, not announced.
    assert feed.count("<entry>") == 1, feed


@needs_browser
def test_preview_renders_a_render_browser_monitor_as_run_would(
    site: Site, tmp_path: Path
) -> None:
    url = serve_app(site, grants(100))
    (tmp_path / "config.yaml").write_text(json.dumps({
        "organizations": [{"id": "ministry", "name": "Ministry", "monitors": [
            {"id": "app", "kind": "page", "url": url, "render": "browser",
             "robots": False}]}],
    }), encoding="utf-8")

    shown = govwatch(tmp_path, "preview", "app")

    assert "Water board: 100 EUR" in shown and "needs-js" not in shown
    assert "no stored version: this would be the first (new)" in shown
    govwatch(tmp_path, "run")
    # The session id differs on every render: the run learned it from the confirming copy
    # of its first check, and preview applies what was learned.
    again = govwatch(tmp_path, "preview", "app")
    assert "against the stored version: no change" in again, again
