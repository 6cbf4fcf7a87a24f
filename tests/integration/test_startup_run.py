"""A real ``govwatch run`` loads the parser of each kind it parses, and nothing it does not use.

The lazy imports (docs/architecture.md, "Start-up") must not move work, only defer it:
feed and PDF parsers, digest delivery, export and the scheduler stay unloaded. The page
is parsed in the one worker a cycle without a pool forks (pipeline/pool.py), which loads
only selectolax, so the run's own process loads no parser at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import Site
from tests.unit.test_startup import CHANNELS, DELIVERY, loaded_by

pytestmark = pytest.mark.integration

RUN = "from pipeline.cli.main import main; main()"


def run_over_one_page(code: str, site: Site, tmp_path: Path) -> tuple[set[str], str]:
    """``govwatch run`` over one page in a fresh interpreter, through ``code``."""
    site.set("/news", "<html><body><main><p>Ministerial statement</p>"
                      "<a href='/doc.pdf'>Report</a></main></body></html>")
    config = tmp_path / "config.yaml"
    config.write_text("organizations:\n  - id: ministry\n    name: Ministry\n    monitors:\n"
                      f"      - {{id: news, kind: page, url: '{site.url('/news')}'}}\n")
    return loaded_by(code, "--config", str(config), "--db", str(tmp_path / "gw.db"), "run")


def test_a_run_over_a_page_loads_no_parser_in_its_own_process(site: Site, tmp_path: Path) -> None:
    modules, stdout = run_over_one_page(RUN, site, tmp_path)
    assert stdout.startswith("checked 1: new 1, changed 0"), stdout
    unused = {"selectolax", "feedparser", "pypdf", *DELIVERY, *CHANNELS}
    assert modules.isdisjoint(unused), sorted(modules & unused)
