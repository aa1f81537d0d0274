"""The tests one mutant runs, and running them: Cosmic Ray's test command in `make mutate`.

benchmarks/mutate.py plans each module once (plan.json): its tests' unmutated durations and, from a
coverage run with one context per test, which tests execute each line (benchmarks/mutation_plan.py).
For a mutant this script finds
the lines Cosmic Ray changed (the module on disk against its original text) and runs, with `pytest -x`,
first the tests that execute those lines, fastest first; only if they all pass, the rest of the
module's tests. So a mutant is killed or survives as it would with the module's whole test list, and a
killed one costs the interpreter's start and the covering tests up to the first failure.

    python benchmarks/mutant_tests.py PLAN.json      # run in the mutated copy; exit 0 = the tests pass

A line run at import, in a class body, outside any test (at collection) or by no test gets the whole
list at once. Each pytest run has its own timeout (see timeout_for); a timeout kills the
run's process group and counts as a kill, as in Cosmic Ray. Each mutant appends a line to the plan's
log (lines changed, tests run, seconds, outcome).
"""

from __future__ import annotations

import difflib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TIMEOUT_MARK = "mutant_tests.py: timed out"
# Pytest as every run of `make mutate` starts it: no cache written into the copy, and without the
# hypothesis plugin, which costs ~1 s per start (no listed test needs it: they pass unmutated without).
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


def changed_lines(original: str, mutated: str) -> set[int]:
    """The lines (1-based, of `original`) that the mutant replaced or removed, or next to its insertion."""
    matcher = difflib.SequenceMatcher(None, original.splitlines(), mutated.splitlines(), autojunk=False)
    changed: set[int] = set()
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            changed.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            changed.update({max(i1, 1), i1 + 1})
    return changed


def select(plan: dict, mutated: str) -> tuple[list[str], list[str]]:
    """The tests to run first (those that execute the changed lines, fastest first) and the rest; an
    empty first list means: run every test at once."""
    tests: list[str] = plan["tests"]
    lines = plan["lines"]
    chosen: set[int] = set()
    for line in changed_lines(plan["source"], mutated):
        picked = lines.get(str(line))
        if picked is None:
            return [], tests
        chosen.update(picked)
    first = [t for i, t in enumerate(tests) if i in chosen]
    return first, [t for i, t in enumerate(tests) if i not in chosen]


def timeout_for(plan: dict, tests: list[str]) -> float:
    """timeout-factor x what these tests took unmutated, at least min-timeout. What they took: the
    interpreter's start, their durations, and the longest test's once more, since whichever test runs
    first pays the one-time costs (imports, a data set's first decoding) that the timed run charged
    to one test."""
    expected = plan["startup_s"] + sum(plan["durations"][t] for t in tests) + max(plan["durations"].values())
    return max(plan["min_timeout"], plan["timeout_factor"] * expected)


def run_pytest(tests: list[str], timeout: float) -> tuple[int, bool]:
    """`pytest -x` over `tests` in this order, in its own process group; (exit status, timed out)."""
    process = subprocess.Popen([sys.executable, *PYTEST, "-x", *tests], start_new_session=True)
    try:
        return process.wait(timeout=timeout), False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return 1, True


def main(argv: list[str] | None = None) -> int:
    (plan_path,) = argv if argv is not None else sys.argv[1:]
    plan = json.loads(Path(plan_path).read_text())
    mutated = Path(plan["module"]).read_text()
    first, rest = select(plan, mutated)
    record: dict = {"lines": sorted(changed_lines(plan["source"], mutated)), "runs": []}
    status = 0
    for tests in (first, rest):
        if not tests:
            continue
        timeout = timeout_for(plan, tests)
        start = time.perf_counter()
        status, timed_out = run_pytest(tests, timeout)
        record["runs"].append({"tests": len(tests), "s": round(time.perf_counter() - start, 2), "rc": status})
        if timed_out:
            print(f"{TIMEOUT_MARK} after {timeout:.0f} s ({len(tests)} tests)", flush=True)
            record["timeout"] = True
        if status != 0:
            break
    if status != 0:
        record["killed_by"] = "all" if not first else "first" if len(record["runs"]) == 1 else "rest"
    with open(plan["log"], "a") as log:
        log.write(json.dumps(record) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
