"""The database outside govwatch: a real one, made by `govwatch run`, opened by the plain
sqlite3 module (no function registered) and by Datasette with the shipped metadata."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

import pipeline.cli.main  # noqa: F401  (registers the subcommands)
from pipeline.cli.group import cli
from storage.db import Store
from tests.integration.conftest import serving_site

pytestmark = pytest.mark.integration

METADATA = Path(__file__).resolve().parents[2] / "deploy" / "datasette" / "metadata.yaml"
FTS_SHADOW = ("contents_fts_data", "contents_fts_idx", "contents_fts_docsize",
              "contents_fts_config")


def govwatch(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def page(edition: int) -> str:
    return (f"<html><body><main><h1>Guidance on frontier models</h1><p>Edition {edition} of "
            f"the axolotl framework</p></main></body></html>")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs with a change, a failing monitor (an alert) and a delivered feed.

    Made once for the module: the tests read it, and ``search`` (which two of them call
    first) only adds its index of the texts not yet indexed, which no test here counts on
    being absent."""
    directory = tmp_path_factory.mktemp("outside-sql")
    config = directory / "config.yaml"
    with serving_site() as site:
        site.set("/guidance", page(1))
        site.set("/gone", "<p>gone</p>", status=404)
        config.write_text(
            f"database: {directory / 'govwatch.db'}\n"
            "organizations:\n  - id: aisi\n    name: AI Security Institute\n    monitors:\n"
            f"      - {{id: guidance, kind: page, url: '{site.url('/guidance')}', "
            "select: main}\n"
            f"      - {{id: gone, kind: page, url: '{site.url('/gone')}'}}\n"
            f"notifications:\n  alert_after_failures: 1\n  feed:\n"
            f"    directory: {directory / 'feeds'}\n")
        assert govwatch(config, "run", "--all").exit_code == 0
        site.set("/guidance", page(2))
        second = govwatch(config, "run", "--all")
    assert "changed 1" in second.stdout, second.output
    return directory / "govwatch.db"


def relations(connection: sqlite3.Connection) -> dict[str, str]:
    """Every table and view by name -> its type, but FTS5's own shadow tables."""
    rows = connection.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')").fetchall()
    return {name: kind for name, kind in rows if name not in FTS_SHADOW}


def test_every_table_and_view_reads_with_plain_sqlite3(database: Path) -> None:
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = relations(connection)
        assert {"content_text", "monitor_status", "change_log"} <= set(names)
        assert "search_text" not in names, "the view that needed govwatch_text() is gone"
        for name in names:
            connection.execute(f'SELECT * FROM "{name}"').fetchall()
        # Every version's extracted text is readable, right after the run.
        texts = dict(connection.execute("SELECT hash, text FROM content_text").fetchall())
        seen = [row[0] for row in connection.execute(
            "SELECT DISTINCT content_hash FROM checks WHERE content_hash IS NOT NULL")]
        assert len(seen) == 2 and all(texts[h] for h in seen)
        assert any("Edition 2 of the axolotl framework" in texts[h] for h in seen)
        with Store(database) as store:  # govwatch reads the same texts from the packed rows
            assert all(texts[h] == store.load_content(h).text for h in seen)
    finally:
        connection.close()


def test_full_text_search_with_snippets_in_plain_sql(database: Path) -> None:
    config = database.parent / "config.yaml"
    assert govwatch(config, "search", "axolotl").exit_code == 0  # indexes what is new
    connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT search_docs.hash, snippet(contents_fts, 0, '[', ']', '...', 8) "
            "FROM contents_fts JOIN search_docs ON search_docs.id = contents_fts.rowid "
            "WHERE contents_fts MATCH 'axolotl' ORDER BY bm25(contents_fts)").fetchall()
    finally:
        connection.close()
    assert len(rows) == 2 and all("[axolotl]" in snippet for _, snippet in rows)


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 shell installed")
def test_every_table_and_view_reads_in_the_sqlite3_shell(database: Path) -> None:
    govwatch(database.parent / "config.yaml", "search", "axolotl")
    connection = sqlite3.connect(database)
    names = relations(connection)
    connection.close()
    script = "".join(f"SELECT '{name}', count(*) FROM \"{name}\";\n" for name in names)
    script += ("SELECT snippet(contents_fts, 0, '[', ']', '...', 8) FROM contents_fts "
               "WHERE contents_fts MATCH 'axolotl';\n")
    shell = subprocess.run(["sqlite3", "-bail", "-readonly", str(database)], input=script,
                           capture_output=True, text=True, timeout=60, check=False)
    assert shell.returncode == 0 and not shell.stderr, shell.stderr
    counted = dict(line.split("|") for line in shell.stdout.splitlines() if "|" in line)
    assert set(counted) == set(names) and int(counted["content_text"]) == 2
    assert shell.stdout.count("[axolotl]") == 2


def load_metadata() -> dict[str, Any]:
    loaded = YAML(typ="safe").load(METADATA.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_metadata_describes_every_table_view_and_column(database: Path) -> None:
    described = load_metadata()["databases"]["govwatch"]["tables"]
    connection = sqlite3.connect(database)
    try:
        problems = []
        for name in relations(connection):
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{name}")')]
            entry = described.get(name)
            if entry is None or not entry.get("description"):
                problems.append(f"{name}: not described")
                continue
            listed = entry.get("columns", {})
            problems += [f"{name}.{c}: not described" for c in columns if not listed.get(c)]
            problems += [f"{name}.{c}: no such column" for c in listed if c not in columns]
        problems += [f"{name}: described, does not exist" for name in described
                     if name not in relations(connection)]
    finally:
        connection.close()
    assert not problems, f"{METADATA}: {problems}"


async def test_datasette_opens_the_database_and_queries_every_view_and_table(
        database: Path) -> None:
    from datasette.app import Datasette

    config = database.parent / "config.yaml"
    assert govwatch(config, "search", "axolotl").exit_code == 0
    connection = sqlite3.connect(database)
    names = relations(connection)
    connection.close()
    datasette = Datasette(files=[str(database)], metadata=load_metadata())
    for name in names:
        response = await datasette.client.get(f"/govwatch/{name}.json?_shape=objects")
        assert response.status_code == 200, (name, response.text[:500])
        assert "rows" in response.json(), name
    changes = (await datasette.client.get("/govwatch/change_log.json?_shape=array")).json()
    assert "guidance" in [c["monitor"] for c in changes]
    # The search box of search_docs, through the full-text index the metadata names.
    found = (await datasette.client.get(
        "/govwatch/search_docs.json?_search=axolotl&_shape=array")).json()
    assert len(found) == 2 and all("axolotl" in row["text"] for row in found)
    # The canned query of the metadata, with its snippet.
    canned = (await datasette.client.get(
        "/govwatch/search.json?words=frontier&_shape=array")).json()
    assert len(canned) == 2 and all("[frontier]" in row["snippet"] for row in canned)
    page = await datasette.client.get("/govwatch/content_text")
    assert page.status_code == 200 and "Edition 2 of the axolotl framework" in page.text
    table = await datasette.client.get("/govwatch/checks")
    assert "The extracted content seen" in table.text  # the column descriptions are shown
