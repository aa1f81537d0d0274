"""Mutation testing of cnnlab's core (`make mutate`): Cosmic Ray plants one small bug at a time in a
module (a flipped comparison, a changed constant, a loop that never runs, ...) and runs the tests that
cover that module. A mutant the tests still pass is a survivor: a bug no test would notice.

    python benchmarks/mutate.py                               # every module in benchmarks/mutation.toml
    python benchmarks/mutate.py --modules engine/early_stopping.py engine/tasks.py --jobs 2

Each module is mutated in its own copy of the repository (its tracked and untracked files, not the
ignored ones), with PYTHONPATH pointing at the copy, so the work tree is never touched and subprocess
runs (`python -m cnnlab.train`) import the mutant too. The tests are those mutation.toml lists for the
module, run with `pytest -x` against the unmutated copy first (they must pass) and then per mutant.
Results go to benchmarks/results/mutation-<start time>.md (per module: mutants, killed, survivors,
the survival rate; each survivor's diff) and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (the `mutation` extra)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "mutation.toml"
PACKAGE = "src/cnnlab"


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
    baseline_s: float
    wall_s: float = 0.0
    killed: int = 0
    timeouts: int = 0
    incompetent: int = 0
    skipped: int = 0
    survivors: list[Survivor] = field(default_factory=list)
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
    """Each module and the tests mutation.toml lists for it exist."""
    for module in modules:
        missing = [t for t in config["modules"][module]["tests"] if not (ROOT / t).is_file()]
        if not (ROOT / PACKAGE / module).is_file() or missing:
            raise SystemExit(f"{CONFIG}: [modules.{module!r}] names missing files: {missing or module}")


def copy_repository(dest: Path) -> None:
    """The repository's tracked and untracked files (what git does not ignore) copied to dest."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def test_command(tests: list[str]) -> str:
    return shlex.join([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests])


def cosmic_ray(copy: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).with_name(args[0])
    return subprocess.run([str(tool), *args[1:]], cwd=copy, env=env, capture_output=True, text=True)


def equivalents(config: dict) -> dict[tuple[str, str, str], str]:
    listed = config.get("equivalent", [])
    return {(e["module"], e["line"].strip(), e["mutant"].strip()): e["reason"] for e in listed}


def parse_diff(diff: str) -> tuple[int, list[str], list[str]]:
    """The first changed line's number and the removed and added lines (stripped) of a unified diff."""
    hunk = re.search(r"^@@ -(\d+)", diff, re.M)
    body = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    removed = [line[1:].strip() for line in body if line.startswith("-")]
    added = [line[1:].strip() for line in body if line.startswith("+")]
    start = int(hunk.group(1)) if hunk else 0
    context = next((i for i, line in enumerate(body[1:]) if line.startswith(("-", "+"))), 0)
    return start + context, removed, added


def mutate_module(module: str, config: dict, work: Path, log) -> ModuleResult:
    tests = config["modules"][module]["tests"]
    copy = work / module.replace("/", "-").removesuffix(".py")
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    copy_repository(copy)
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    command = test_command(tests)

    start = time.perf_counter()
    baseline = subprocess.run(shlex.split(command), cwd=copy, env=env, capture_output=True, text=True)
    result = ModuleResult(module, tests, baseline_s=round(time.perf_counter() - start, 1))
    if baseline.returncode != 0:
        result.error = f"the tests fail without any mutation:\n{baseline.stdout[-2000:]}"
        return result
    timeout = max(config["min-timeout"], config["timeout-factor"] * result.baseline_s)
    session = copy / "session.sqlite"
    (copy / "cosmic-ray.toml").write_text(
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(f'{PACKAGE}/{module}')}\n"
        f"timeout = {timeout:.0f}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        '[cosmic-ray.distributor]\nname = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = {json.dumps(config['exclude-operators'])}\n"
    )
    for step in (
        ("cosmic-ray", "init", "cosmic-ray.toml", str(session)),
        ("cr-filter-operators", str(session), "cosmic-ray.toml"),
        ("cr-filter-pragma", str(session)),
    ):
        done = cosmic_ray(copy, env, *step)
        if done.returncode != 0:
            result.error = f"{' '.join(step)} failed:\n{done.stderr[-2000:]}"
            return result
    pending = _count_pending(copy, env)
    log(f"{module}: {pending} mutants; its tests take {result.baseline_s:.0f} s (timeout {timeout:.0f} s)")
    start = time.perf_counter()
    done = cosmic_ray(copy, env, "cosmic-ray", "exec", "cosmic-ray.toml", str(session))
    result.wall_s = round(time.perf_counter() - start, 1)
    if done.returncode != 0:
        result.error = f"cosmic-ray exec failed:\n{done.stderr[-2000:]}"
        return result
    known = equivalents(config)
    for item, outcome in _dump(copy, env):
        if outcome is None:
            continue
        if outcome["worker_outcome"] in ("skipped", "no-test"):  # filtered, or nothing to mutate
            result.skipped += 1
        elif outcome["worker_outcome"] != "normal" or outcome["test_outcome"] == "incompetent":
            result.incompetent += 1
        elif outcome["test_outcome"] == "killed":
            result.killed += 1
            result.timeouts += outcome.get("output") == "timeout"
        else:
            line, removed, added = parse_diff(outcome["diff"])
            (mutation,) = item["mutations"]
            reason = known.get((module, " ".join(removed), " ".join(added)))
            survivor = Survivor(
                item["job_id"], mutation["operator_name"], line, removed, added, outcome["diff"], reason
            )
            result.survivors.append(survivor)
    log(f"{module}: {result.killed} killed, {len(result.live)} survived ({result.wall_s:.0f} s)")
    return result


def _dump(copy: Path, env: dict[str, str]) -> list[tuple[dict, dict | None]]:
    done = cosmic_ray(copy, env, "cosmic-ray", "dump", "session.sqlite")
    return [tuple(json.loads(line)) for line in done.stdout.splitlines() if line.strip()]


def _count_pending(copy: Path, env: dict[str, str]) -> int:
    return sum(1 for _, outcome in _dump(copy, env) if outcome is None)


def _rate(result: ModuleResult) -> str:
    rate = result.survival_rate
    return "–" if rate is None else f"{100 * rate:.1f}%"


def report(results: list[ModuleResult], started: str, commit: str, load: str) -> str:
    lines = [
        f"# Mutation testing, {started}",
        "",
        f"Commit `{commit}`, Cosmic Ray {_version()}, `make mutate` (benchmarks/mutate.py). "
        f"Machine load before: {load}.",
        "Survival rate = surviving mutants / (killed + surviving), equivalent mutants (listed in "
        "benchmarks/mutation.toml) left out. Timeouts count as killed.",
        "",
        "| module | tests | mutants | killed | of them timeouts | survived | equivalent | survival rate "
        "| unmutated tests | wall |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        tests = ", ".join(Path(t).name for t in r.tests)
        if r.error:
            lines.append(f"| {r.module} | {tests} | error: see below | | | | | | {r.baseline_s:.0f} s | |")
            continue
        lines.append(
            f"| {r.module} | {tests} | {r.killed + len(r.survivors)} | {r.killed} | {r.timeouts} "
            f"| {len(r.live)} | {len(r.equivalents)} | {_rate(r)} | {r.baseline_s:.0f} s "
            f"| {r.wall_s / 60:.0f} min |"
        )
    killed = sum(r.killed for r in results)
    live = sum(len(r.live) for r in results)
    if killed + live:
        rate = 100 * live / (killed + live)
        lines += ["", f"All modules: {live} of {killed + live} mutants survive ({rate:.1f}%)."]
    for r in results:
        lines += ["", f"## {r.module}", ""]
        if r.error:
            lines += ["```", r.error.strip(), "```"]
            continue
        if not r.survivors:
            lines.append("No survivors.")
        for s in r.survivors:
            title = f"line {s.line}, {s.operator.removeprefix('core/')}"
            if s.equivalent:
                title += f" — equivalent: {s.equivalent}"
            lines += [f"- {title}", "", "  ```diff", *(f"  {d}" for d in _hunk(s.diff)), "  ```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _hunk(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cosmic-ray")
    except PackageNotFoundError:  # a report written where the `mutation` extra is not installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--modules", nargs="+", help="modules under src/cnnlab/ (default: mutation.toml's)")
    parser.add_argument("--jobs", type=int, default=1, help="modules mutated at once (default 1)")
    parser.add_argument("--work-dir", type=Path, help="where the copies go (default: a temporary dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    config = tomllib.loads(CONFIG.read_text())
    modules = args.modules or list(config["modules"])
    unknown = [m for m in modules if m not in config["modules"]]
    if unknown:
        parser.error(f"not in {CONFIG.name}: {unknown}; choose from {sorted(config['modules'])}")
    check_modules(config, modules)

    started = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout
    load = uptime.strip().split("load average: ")[-1]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="cnnlab-mutate-"))

    def log(message: str) -> None:
        print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda m: mutate_module(m, config, work, log), modules))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"mutation-{started}"
    stem.with_suffix(".md").write_text(report(results, started, commit, load))
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "started": started,
                "commit": commit,
                "load": load,
                "modules": [
                    asdict(r) | {"survival_rate": r.survival_rate, "equivalent": len(r.equivalents)}
                    for r in results
                ],
            },
            indent=1,
        )
        + "\n"
    )
    if not args.work_dir:
        shutil.rmtree(work, ignore_errors=True)
    print(f"survivors and rates: {stem.with_suffix('.md')}")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
