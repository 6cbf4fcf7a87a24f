"""Imports go one way: no layer reaches up, no modules import each other in a circle.

Two checks read the same static graph of imports (grimp's), where an import inside a
function or under ``TYPE_CHECKING`` counts like one at the top of a module:

* import-linter's contracts in pyproject.toml (``[tool.importlinter]``): the packages in
  their order core < monitors < storage < notifications < pipeline, the layers inside
  pipeline, and nobody but the command line importing the command line;
* the strongly connected components of the module graph: any of more than one module is
  a cycle, named with the import lines that close it.

A package's ``__init__`` that imports its own submodules is an edge like any other. It
closes a cycle only when a submodule imports the package's own names in turn (``from
pipeline.config import Config`` inside ``pipeline/config/``). That Python runs the
``__init__`` before any submodule is not an import of it: the submodule needs nothing of
the package, so a re-exporting ``__init__`` such as ``pipeline/config/__init__.py`` is
no cycle (``test_what_the_cycle_check_counts`` shows both cases).

An import by a computed name (``importlib.import_module``) would be an edge neither check
sees, so the packages have none.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "monitors", "storage", "notifications", "pipeline")
CONTRACTS = {contract["id"]: contract["name"] for contract in
             tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
             ["tool"]["importlinter"]["contracts"]}
LINT = ("from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache", "--no-logo")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's command line over the packages and pyproject.toml under ``root``.

    In its own process: it configures logging and grows ``sys.path`` as it starts."""
    return subprocess.run([sys.executable, "-c", *LINT], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False,
                          env={**os.environ, "COLUMNS": "200"})  # one line per verdict


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """The components of more than one module, each sorted (Tarjan's, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    #: The depth-first path: each module with the imports it has yet to follow.
    work: list[tuple[str, Iterator[str]]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        work.append((module, iter(sorted(graph.find_modules_directly_imported_by(module)))))

    for root in sorted(graph.modules):
        if root in index:
            continue
        visit(root)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif target not in index:
                visit(target)
            elif target in on_stack:
                low[module] = min(low[module], index[target])
    return sorted(found)


def describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    """The imports inside one cycle, as ``importer:line -> imported``."""
    lines = [f"cycle of {len(component)} modules: {', '.join(component)}"]
    for importer in component:
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            if imported in component:
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"  {importer}:{detail['line_number']} -> {imported}  "
                                 f"({detail['line_contents']})")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


# -- the checks --------------------------------------------------------------------------

def test_the_import_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = [line for line in result.stdout.splitlines() if line.endswith(("KEPT", "BROKEN"))]
    assert [line.split(" KEPT")[0] for line in verdicts] == list(CONTRACTS.values()), \
        result.stdout


def test_no_modules_import_each_other_in_a_circle(graph: grimp.ImportGraph) -> None:
    cycles = strongly_connected(graph)
    assert not cycles, "\n".join(describe(graph, component) for component in cycles)


def test_core_imports_nothing_of_the_other_packages(graph: grimp.ImportGraph) -> None:
    reaching_up = sorted(
        (module, imported) for module in graph.modules if module.split(".")[0] == "core"
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.split(".")[0] != "core")
    assert not reaching_up


def computed_imports(root: Path) -> Iterator[str]:
    """Calls that import by a computed name, as ``path:line: call``."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    name = ast.unparse(node.func)
                    if name in ("__import__", "import_module") or name.endswith(
                            (".import_module", ".__import__")):
                        yield f"{path.relative_to(root)}:{node.lineno}: {name}"


def test_every_import_is_one_the_checks_see() -> None:
    assert not list(computed_imports(REPO))


# -- the checks can fail ------------------------------------------------------------------

def write_package(root: Path, name: str, modules: dict[str, str]) -> None:
    (root / name).mkdir()
    for module, source in {"__init__": "", **modules}.items():
        (root / name / f"{module}.py").write_text(source.replace("PKG", name),
                                                  encoding="utf-8")


TYPE_CHECKING_IMPORT = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import PKG.{}\n"


@pytest.mark.parametrize(("modules", "cycles"), [
    ({"a": "import PKG.b\n", "b": "import PKG.c\n", "c": "X = 1\n"}, []),
    ({"a": "import PKG.b\n", "b": "def later():\n    import PKG.a\n"}, [["a", "b"]]),
    ({"a": "from PKG import b\n", "b": TYPE_CHECKING_IMPORT.format("a")}, [["a", "b"]]),
    ({"a": "import PKG.b\n", "b": "import PKG.c\n", "c": "import PKG.a\n",
      "d": "import PKG.a\n"}, [["a", "b", "c"]]),
    # A re-exporting __init__ whose submodule needs nothing of the package: no cycle.
    ({"__init__": "from PKG.a import A\n", "a": "import PKG.b\nA = 1\n", "b": "B = 2\n"}, []),
    # A submodule that imports the package's own names: a cycle through the __init__.
    ({"__init__": "from PKG.a import A\nB = 2\n", "a": "def f():\n    from PKG import B\n"},
     [["", "a"]]),
], ids=["chain", "in-a-function", "under-type-checking", "three-and-a-tail",
        "reexporting-init", "submodule-importing-its-package"])
def test_what_the_cycle_check_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
    modules: dict[str, str], cycles: list[list[str]],
) -> None:
    name = "cycle_sample_" + request.node.callspec.id.replace("-", "_")
    write_package(tmp_path, name, modules)
    monkeypatch.syspath_prepend(str(tmp_path))
    sample = grimp.build_graph(name, cache_dir=None)
    expected = [[f"{name}.{m}" if m else name for m in component] for component in cycles]
    assert strongly_connected(sample) == expected
    for component in strongly_connected(sample):
        assert all(f"  {module}:" in describe(sample, component) for module in component)


def copy_of_the_code(root: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("path", "added", "broken"), [
    ("core/records.py", "\ndef later() -> None:\n    import storage.db\n",
     "packages"),
    ("storage/db.py", TYPE_CHECKING_IMPORT.replace("PKG.{}", "notifications.outbox"),
     "packages"),
    ("pipeline/fetch/robots.py", "\ndef later() -> None:\n    from pipeline import cycle\n",
     "pipeline"),
    ("pipeline/lock.py", "\nimport pipeline.cli.group\n",
     "cli"),
    ("pipeline/unplaced.py", "import pipeline.stages\n", "pipeline"),
], ids=["core-reaches-storage", "storage-reaches-notifications", "fetch-reaches-cycle",
        "lock-imports-the-cli", "a-module-in-no-layer"])
def test_the_contracts_catch_an_import_that_reaches_up_or_a_module_out_of_place(
    tmp_path: Path, path: str, added: str, broken: str,
) -> None:
    root = copy_of_the_code(tmp_path)
    source = root / path
    before = source.read_text(encoding="utf-8") if source.exists() else ""
    source.write_text(before + added, encoding="utf-8")

    result = lint_imports(root)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACTS[broken]} BROKEN" in result.stdout.splitlines(), result.stdout
    module = path.removesuffix(".py").replace("/", ".")
    assert f"{module} -> " in result.stdout or f"- {module}\n" in result.stdout, result.stdout


def test_an_import_by_computed_name_is_found(tmp_path: Path) -> None:
    (tmp_path / "monitors").mkdir()
    (tmp_path / "monitors" / "kinds.py").write_text(
        "import importlib\n\n\ndef load(name):\n    return importlib.import_module(name)\n"
        "\n\ndef old(name):\n    return __import__(name)\n", encoding="utf-8")
    assert list(computed_imports(tmp_path)) == [
        "monitors/kinds.py:5: importlib.import_module", "monitors/kinds.py:9: __import__"]
