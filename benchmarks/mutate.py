"""Mutation testing of cnnlab's core (`make mutate`): Cosmic Ray plants one small bug at a time in a
module (a flipped comparison, a changed constant, a loop that never runs, ...) and runs the tests that
cover that module. A mutant the tests still pass is a survivor: a bug no test would notice.

    python benchmarks/mutate.py                               # every module in benchmarks/mutation.toml
    python benchmarks/mutate.py --modules engine/early_stopping.py engine/tasks.py
    python benchmarks/mutate.py --list                        # mutants per module, done and pending
    python benchmarks/mutate.py --report-only                 # the report from what has finished
    python benchmarks/mutate.py --report-only --at 67c27f5a8f40   # another tree's, today's equivalents

Resumable: each module's Cosmic Ray session (one result per mutant, written as each finishes) lives in
outputs/mutate/<commit>/<module>/, so a rerun at the same commit (and the same uncommitted changes)
runs only the mutants still pending; a changed tree starts new sessions beside the old ones.

Each module is planned once: its tests (the files or `file::test` ids mutation.toml lists) run
unmutated under coverage, one context per test (benchmarks/mutation_plan.py), to learn which tests
execute each line, then again fastest first to time each test (they must pass both times). The
mutants run in a copy of the repository (tracked and untracked files, not the ignored ones, as read at
the start; made afresh at each start, so a mutant left behind by a killed run is gone) with PYTHONPATH
at the copy, so the work tree is never touched and subprocess runs import the mutant too.
benchmarks/mutant_tests.py is the test command: the tests that execute the mutated lines first, then
the rest (see there). The report, benchmarks/results/mutation-<start time>.md and .json, is written at
the start and again as each module finishes, and says how many mutants are still pending.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from threading import Lock

from mutant_tests import PYTEST, TIMEOUT_MARK  # benchmarks/, beside this script
from mutation_plan import SUBPROCESS_DIR, contexts_by_line, function_id, line_tests, write_subprocess_template

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (the `mutation` extra)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "mutation.toml"
SESSIONS = ROOT / "outputs" / "mutate"
PACKAGE = "src/cnnlab"
DURATION = re.compile(r"^(\d+\.\d+)s (?:setup|call|teardown)\s+(\S.*)$")


@dataclass
class Survivor:
    job_id: str
    operator: str
    line: int
    removed: list[str]
    added: list[str]
    diff: str
    equivalent: str | None = None  # the reason, when mutation.toml lists it as an equivalent


@dataclass
class ModuleResult:
    module: str
    tests: list[str]
    baseline_s: float | None = None  # the module's tests, unmutated, in the planned order
    mutants: int = 0
    pending: int = 0
    killed: int = 0
    timeouts: int = 0
    incompetent: int = 0
    skipped: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    mean_mutant_s: float | None = None  # the test command's wall time per mutant, over those logged
    killed_by_rest: int = 0  # mutants that only tests not executing the mutated lines killed
    error: str | None = None

    @property
    def equivalents(self) -> list[Survivor]:
        return [s for s in self.survivors if s.equivalent]

    @property
    def live(self) -> list[Survivor]:
        return [s for s in self.survivors if not s.equivalent]

    @property
    def judged(self) -> int:
        """Mutants that count: killed ones and non-equivalent survivors."""
        return self.killed + len(self.live)

    @property
    def survival_rate(self) -> float | None:
        return len(self.live) / self.judged if self.judged else None


def check_modules(config: dict, modules: list[str]) -> None:
    """Each module and the tests mutation.toml lists for it (files, or test ids `file::test`) exist."""
    for module in modules:
        tests = config["modules"][module]["tests"]
        missing = [t for t in tests if not _test_exists(t)]
        if not (ROOT / PACKAGE / module).is_file() or missing:
            raise SystemExit(f"{CONFIG}: [modules.{module!r}] names missing files: {missing or module}")


def _test_exists(test: str) -> bool:
    file, *names = test.split("::")
    path = ROOT / file
    return path.is_file() and all(
        re.search(rf"^\s*(def|class) {re.escape(n)}\b", path.read_text(), re.M) for n in names
    )


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def _own_report(name: str) -> bool:
    """A report this command wrote (benchmarks/results/mutation-*): never part of what it tests, so a
    report left by a killed run does not make the rerun's tree differ."""
    return re.fullmatch(r"benchmarks/results/mutation-[^/]+", name) is not None


def snapshot() -> dict[str, tuple[bytes, int]]:
    """The repository's tracked and untracked files (what git does not ignore, and no report of this
    command), read once: every copy a run makes is of this, whatever changes in the work tree meanwhile."""
    names = _git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    paths = [ROOT / n for n in sorted(filter(None, names)) if not _own_report(n)]
    return {str(p.relative_to(ROOT)): (p.read_bytes(), p.stat().st_mode) for p in paths if p.is_file()}


def session_key(files: dict[str, tuple[bytes, int]]) -> str:
    """The commit, plus a digest of every file when the tree differs from it: sessions are reused only
    for the very code and tests they were made from."""
    commit = _git("rev-parse", "--short=12", "HEAD").strip()
    changes = _git("status", "--porcelain", "-z", "--untracked-files=all").split("\0")
    changed = [entry[3:] if re.match(r"^.. ", entry) else entry for entry in filter(None, changes)]
    if all(_own_report(name) for name in changed):
        return commit
    digest = hashlib.sha256()
    for name, (content, _) in files.items():
        digest.update(name.encode() + b"\0" + content + b"\0")
    return f"{commit}-dirty-{digest.hexdigest()[:10]}"


def copy_repository(dest: Path, files: dict[str, tuple[bytes, int]]) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    for name, (content, mode) in files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(content)
        (dest / name).chmod(mode)


def parse_durations(output: str) -> dict[str, float]:
    """Seconds per test function (setup, call and teardown of all its parameters) from pytest's
    `--durations=0 --durations-min=0` table."""
    seconds: dict[str, float] = {}
    for line in output.splitlines():
        if match := DURATION.match(line.strip()):
            name = function_id(match.group(2).strip())
            seconds[name] = seconds.get(name, 0.0) + float(match.group(1))
    return seconds


def session_dir(key: str, module: str) -> Path:
    return SESSIONS / key / module.replace("/", "-").removesuffix(".py")


def own_environment() -> dict[str, str]:
    """This process's environment less a caller's coverage settings (COVERAGE_FILE, coverage's and
    pytest-cov's subprocess variables): under them the plan's coverage run would write its data to the
    caller's file, and each mutant's tests would be measured for the caller (`make mutate` run under CI's
    coverage, say)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "COV_CORE_"))}


class Module:
    """One module's Cosmic Ray session, plan and copy of the repository, all in `directory`."""

    def __init__(self, module: str, config: dict, directory: Path, copy: Path | None = None):
        self.module, self.config, self.dir = module, config, directory
        self.tests: list[str] = config["modules"][module]["tests"]
        self.session = self.dir / "session.sqlite"
        self.plan_path = self.dir / "plan.json"
        self.log_path = self.dir / "mutants.jsonl"
        self.copy = copy or self.dir / "copy"
        self.env = {**own_environment(), "PYTHONPATH": str(self.copy / "src"), "PYTHONDONTWRITEBYTECODE": "1"}

    def cosmic_ray(self, *args: str) -> subprocess.CompletedProcess:
        tool = Path(sys.executable).with_name(args[0])
        return subprocess.run(
            [str(tool), *args[1:]], cwd=self.copy, env=self.env, capture_output=True, text=True
        )

    def write_config(self, timeout: float) -> Path:
        command = [sys.executable, str(self.copy / "benchmarks" / "mutant_tests.py"), str(self.plan_path)]
        path = self.dir / "cosmic-ray.toml"
        path.write_text(
            "[cosmic-ray]\n"
            f"module-path = {json.dumps(f'{PACKAGE}/{self.module}')}\n"
            f"timeout = {timeout:.0f}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(shlex.join(command))}\n"
            '[cosmic-ray.distributor]\nname = "local"\n'
            "[cosmic-ray.filters.operators-filter]\n"
            f"exclude-operators = {json.dumps(self.config['exclude-operators'])}\n"
        )
        return path

    def init(self) -> str | None:
        """Cosmic Ray's session: every mutant of the module, those of the excluded operators and on
        `# pragma: no mutate` lines marked skipped. Made in a scratch file, so it exists only whole."""
        scratch = self.session.with_suffix(".tmp")
        scratch.unlink(missing_ok=True)
        config = self.write_config(timeout=0)
        for step in (
            ("cosmic-ray", "init", str(config), str(scratch)),
            ("cr-filter-operators", str(scratch), str(config)),
            ("cr-filter-pragma", str(scratch)),
        ):
            done = self.cosmic_ray(*step)
            if done.returncode != 0:
                return f"{' '.join(step)} failed:\n{done.stderr[-2000:]}"
        scratch.replace(self.session)
        return None

    def plan(self) -> tuple[dict | None, str | None]:
        """Which tests execute each line (a coverage run, one context per test), and each test's time
        run fastest first (which must pass too): plan.json, what mutant_tests.py reads."""
        data = self.dir / "coverage.sqlite"
        rc = self.dir / "coveragerc"
        target = self.copy / PACKAGE / self.module
        rc.write_text(f"[run]\ndata_file = {data}\ninclude = {target}\npatch = _exit\nsigterm = true\n")
        subprocesses = self.dir / "subprocess-coverage"
        shutil.rmtree(subprocesses, ignore_errors=True)
        write_subprocess_template(subprocesses, target)
        path = os.pathsep.join([str(self.copy / "src"), str(self.copy / "benchmarks")])  # the plugin's
        covered = subprocess.run(
            [sys.executable, *PYTEST, "-p", "mutation_plan", "--durations=0", "--durations-min=0", "--cov"]
            + [f"--cov-config={rc}", "--cov-context=test", "--cov-report=", *self.tests],
            cwd=self.copy,
            env=self.env | {"PYTHONPATH": path, SUBPROCESS_DIR: str(subprocesses)},
            capture_output=True,
            text=True,
        )
        if covered.returncode != 0:
            return None, f"the tests fail without any mutation:\n{(covered.stdout + covered.stderr)[-3000:]}"
        contexts = contexts_by_line(data, subprocesses, target)
        first_durations = parse_durations(covered.stdout)
        ordered = sorted(first_durations, key=first_durations.get)
        start = time.perf_counter()
        timed = subprocess.run(
            [sys.executable, *PYTEST, "-x", "--durations=0", "--durations-min=0", *ordered],
            cwd=self.copy,
            env=self.env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if timed.returncode != 0:
            return (
                None,
                f"the tests fail when run fastest first (do they depend on order?):\n{timed.stdout[-3000:]}",
            )
        durations = parse_durations(timed.stdout)
        source = target.read_text()
        plan = {
            "module": f"{PACKAGE}/{self.module}",
            "source": source,
            "listed": self.tests,  # mutation.toml's list, as the report shows it
            "tests": ordered,
            "durations": {t: durations.get(t, 0.0) for t in ordered},
            "baseline_s": round(wall, 1),
            "startup_s": round(max(wall - sum(durations.values()), 0.0), 2),
            "timeout_factor": self.config["timeout-factor"],
            "min_timeout": self.config["min-timeout"],
            "lines": {str(k): v for k, v in line_tests(source, contexts, ordered).items()},
            "log": str(self.log_path),
        }
        scratch = self.plan_path.with_suffix(".tmp")  # whole or absent, however the run ends
        scratch.write_text(json.dumps(plan, indent=1) + "\n")
        scratch.replace(self.plan_path)
        return plan, None

    def results(self) -> list[tuple[dict, dict | None]]:
        done = subprocess.run(
            [str(Path(sys.executable).with_name("cosmic-ray")), "dump", str(self.session)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(
                f"cosmic-ray dump {self.session} failed; delete that folder to start the module "
                f"afresh:\n{done.stderr[-2000:]}"
            )
        return [tuple(json.loads(line)) for line in done.stdout.splitlines() if line.strip()]


def mutate_module(module: str, config: dict, key: str, files: dict, log, execute: bool) -> ModuleResult:
    """Run the module's pending mutants (when `execute`; its session and plan made first if missing)
    and read what its session holds."""
    m = Module(module, config, session_dir(key, module))
    result = ModuleResult(module, m.tests)
    if execute:
        m.dir.mkdir(parents=True, exist_ok=True)
        with open(m.dir / "lock", "w") as lock:
            try:  # released by the kernel when this process ends, however it ends
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                result.error = f"another `make mutate` is running {module} at this commit ({m.dir})"
                return result
            copy_repository(m.copy, files)
            result.error = None if m.session.exists() else m.init()
            if not result.error:
                result.error = execute_pending(m, log)
            shutil.rmtree(m.copy, ignore_errors=True)
    if m.session.exists():
        plan = json.loads(m.plan_path.read_text()) if m.plan_path.exists() else None
        read_results(m, plan, result)
    return result


def execute_pending(m: Module, log) -> str | None:
    """`cosmic-ray exec` over the mutants without a result; an error message, or None."""
    pending = sum(outcome is None for _, outcome in m.results())
    if not pending:
        return None
    if m.plan_path.exists():
        plan = json.loads(m.plan_path.read_text())
    else:
        log(f"{m.module}: planning (its tests under coverage, then timed)")
        plan, error = m.plan()
        if error:
            return error
    # Cosmic Ray's own timeout, past the two runs' own (mutant_tests.timeout_for): never the one that fires.
    durations = plan["durations"].values()
    expected = 2 * plan["startup_s"] + sum(durations) + 2 * max(durations)
    backstop = plan["timeout_factor"] * expected + 2 * plan["min_timeout"] + 60
    log(f"{m.module}: {pending} mutants pending; its tests take {plan['baseline_s']:.0f} s unmutated")
    start = time.perf_counter()
    done = m.cosmic_ray("cosmic-ray", "exec", str(m.write_config(backstop)), str(m.session))
    minutes = (time.perf_counter() - start) / 60
    finished = pending - sum(outcome is None for _, outcome in m.results())
    log(f"{m.module}: {finished} mutants in {minutes:.1f} min")
    return None if done.returncode == 0 else f"cosmic-ray exec failed:\n{done.stderr[-2000:]}"


def read_results(m: Module, plan: dict | None, result: ModuleResult) -> None:
    result.baseline_s = plan and plan["baseline_s"]
    if plan:  # the tests the session ran, which a report of another tree's sessions (--at) must show
        ran = plan.get("listed") or list(dict.fromkeys(t.split("::")[0] for t in plan.get("tests", [])))
        result.tests = ran or result.tests
    known = equivalents(m.config)
    for item, outcome in m.results():
        if outcome is not None and outcome["worker_outcome"] in ("skipped", "no-test"):
            result.skipped += 1  # an excluded operator, a pragma, or nothing to mutate
            continue
        result.mutants += 1
        if outcome is None:
            result.pending += 1
        elif outcome["worker_outcome"] != "normal" or outcome["test_outcome"] == "incompetent":
            result.incompetent += 1
        elif outcome["test_outcome"] == "killed":
            result.killed += 1
            result.timeouts += outcome.get("output") == "timeout" or TIMEOUT_MARK in (
                outcome.get("output") or ""
            )
        else:
            line, removed, added = parse_diff(outcome["diff"])
            (mutation,) = item["mutations"]
            reason = known.get(equivalence_key(m.module, removed, added))
            result.survivors.append(
                Survivor(
                    item["job_id"], mutation["operator_name"], line, removed, added, outcome["diff"], reason
                )
            )
    if m.log_path.exists():
        records = [json.loads(line) for line in m.log_path.read_text().splitlines() if line.strip()]
        if records:
            result.mean_mutant_s = round(sum(r["s"] for x in records for r in x["runs"]) / len(records), 1)
        result.killed_by_rest = sum(r.get("killed_by") == "rest" for r in records)


def equivalents(config: dict) -> dict[tuple[str, str, str], str]:
    listed = config.get("equivalent", [])
    return {(e["module"], e["line"].strip(), e["mutant"].strip()): e["reason"] for e in listed}


def parse_diff(diff: str) -> tuple[int, list[str], list[str]]:
    """The first changed line's number and the removed and added lines (stripped) of a unified diff,
    blank lines left out (Cosmic Ray drops the blank line above a decorator it removes)."""
    hunk = re.search(r"^@@ -(\d+)", diff, re.M)
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    changed = [line.startswith(("-", "+")) and bool(line[1:].strip()) for line in body]
    removed = [line[1:].strip() for line, c in zip(body, changed, strict=True) if c and line[0] == "-"]
    added = [line[1:].strip() for line, c in zip(body, changed, strict=True) if c and line[0] == "+"]
    start = int(hunk.group(1)) if hunk else 0
    context = next((i for i, c in enumerate(changed[1:]) if c), 0)
    return start + context, removed, added


def equivalence_key(module: str, removed: list[str], added: list[str]) -> tuple[str, str, str]:
    """How a survivor is looked up in the [[equivalent]] list: its module and changed lines, blank
    lines left out (reports written before parse_diff dropped them still hold them)."""
    return module, " ".join(line for line in removed if line), " ".join(line for line in added if line)


def _rate(result: ModuleResult) -> str:
    rate = result.survival_rate
    return "–" if rate is None else f"{100 * rate:.1f}%"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} s"


def report(results: list[ModuleResult], started: str, key: str, load: str) -> str:
    pending = sum(r.pending for r in results)
    unstarted = [r.module for r in results if not r.mutants and not r.error]
    lines = [
        f"# Mutation testing, {started}",
        "",
        f"Sessions `outputs/mutate/{key}/`, Cosmic Ray {_version()}, `make mutate` (benchmarks/mutate.py). "
        f"Machine load before: {load}.",
        "Survival rate = surviving mutants / (killed + surviving), equivalent mutants (listed in "
        "benchmarks/mutation.toml) left out. Timeouts count as killed. Per mutant: the test command's "
        "mean wall time.",
        "",
        f"**{pending} mutants still pending**"
        + (f"; not started: {', '.join(unstarted)}" if unstarted else "")
        + (". Rerun `make mutate` at this commit to finish them." if pending or unstarted else "."),
        "",
        "| module | tests | mutants | pending | killed | of them timeouts | survived | equivalent "
        "| survival rate | unmutated tests | per mutant |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        tests = ", ".join(Path(t).name for t in r.tests)
        if r.error:
            lines.append(
                f"| {r.module} | {tests} | error: see below | | | | | | | {_seconds(r.baseline_s)} | |"
            )
            continue
        lines.append(
            f"| {r.module} | {tests} | {r.mutants or '–'} | {r.pending} | {r.killed} | {r.timeouts} "
            f"| {len(r.live)} | {len(r.equivalents)} | {_rate(r)} | {_seconds(r.baseline_s)} "
            f"| {_seconds(r.mean_mutant_s)} |"
        )
    killed = sum(r.killed for r in results)
    live = sum(len(r.live) for r in results)
    if killed + live:
        rate = 100 * live / (killed + live)
        lines += ["", f"All modules: {live} of {killed + live} finished mutants survive ({rate:.1f}%)."]
    by_rest = sum(r.killed_by_rest for r in results)
    if by_rest:
        lines.append(f"{by_rest} mutants were killed only by tests that do not execute the mutated lines.")
    return "\n".join(lines + _survivor_sections(results)).rstrip() + "\n"


def _survivor_sections(results: list[ModuleResult]) -> list[str]:
    """Per module, each survivor as the diff of the line it changed (an equivalent with its reason)."""
    lines = []
    for r in results:
        lines += ["", f"## {r.module}", ""]
        if r.error:
            lines += ["```", r.error.strip(), "```"]
            continue
        if not r.survivors:
            lines.append("No survivors." if r.mutants and not r.pending else "No survivors so far.")
        for s in r.survivors:
            title = f"line {s.line}, {s.operator.removeprefix('core/')}"
            if s.equivalent:
                title += f" — equivalent: {s.equivalent}"
            lines += [f"- {title}", "", "  ```diff", *(f"  {d}" for d in _hunk(s.diff)), "  ```", ""]
    return lines


def _hunk(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cosmic-ray")
    except PackageNotFoundError:  # a report written where the `mutation` extra is not installed
        return "(not installed)"


def write_report(out: Path, results: list[ModuleResult], started: str, key: str, load: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"mutation-{started}"
    stem.with_suffix(".md").write_text(report(results, started, key, load))
    modules = [
        asdict(r) | {"survival_rate": r.survival_rate, "equivalent": len(r.equivalents)} for r in results
    ]
    payload = {"started": started, "sessions": f"outputs/mutate/{key}", "load": load, "modules": modules}
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    return stem.with_suffix(".md")


REPORT_JSON = re.compile(r"mutation-\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.json")


@dataclass
class Measured:
    """A module's newest finished result among the committed reports, and where it comes from."""

    result: ModuleResult
    report: str  # the report's file name
    commit: str  # the sessions' key: a commit, or commit-dirty-<digest> for an uncommitted tree


def newest_finished(out: Path, config: dict) -> dict[str, Measured]:
    """Per module, the result of the newest report in `out` in which that module finished (no mutant
    pending, no error), its survivors judged by today's [[equivalent]] list; so a run split over several
    machines or sessions adds up to one table. Newest by the tested commit's date, then the report's
    start: a report written later of an older tree's sessions (--report-only --at) is not the newest."""
    known = equivalents(config)
    fields = set(ModuleResult.__dataclass_fields__)
    reports = [json.loads(p.read_text()) | {"file": p.name} for p in out.glob("mutation-*.json")]
    # The first format, from before runs could resume, has no pending count (and no "sessions").
    reports = [r for r in reports if REPORT_JSON.fullmatch(r["file"]) and "sessions" in r]
    newest: dict[str, Measured] = {}
    for report in sorted(reports, key=lambda r: (_commit_time(_commit(r)), r["started"])):
        for row in report["modules"]:
            if row.get("error") or not row["mutants"] or row["pending"]:
                continue
            survivors = [Survivor(**s) for s in row["survivors"]]
            for s in survivors:
                s.equivalent = known.get(equivalence_key(row["module"], s.removed, s.added))
            result = ModuleResult(**{k: v for k, v in row.items() if k in fields} | {"survivors": survivors})
            newest[row["module"]] = Measured(result, report["file"], _commit(report))
    return newest


def _commit(report: dict) -> str:
    return report["sessions"].rsplit("/", 1)[-1]


def _commit_time(key: str) -> int:
    """The committer date of a sessions key's commit; 0 for one this clone does not have."""
    shown = subprocess.run(
        ["git", "show", "-s", "--format=%ct", key.split("-dirty-")[0]],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return int(shown.stdout.strip()) if shown.returncode == 0 and shown.stdout.strip().isdigit() else 0


def changed_since(commit: str, module: str, tests: list[str]) -> str:
    """Whether the module or its tests changed between the commit a result was measured at and HEAD:
    "no", "yes" (the row may no longer hold), or why it cannot be told."""
    if "-dirty-" in commit:
        return "unknown: measured on uncommitted changes"
    paths = [f"{PACKAGE}/{module}", *dict.fromkeys(t.split("::")[0] for t in tests)]
    diff = subprocess.run(
        ["git", "diff", "--quiet", commit, "HEAD", "--", *paths], cwd=ROOT, stderr=subprocess.DEVNULL
    )
    return {0: "no", 1: "yes"}.get(diff.returncode, f"unknown: no commit {commit} here")


def summary(measured: dict[str, Measured], modules: list[str]) -> str:
    """The newest finished result of each module as one table, with the overall survival rate."""
    lines = [
        "# Mutation testing: the newest finished result of each module",
        "",
        "Written by `python benchmarks/mutate.py --summary` from the reports in benchmarks/results/ "
        "(mutation-*.json): per module, the newest report in which it finished, its survivors judged by "
        "today's [[equivalent]] list in benchmarks/mutation.toml. Survival rate = surviving mutants / "
        '(killed + surviving), equivalents left out. "changed since": whether the module or its listed '
        "tests changed between that commit and this summary's HEAD "
        f"(`{_git('rev-parse', '--short=12', 'HEAD').strip()}`).",
        "",
        "| module | report | commit | changed since | mutants | killed | survived | equivalent "
        "| survival rate |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for module in modules:
        if module not in measured:
            lines.append(f"| {module} | not finished in any report | | | | | | | |")
            continue
        m, r = measured[module], measured[module].result
        lines.append(
            f"| {module} | {m.report.removesuffix('.json')} | `{m.commit}` "
            f"| {changed_since(m.commit, module, r.tests)} | {r.mutants} | {r.killed} | {len(r.live)} "
            f"| {len(r.equivalents)} | {_rate(r)} |"
        )
    results = [measured[m].result for m in modules if m in measured]
    killed, live = sum(r.killed for r in results), sum(len(r.live) for r in results)
    if killed + live:
        lines += [
            "",
            f"The {len(results)} modules measured: {live} of {killed + live} mutants survive "
            f"({100 * live / (killed + live):.1f}%).",
        ]
    return "\n".join(lines + _survivor_sections(results)).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modules", nargs="+", help="modules under src/cnnlab/ (default: mutation.toml's)")
    parser.add_argument("--jobs", type=int, default=1, help="modules mutated at once (default 1)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="count mutants per module; run no test")
    what.add_argument("--report-only", action="store_true", help="write the report from the sessions")
    what.add_argument(
        "--summary",
        action="store_true",
        help="one table of each module's newest finished result among the reports in --out "
        "(a run split over machines or sessions), to <out>/mutation-summary.md; runs nothing",
    )
    parser.add_argument(
        "--at",
        metavar="KEY",
        help="with --report-only: report the sessions of another tree (outputs/mutate/KEY, e.g. a before "
        "run's) under this tree's [[equivalent]] list, so that before and after count the same equivalents",
    )
    args = parser.parse_args(argv)
    if args.at and not (args.report_only and (SESSIONS / args.at).is_dir()):
        parser.error(f"--at {args.at}: give it with --report-only, and a folder of {SESSIONS}")
    config = tomllib.loads(CONFIG.read_text())
    modules = args.modules or list(config["modules"])
    unknown = [m for m in modules if m not in config["modules"]]
    if unknown:
        parser.error(f"not in {CONFIG.name}: {unknown}; choose from {sorted(config['modules'])}")
    check_modules(config, modules)
    if args.summary:
        path = args.out / "mutation-summary.md"
        path.write_text(summary(newest_finished(args.out, config), modules))
        print(f"each module's newest finished result: {path}")
        return 0

    files = snapshot()
    key = args.at or session_key(files)
    if args.list:
        return list_mutants(modules, config, key)
    started = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    load = ", ".join(load)
    lock = Lock()
    # The sessions as they stand: the report written now, and after each module, says what is pending
    # even if this run is killed before it ends.
    done = {m: mutate_module(m, config, key, files, print, execute=False) for m in modules}
    report_path = write_report(args.out, list(done.values()), started, key, load)
    if args.report_only:
        print(f"survivors and rates: {report_path}")
        return 1 if any(r.error for r in done.values()) else 0

    def log(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)

    def one(module: str) -> ModuleResult:
        result = mutate_module(module, config, key, files, log, execute=True)
        with lock:
            done[module] = result
            write_report(args.out, list(done.values()), started, key, load)
        return result

    log(f"sessions in {SESSIONS / key}; report in {report_path}")
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(one, modules))
    print(f"survivors and rates: {report_path}")
    return 1 if any(r.error for r in results) else 0


def list_mutants(modules: list[str], config: dict, key: str) -> int:
    """Each module's mutants (Cosmic Ray's init, in a scratch session where the module has none yet)
    and how many its session has finished; runs no test."""
    import tempfile

    print(f"sessions: {SESSIONS / key}")
    print(f"{'module':<28}{'mutants':>8}{'done':>7}{'pending':>9}{'unmutated tests':>17}")
    total = 0
    with tempfile.TemporaryDirectory(prefix="cnnlab-mutate-") as scratch:
        for module in modules:
            m = Module(module, config, session_dir(key, module))
            if not m.session.exists():
                m = Module(module, config, Path(scratch) / m.dir.name, copy=ROOT)
                m.dir.mkdir()
                if error := m.init():
                    print(error, file=sys.stderr)
                    return 1
            plan = json.loads(m.plan_path.read_text()) if m.plan_path.exists() else None
            result = ModuleResult(module, m.tests)
            read_results(m, plan, result)
            total += result.mutants
            done = result.mutants - result.pending
            print(
                f"{module:<28}{result.mutants:>8}{done:>7}{result.pending:>9}{_seconds(result.baseline_s):>17}"
            )
    print(f"{'all':<28}{total:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
