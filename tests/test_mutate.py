"""`make mutate` (benchmarks/mutate.py, benchmarks/mutant_tests.py): a survivor's line from its diff,
equivalents left out of the rate, sessions keyed by the tree they test and counted with what is still
pending, the coverage plan that maps each line to the tests that execute it, and a mutant's run (those
tests first, the rest only if they pass, a timeout for a hang) on a tiny project without torch; and
`make planted-bugs`'s list, which must follow the code it plants bugs in."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import each other from beside them
import mutant_tests  # noqa: E402
import mutate  # noqa: E402
import mutation_plan  # noqa: E402
import planted_bugs  # noqa: E402

# As `cosmic-ray dump` gives it for a comparison mutant of early_stopping.py's line 45.
DIFF = (
    "--- mutation diff ---\n--- a/src/cnnlab/engine/early_stopping.py\n"
    "+++ b/src/cnnlab/engine/early_stopping.py\n"
    "@@ -42,7 +42,7 @@\n \n     def update_is_due(self, epoch: int) -> bool:\n"
    '         """Whether ..."""\n-        return epoch - self.best_epoch >= self.patience\n'
    "+        return epoch - self.best_epoch == self.patience\n \n     def _improves(self, value):"
)


def test_a_survivors_line_and_change_come_from_its_diff():
    assert mutate.parse_diff(DIFF) == (
        45,
        ["return epoch - self.best_epoch >= self.patience"],
        ["return epoch - self.best_epoch == self.patience"],
    )


# As Cosmic Ray writes a removed decorator: the blank line above it goes too.
DECORATOR_DIFF = (
    "--- mutation diff ---\n--- a/src/cnnlab/data/augment.py\n+++ b/src/cnnlab/data/augment.py\n"
    "@@ -31,8 +31,6 @@\n \n     moves_pixels: ClassVar[bool] = True\n-\n-    @property\n"
    "     def active(self) -> bool:\n         raise NotImplementedError"
)


def test_a_removed_decorator_is_read_without_the_blank_line_and_matches_its_equivalent():
    assert mutate.parse_diff(DECORATOR_DIFF) == (34, ["@property"], [])
    config = {"equivalent": [{"module": "data/augment.py", "line": "@property", "mutant": "", "reason": "r"}]}
    known = mutate.equivalents(config)
    assert known[mutate.equivalence_key("data/augment.py", ["", "@property"], [])] == "r"  # an older report's
    assert mutate.equivalence_key("data/augment.py", ["@property"], []) in known


def test_equivalents_are_listed_but_left_out_of_the_survival_rate():
    config = {
        "equivalent": [
            {
                "module": "engine/early_stopping.py",
                "line": "  return epoch - self.best_epoch >= self.patience ",
                "mutant": "return epoch - self.best_epoch == self.patience",
                "reason": "for the test",
            }
        ]
    }
    _, removed, added = mutate.parse_diff(DIFF)
    reason = mutate.equivalents(config)[("engine/early_stopping.py", " ".join(removed), " ".join(added))]
    live = mutate.Survivor("a", "core/ReplaceComparisonOperator_GtE_Eq", 45, removed, added, DIFF)
    equivalent = mutate.Survivor("b", "core/X", 45, removed, added, DIFF, equivalent=reason)
    result = mutate.ModuleResult(
        "engine/early_stopping.py", ["tests/x.py"], 10.0, mutants=11, pending=2, killed=7
    )
    result.survivors = [live, equivalent]
    assert result.survival_rate == pytest.approx(1 / 8)  # 1 live survivor, 7 killed; the equivalent out
    unstarted = mutate.ModuleResult("engine/tasks.py", ["tests/y.py"])
    text = mutate.report([result, unstarted], "now", "abc", "0.1")
    assert "| engine/early_stopping.py | x.py | 11 | 2 | 7 | 0 | 1 | 1 | 12.5% | 10 s |" in text
    assert "**2 mutants still pending**; not started: engine/tasks.py. Rerun `make mutate`" in text
    assert "equivalent: for the test" in text and "-        return epoch - self.best_epoch >= self" in text


def test_every_module_and_test_file_in_mutation_toml_exists():
    config = mutate.tomllib.loads(mutate.CONFIG.read_text())
    mutate.check_modules(config, list(config["modules"]))
    assert {"engine/early_stopping.py", "engine/validate.py", "sweep/jobs.py", "engine/fit.py"} <= set(
        config["modules"]
    )
    bad = config | {"modules": {"engine/tasks.py": {"tests": ["tests/test_tasks.py::test_no_such_test"]}}}
    with pytest.raises(SystemExit, match="test_no_such_test"):
        mutate.check_modules(bad, ["engine/tasks.py"])


SOURCE = """\
LIMIT = 3


def check(n):
    if (n >
            LIMIT):
        return "big"
    return "small"


def helper():
    return 1
"""
TESTS = ["tests/test_a.py::test_small", "tests/test_a.py::test_big", "tests/test_b.py::test_other"]


def test_each_line_runs_the_tests_that_execute_its_statement_or_else_the_whole_list():
    contexts = {
        1: [""],  # at import
        5: ["tests/test_a.py::test_small[1]|run", "tests/test_a.py::test_big|run"],
        7: ["tests/test_a.py::test_big|run"],
        8: ["tests/test_a.py::test_small[2]|run"],
        11: [""],  # def line, at import
        12: ["tests/test_b.py::test_other|setup"],  # a fixture's work counts for its whole file
    }
    lines = mutation_plan.line_tests(SOURCE, contexts, TESTS)
    assert lines[1] is None and lines[4] is None and lines[11] is None  # module level: everything
    assert lines[5] == lines[6] == [0, 1]  # both lines of the condition: its statement's tests
    assert lines[7] == [1] and lines[8] == [0]
    assert lines[12] == [2]
    assert mutation_plan.line_tests(SOURCE, {**contexts, 7: []}, TESTS)[7] is None  # no test runs it
    assert mutation_plan.line_tests(SOURCE, {**contexts, 7: ["", "x|run"]}, TESTS)[7] is None  # collection
    unknown = {**contexts, 7: ["tests/test_c.py::test_new|run"]}
    assert mutation_plan.line_tests(SOURCE, unknown, TESTS)[7] is None


def _plan(tmp_path: Path, source: str = SOURCE, **changes) -> dict:
    contexts = {7: [f"{TESTS[1]}|run"], 8: [f"{TESTS[0]}|run", f"{TESTS[2]}|run"]}
    lines = mutation_plan.line_tests(source, contexts, TESTS)
    plan = {
        "module": "tiny.py",
        "source": source,
        "tests": TESTS,
        "durations": dict(zip(TESTS, [0.5, 2.0, 4.0], strict=True)),
        "startup_s": 3.0,
        "timeout_factor": 3.0,
        "min_timeout": 30,
        "lines": {str(k): v for k, v in lines.items()},
        "log": str(tmp_path / "mutants.jsonl"),
    }
    return plan | changes


def test_a_mutant_runs_the_tests_of_its_changed_lines_first_then_the_rest(tmp_path):
    plan = _plan(tmp_path)
    assert mutant_tests.changed_lines(SOURCE, SOURCE.replace('"small"', '"SMALL"')) == {8}
    assert mutant_tests.select(plan, SOURCE.replace('"small"', '"SMALL"')) == (
        [TESTS[0], TESTS[2]],
        [TESTS[1]],
    )
    assert mutant_tests.select(plan, SOURCE.replace("LIMIT = 3", "LIMIT = 4")) == ([], TESTS)
    # A removed line counts as changed: `return "big"` gone leaves line 7's tests first.
    assert mutant_tests.changed_lines(SOURCE, SOURCE.replace('        return "big"\n', "")) == {7}


def test_a_runs_timeout_is_the_factor_times_its_tests_start_and_longest_test_at_least_the_floor(tmp_path):
    plan = _plan(tmp_path)
    # 3 x (3.0 s start + 0.5 + 4.0 s + 4.0 s, the longest test once more) = 34.5 s.
    assert mutant_tests.timeout_for(plan, [TESTS[0], TESTS[2]]) == pytest.approx(34.5)
    assert mutant_tests.timeout_for(plan, [TESTS[0]]) == 30  # 3 x 7.5 = 22.5 s, under the floor
    assert mutant_tests.timeout_for(_plan(tmp_path, min_timeout=0), [TESTS[0]]) == pytest.approx(22.5)


TINY_TESTS = """\
import time
from tiny import check

def test_hangs_when_big_is_wrong():
    while check(9) != "big":
        time.sleep(0.1)

def test_small():
    assert check(1) == "small"

def test_big():
    assert check(9) == "big"
"""


def _tiny_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mutated: str, **changes) -> Path:
    """SOURCE and its tests in tmp_path (no torch: a pytest run takes a second or so), the module on
    disk as Cosmic Ray leaves it mutated, and its plan; the working dir is the project's."""
    (tmp_path / "tiny.py").write_text(mutated)
    (tmp_path / "test_tiny.py").write_text(TINY_TESTS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # no plugin needed: a faster start
    hangs, small, big = (
        f"test_tiny.py::{name}" for name in ("test_hangs_when_big_is_wrong", "test_small", "test_big")
    )
    contexts = {7: [f"{hangs}|run", f"{big}|run"], 8: [f"{small}|run"]}
    tests = [hangs, small, big]
    plan = _plan(tmp_path, tests=tests, durations=dict.fromkeys(tests, 0.1), startup_s=0.5, min_timeout=60)
    plan["lines"] = {str(k): v for k, v in mutation_plan.line_tests(SOURCE, contexts, tests).items()}
    (tmp_path / "plan.json").write_text(json.dumps(plan | changes))
    return tmp_path / "plan.json"


def _last_record(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "mutants.jsonl").read_text().splitlines()[-1])


def test_a_mutant_killed_by_its_lines_tests_runs_nothing_else(tmp_path, monkeypatch):
    plan = _tiny_project(tmp_path, monkeypatch, SOURCE.replace('"small"', '"SMALL"'))
    assert mutant_tests.main([str(plan)]) != 0
    record = _last_record(tmp_path)
    assert (record["lines"], record["killed_by"], [r["tests"] for r in record["runs"]]) == ([8], "first", [1])


def test_the_rest_still_judges_a_mutant_its_lines_tests_miss(tmp_path, monkeypatch):
    """Coverage mapped line 8 to test_big alone (as a cache shared between tests could make it): test_big
    passes, and the rest of the list (test_small) kills the mutant, as the whole list would."""
    plan = _tiny_project(tmp_path, monkeypatch, SOURCE.replace('"small"', '"SMALL"'))
    data = json.loads(plan.read_text())
    plan.write_text(json.dumps(data | {"lines": data["lines"] | {"8": [2]}}))
    assert mutant_tests.main([str(plan)]) != 0
    assert (_last_record(tmp_path)["killed_by"], [r["tests"] for r in _last_record(tmp_path)["runs"]]) == (
        "rest",
        [1, 2],
    )


def test_a_survivor_passes_the_whole_list(tmp_path, monkeypatch):
    plan = _tiny_project(tmp_path, monkeypatch, SOURCE.replace("LIMIT = 3", "LIMIT = 4"))
    assert mutant_tests.main([str(plan)]) == 0  # module level: the whole list at once, and it passes
    record = _last_record(tmp_path)
    assert "killed_by" not in record and [r["tests"] for r in record["runs"]] == [3]


def test_a_hanging_mutant_is_stopped_at_its_timeout_and_counts_as_killed(tmp_path, monkeypatch, capfd):
    plan = _tiny_project(
        tmp_path, monkeypatch, SOURCE.replace('return "big"', 'return "small"'), min_timeout=0
    )
    start = time.perf_counter()
    assert mutant_tests.main([str(plan)]) != 0
    # 3 x (0.5 s start + 0.1 + 0.1 s of its two tests + 0.1 s, the longest once more) = 2.4 s.
    assert time.perf_counter() - start < 20
    assert mutant_tests.TIMEOUT_MARK in capfd.readouterr().out
    assert _last_record(tmp_path)["timeout"] is True


def test_pytests_duration_table_sums_each_test_functions_phases_and_parameters():
    table = """
============================= slowest durations ==============================
2.50s call     tests/test_a.py::test_run
0.50s setup    tests/test_a.py::test_run
0.10s call     tests/test_a.py::test_case[overrides0-would stop on the test split]
0.20s call     tests/test_a.py::test_case[overrides1-x=1]
0.00s teardown tests/test_b.py::TestKind::test_one
11 passed in 3.40s
"""
    assert mutate.parse_durations(table) == {
        "tests/test_a.py::test_run": pytest.approx(3.0),
        "tests/test_a.py::test_case": pytest.approx(0.3),
        "tests/test_b.py::TestKind::test_one": 0.0,
    }


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_sessions_are_keyed_by_the_commit_and_by_the_content_of_uncommitted_changes(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "a.py").write_text("A = 1\n")
    (repo / ".gitignore").write_text("outputs/\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "one")
    monkeypatch.setattr(mutate, "ROOT", repo)
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True, text=True
    )
    assert mutate.session_key(mutate.snapshot()) == commit.stdout.strip()  # a clean tree: the commit
    (repo / "benchmarks" / "results").mkdir(parents=True)
    (repo / "benchmarks" / "results" / "mutation-2026-01-01_00-00-00.md").write_text("a killed run's report")
    assert mutate.session_key(mutate.snapshot()) == commit.stdout.strip()  # its own reports do not count
    (repo / "outputs").mkdir()
    (repo / "outputs" / "run.log").write_text("ignored")
    (repo / "src" / "b.py").write_text("B = 2\n")  # untracked, not ignored: part of what is tested
    files = mutate.snapshot()
    assert sorted(files) == [".gitignore", "src/a.py", "src/b.py"]
    dirty = mutate.session_key(files)
    assert dirty.startswith(commit.stdout.strip() + "-dirty-")
    assert mutate.session_key(mutate.snapshot()) == dirty  # the same changes: the same sessions
    (repo / "src" / "b.py").write_text("B = 3\n")
    assert mutate.session_key(mutate.snapshot()) not in (dirty, commit.stdout.strip())
    mutate.copy_repository(tmp_path / "copy", files)  # the snapshot, whatever the tree holds now
    assert (tmp_path / "copy" / "src" / "b.py").read_text() == "B = 2\n"
    assert not (tmp_path / "copy" / "outputs").exists()


OTHER_TESTS = """\
import subprocess
import sys

import pytest

from cnnlab.tiny import check


@pytest.fixture
def big():
    return check(9)


def test_small():
    assert check(1) == "small"


def test_big(big):
    assert big == "big"


def test_helper_in_a_subprocess():
    code = "from cnnlab.tiny import helper; assert helper() == 1"
    subprocess.run([sys.executable, "-c", code], check=True)
"""


def test_a_plan_maps_each_line_to_the_tests_coverage_saw_execute_it(tmp_path):
    """A real coverage run with pytest-cov's contexts over a tiny package: a test's own calls select it,
    a fixture's select its whole file, and a subprocess's select the test that started it."""
    project = tmp_path / "project"
    (project / "src" / "cnnlab").mkdir(parents=True)
    (project / "src" / "cnnlab" / "__init__.py").write_text("")
    (project / "src" / "cnnlab" / "tiny.py").write_text(SOURCE)
    (project / "tests").mkdir()
    (project / "tests" / "test_tiny.py").write_text(OTHER_TESTS)
    (project / "tests" / "test_other.py").write_text(
        "from cnnlab.tiny import check\n\n\ndef test_one():\n    check(1)\n"
    )
    (project / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "mutation_plan.py", project / "benchmarks")  # a copy has it
    tests = ["tests/test_tiny.py", "tests/test_other.py"]
    config = {"modules": {"tiny.py": {"tests": tests}}, "timeout-factor": 3.0, "min-timeout": 30}
    module = mutate.Module("tiny.py", config, tmp_path / "session", copy=project)
    module.dir.mkdir()
    plan, error = module.plan()
    assert error is None
    assert set(plan["tests"]) == {
        "tests/test_tiny.py::test_small",
        "tests/test_tiny.py::test_big",
        "tests/test_tiny.py::test_helper_in_a_subprocess",
        "tests/test_other.py::test_one",
    }
    name = {i: test.split("::")[1] for i, test in enumerate(plan["tests"])}
    selected = {int(line): tests and {name[i] for i in tests} for line, tests in plan["lines"].items()}
    assert selected[1] is None and selected[11] is None  # module level
    assert selected[8] == {"test_small", "test_one"}
    assert selected[7] == {"test_small", "test_big", "test_helper_in_a_subprocess"}  # the fixture's file
    assert selected[12] == {"test_helper_in_a_subprocess"}  # `return 1` runs in its subprocess only
    # The timed run, fastest first: its wall time is the start plus the tests' durations.
    assert plan["baseline_s"] == pytest.approx(plan["startup_s"] + sum(plan["durations"].values()), abs=0.1)
    assert plan["startup_s"] > 0
    assert json.loads((module.dir / "plan.json").read_text()) == plan


def test_results_count_the_pending_mutants_the_timeouts_and_the_kills_outside_the_selection(
    tmp_path, monkeypatch
):
    """What a session holds after a run was killed part-way: finished mutants and pending ones."""

    def item(job: str) -> dict:
        return {"job_id": job, "mutations": [{"operator_name": "core/ReplaceComparisonOperator_GtE_Eq"}]}

    normal = {"worker_outcome": "normal", "output": "1 failed"}
    dump = [
        (item("a"), {"worker_outcome": "skipped", "test_outcome": None}),  # an excluded operator
        (item("b"), None),
        (item("c"), None),
        (item("d"), normal | {"test_outcome": "killed"}),
        (item("e"), normal | {"test_outcome": "killed", "output": f"{mutant_tests.TIMEOUT_MARK} after 30 s"}),
        (item("f"), normal | {"test_outcome": "killed", "output": "timeout"}),  # Cosmic Ray's own
        (item("g"), normal | {"test_outcome": "survived", "diff": DIFF}),
    ]
    monkeypatch.setattr(mutate, "SESSIONS", tmp_path)
    config = {"modules": {"engine/early_stopping.py": {"tests": ["tests/x.py"]}}}
    module = mutate.Module(
        "engine/early_stopping.py", config, mutate.session_dir("k", "engine/early_stopping.py")
    )
    monkeypatch.setattr(mutate.Module, "results", lambda self: dump)
    # No session yet: not started, whatever a dump would say.
    assert (
        mutate.mutate_module("engine/early_stopping.py", config, "k", {}, print, execute=False).mutants == 0
    )
    module.dir.mkdir(parents=True)
    module.session.write_bytes(b"")
    module.plan_path.write_text(json.dumps({"baseline_s": 22.0}))
    records = [
        {"runs": [{"s": 5.0}], "killed_by": "first"},
        {"runs": [{"s": 3.0}, {"s": 10.0}], "killed_by": "rest"},
    ]
    module.log_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = mutate.mutate_module("engine/early_stopping.py", config, "k", {}, print, execute=False)
    assert (result.mutants, result.pending, result.killed, result.timeouts, result.skipped) == (6, 2, 3, 2, 1)
    assert [s.line for s in result.survivors] == [45] and result.survival_rate == pytest.approx(1 / 4)
    assert (result.baseline_s, result.mean_mutant_s, result.killed_by_rest) == (22.0, 9.0, 1)
    assert result.tests == ["tests/x.py"]
    # The report shows the list the session ran with (another tree's, read with --at), not today's.
    module.plan_path.write_text(json.dumps({"baseline_s": 22.0, "listed": ["tests/then.py"]}))
    result = mutate.mutate_module("engine/early_stopping.py", config, "k", {}, print, execute=False)
    assert result.tests == ["tests/then.py"]


def test_at_reads_another_trees_sessions_only_for_a_report(tmp_path, monkeypatch):
    monkeypatch.setattr(mutate, "SESSIONS", tmp_path)
    for argv in (["--at", "abc"], ["--report-only", "--at", "missing"]):
        with pytest.raises(SystemExit) as refused:
            mutate.main(argv)
        assert refused.value.code == 2


def test_a_second_run_of_the_same_module_at_the_same_commit_is_refused(tmp_path, monkeypatch):
    """Both would mutate the one copy of the repository; the first holds the module's lock."""
    import fcntl

    monkeypatch.setattr(mutate, "SESSIONS", tmp_path)
    config = {"modules": {"engine/tasks.py": {"tests": ["tests/x.py"]}}}
    directory = mutate.session_dir("k", "engine/tasks.py")
    directory.mkdir(parents=True)
    with open(directory / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = mutate.mutate_module(
            "engine/tasks.py", config, "k", {"a.py": (b"", 0o644)}, print, execute=True
        )
    assert "another `make mutate` is running engine/tasks.py" in result.error
    assert not (directory / "copy").exists()


def _default_suite_function(test: str) -> ast.FunctionDef | None:
    """The test function `file::name` names, if it exists and is not slow-marked (the default run's)."""
    path, name = test.split("::")
    for node in ast.parse((ROOT / path).read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            marks = [ast.unparse(d) for d in node.decorator_list]
            return None if any("mark.slow" in m for m in marks) else node
    return None


@pytest.mark.parametrize("bug", planted_bugs.read_bugs(), ids=lambda bug: bug["name"])
def test_each_planted_bug_plants_once_and_names_a_default_suite_test(bug):
    assert (ROOT / bug["module"]).read_text().count(bug["old"]) == 1, bug["old"]
    assert bug["new"] != bug["old"]
    assert _default_suite_function(bug["catches"]) is not None, bug["catches"]


def _report_json(out: Path, started: str, sessions: str, rows: list[dict]) -> None:
    modules = [{"tests": ["tests/test_early_stopping.py"], "error": None, "survivors": [], **r} for r in rows]
    payload = {"started": started, "sessions": f"outputs/mutate/{sessions}", "load": "0", "modules": modules}
    (out / f"mutation-{started}.json").write_text(json.dumps(payload))


def test_the_summary_takes_each_modules_newest_finished_result_under_todays_equivalents(tmp_path):
    """A run split over sessions or machines adds up: a module's row comes from the newest report in
    which it finished; one still pending there, or failed, leaves the older finished row in place."""
    head = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    _, removed, added = mutate.parse_diff(DIFF)
    survivor = {
        "job_id": "a",
        "operator": "core/X",
        "line": 45,
        "removed": removed,
        "added": added,
        "diff": DIFF,
    }
    es, tasks = "engine/early_stopping.py", "engine/tasks.py"
    _report_json(
        tmp_path,
        "2026-01-01_00-00-00",
        "0123456789ab",
        [
            {"module": es, "mutants": 10, "pending": 0, "killed": 8, "survivors": [survivor, survivor]},
            {"module": tasks, "mutants": 5, "pending": 0, "killed": 5},
        ],
    )
    _report_json(
        tmp_path,
        "2026-01-02_00-00-00",
        head.stdout.strip(),
        [
            {"module": es, "mutants": 10, "pending": 3, "killed": 7},
            {"module": tasks, "mutants": 6, "pending": 0, "killed": 3, "survivors": [survivor]},
        ],
    )
    _report_json(
        tmp_path,
        "2026-01-03_00-00-00",
        "0123456789ab-dirty-ffff",
        [
            {"module": tasks, "mutants": 0, "pending": 0, "killed": 0, "error": "cosmic-ray exec failed"},
        ],
    )
    # Written later, but of an older tree's sessions (--report-only --at): not the newest result.
    older = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD~1"], cwd=ROOT, capture_output=True, text=True
    )
    _report_json(
        tmp_path,
        "2026-01-04_00-00-00",
        older.stdout.strip() or "fedcba987654",
        [{"module": tasks, "mutants": 7, "pending": 0, "killed": 7}],
    )
    (tmp_path / "mutation-2025-12-31_00-00-00.json").write_text(json.dumps({"started": "x", "modules": []}))
    config = {"equivalent": [{"module": es, "line": removed[0], "mutant": added[0], "reason": "test"}]}
    measured = mutate.newest_finished(tmp_path, config)
    assert {m: (v.report, v.commit) for m, v in measured.items()} == {
        es: ("mutation-2026-01-01_00-00-00.json", "0123456789ab"),
        tasks: ("mutation-2026-01-02_00-00-00.json", head.stdout.strip()),
    }
    # Today's list makes early_stopping's two survivors equivalents; tasks' (not listed for it) stays.
    assert [len(measured[es].result.live), len(measured[es].result.equivalents)] == [0, 2]
    assert measured[tasks].result.survival_rate == pytest.approx(1 / 4)
    text = mutate.summary(measured, [es, tasks, "engine/loop.py"])
    assert (
        f"| {es} | mutation-2026-01-01_00-00-00 | `0123456789ab` | unknown: no commit 0123456789ab here "
        "| 10 | 8 | 0 | 2 | 0.0% |" in text
    )
    assert (
        f"| {tasks} | mutation-2026-01-02_00-00-00 | `{head.stdout.strip()}` | no | 6 | 3 | 1 | 0 | 25.0% |"
        in text
    )
    assert "| engine/loop.py | not finished in any report |" in text
    assert "The 2 modules measured: 1 of 12 mutants survive (8.3%)." in text
    assert (
        mutate.changed_since("0123456789ab-dirty-ffff", es, []) == "unknown: measured on uncommitted changes"
    )
