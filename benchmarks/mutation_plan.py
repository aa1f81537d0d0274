"""Which tests execute each line of a module: the plan `make mutate` makes once per module
(benchmarks/mutate.py) and reads for every mutant (benchmarks/mutant_tests.py).

The module's tests run once under coverage. pytest-cov names, for each line run in the test process,
the tests that ran it (`--cov-context=test`: "<test id>|setup", "|run", "|teardown"). Loaded as a pytest
plugin in that run (`-p mutation_plan`), this module also starts coverage in every Python subprocess a
test spawns (`python -m cnnlab.train` and the like), with that test and phase as its context, through
coverage's COVERAGE_PROCESS_START; so a line a training subprocess runs counts for the test that
started it, not for every test.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

# The folder the plugin writes each test phase's coverage config, name and subprocess data into.
SUBPROCESS_DIR = "CNNLAB_MUTATE_SUBPROCESS_COVERAGE"


@contextlib.contextmanager
def _subprocesses_measured(item: pytest.Item, phase: str) -> Iterator[None]:
    folder = os.environ.get(SUBPROCESS_DIR)
    if not folder:
        yield
        return
    context = f"{item.nodeid}|{phase}"
    key = hashlib.sha256(context.encode()).hexdigest()[:16]  # the context coverage stores: no odd characters
    (Path(folder) / f"{key}.id").write_text(context)
    config = Path(folder) / f"{key}.rc"
    template = (Path(folder) / "template.rc").read_text()
    config.write_text(f"{template}data_file = {Path(folder) / 'data' / key}\ncontext = {key}\n")
    saved = {
        name: os.environ.pop(name, None) for name in ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG")
    }
    os.environ["COVERAGE_PROCESS_START"] = str(config)
    try:
        yield
    finally:
        os.environ.pop("COVERAGE_PROCESS_START")
        os.environ.update({name: value for name, value in saved.items() if value is not None})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    with _subprocesses_measured(item, "setup"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    with _subprocesses_measured(item, "run"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item):
    with _subprocesses_measured(item, "teardown"):
        yield


def write_subprocess_template(folder: Path, target: Path) -> None:
    """The coverage config every measured subprocess starts from (this module adds its data file and
    context): only `target` measured, data saved on SIGTERM and os._exit too."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "template.rc").write_text(
        f"[run]\ninclude = {target}\nparallel = true\npatch = _exit\nsigterm = true\n"
    )


def contexts_by_line(data_file: Path, subprocess_folder: Path, target: Path) -> dict[int, set[str]]:
    """The test contexts that executed each line of `target`: the test process's (pytest-cov's data
    file) and its subprocesses' (the plugin's folder), in pytest-cov's "<test id>|<phase>" form."""
    from coverage import CoverageData

    contexts: dict[int, set[str]] = {}
    names = {p.stem: p.read_text() for p in subprocess_folder.glob("*.id")}
    files = [data_file, *sorted((subprocess_folder / "data").glob("*"))]
    for path in files:
        data = CoverageData(basename=str(path))
        data.read()
        for line, found in (data.contexts_by_lineno(str(target)) or {}).items():
            contexts.setdefault(line, set()).update(names.get(c, c) for c in found)
    return contexts


def function_id(nodeid: str) -> str:
    """A test's id without its parameters: the unit tests are selected and timed by."""
    return nodeid.split("[", 1)[0]


def _units(tree: ast.Module) -> list[tuple[int, int, bool]]:
    """Each statement's lines that hold its own code (a compound statement's header: its test, its
    decorators and defaults, not its body), and whether it runs only when a function is called."""
    units: list[tuple[int, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt | ast.excepthandler | ast.match_case):
                body = getattr(child, "body", None)
                first = min([child.lineno, *(d.lineno for d in getattr(child, "decorator_list", []))])
                if isinstance(child, ast.match_case):
                    first = child.pattern.lineno
                last = child.end_lineno
                if body and isinstance(body, list):
                    last = max(first, body[0].lineno - 1)
                    if isinstance(child, ast.Try | ast.TryStar):
                        last = child.lineno  # `try:` itself holds no code
                units.append((first, last, in_function))
            visit(
                child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            )

    visit(tree, False)
    return units


def line_tests(
    source: str, contexts_by_line: dict[int, Iterable[str]], tests: list[str]
) -> dict[int, list[int] | None]:
    """For each line of `source` that belongs to a statement, the indices into `tests` (function ids) of
    the tests that execute that statement, or None where the whole list must run: code run at import
    or in a class body, code run outside any test (context "": at collection) and code no test runs.
    `contexts_by_line` holds "<test id>|<phase>" contexts (setup, run, teardown); what a fixture runs
    (setup, teardown) counts for every test of its file, since a module-scoped fixture serves them all."""
    index = {name: i for i, name in enumerate(tests)}
    by_file: dict[str, list[int]] = {}
    for i, name in enumerate(tests):
        by_file.setdefault(name.split("::", 1)[0], []).append(i)
    lines: dict[int, list[int] | None] = {}
    # Outer statements first, so an inner statement's own lines overwrite its parent's.
    for first, last, in_function in sorted(
        _units(ast.parse(source)), key=lambda u: u[1] - u[0], reverse=True
    ):
        contexts = {c for line in range(first, last + 1) for c in contexts_by_line.get(line, ())}
        chosen: set[int] | None = set() if in_function and contexts and "" not in contexts else None
        for context in contexts if chosen is not None else ():
            nodeid, _, phase = context.rpartition("|")
            name = function_id(nodeid)
            if name not in index:
                chosen = None  # a test outside the plan's list: play safe
                break
            chosen.update(by_file[name.split("::", 1)[0]] if phase != "run" else [index[name]])
        for line in range(first, last + 1):
            lines[line] = sorted(chosen) if chosen is not None else None
    return lines
