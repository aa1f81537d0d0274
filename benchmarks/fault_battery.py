"""Repeat each fault of issue 13 k times against the real command line and count the runs that survived
it correctly: `python benchmarks/fault_battery.py --repeats 10 [--only ctrl_c,kill_9]`.

Scenarios (each at a random moment or size, seeded):
- ctrl_c: SIGINT mid-run -> exit 130, `interrupted`, checkpoint epoch == epochs_completed, resume completes.
- kill_9: SIGKILL mid-run -> report says `died` (or `completed`), resume completes with every epoch once.
- concurrent: a second run into the busy dir -> exit 2 naming the holder; the first's rows are 1..N once.
- disk_full: run dir on a tmpfs of random size (needs root) -> exit 2 "disk ... full", no .tmp left,
  the last checkpoint loads.
- truncated_data: a random MNIST IDX or .gz file cut at a random length -> exit 2 naming that file.
- sweep_parent_kill: SIGKILL of a joblib sweep's parent -> every worker process gone within 15 s.
- concurrent_sweeps: a second sweep (the same grid or another) into the sweep dir of a running one ->
  exit 2 naming the holder, the dir's swept keys untouched, or (the first done) exit 0 with every job
  skipped or its own; the first's jobs completed, epochs 1..N once, no `failed` anywhere, in its report.
- read_only_output: a run into a read-only output dir, a sweep into a read-only sweep dir, or a resume of a
  read-only run dir -> exit 2 naming the dir, no traceback, nothing written; the resumed run, writable
  again, completes with every epoch once (needs root for a read-only bind mount, or a user's chmod).
Writes a Markdown table to stdout and to benchmarks/results/faults-<time>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import pandas as pd  # noqa: E402

from benchmarks.commands import cnnlab_train  # noqa: E402
from cnnlab.compare.collect import collect  # noqa: E402
from cnnlab.engine.checkpoint import load_checkpoint  # noqa: E402
from tests.conftest import fake_mnist, read_only  # noqa: E402

EPOCHS = 20
RUN = [
    "trainer.limit_batches=5",
    "trainer.device=cpu",
    "trainer.num_threads=1",
    "trainer.log_every_n_steps=1",
]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def train_command(tmp: Path, run_dir: Path, *extra: str) -> list[str]:
    return cnnlab_train(
        run_dir,
        f"trainer.epochs={EPOCHS}",
        *RUN,
        f"paths.data_root={tmp / 'data'}",
        f"paths.cache_dir={tmp / 'cache'}",
        *extra,
    )


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)


def wait_running(run_dir: Path, timeout: float = 120) -> None:
    """Until the run has written its first summary (the interpreter and torch have started)."""
    deadline = time.monotonic() + timeout
    while not (run_dir / "summary.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def epochs_once(run_dir: Path, epochs: int = EPOCHS) -> bool:
    rows = (run_dir / "metrics.csv").read_text().splitlines()[1:]
    return [int(float(r.split(",")[0])) for r in rows] == list(range(1, epochs + 1))


def resumes_to_the_end(tmp: Path, run_dir: Path) -> bool:
    done = finish(train_command(tmp, run_dir, "trainer.resume=true"))
    return done.returncode == 0 and summary(run_dir)["status"] == "completed" and epochs_once(run_dir)


def signalled_run(tmp: Path, rng: random.Random, signum: int) -> tuple[Path, subprocess.Popen, str]:
    """A run sent `signum` at a random moment in its first 3 s of training; its dir, process, output."""
    run_dir = tmp / "run"
    process = start(train_command(tmp, run_dir))
    wait_running(run_dir)
    time.sleep(rng.uniform(0, 3))
    process.send_signal(signum)
    return run_dir, process, process.communicate(timeout=120)[0]


def ctrl_c(tmp: Path, rng: random.Random) -> bool:
    run_dir, process, output = signalled_run(tmp, rng, signal.SIGINT)
    state = summary(run_dir)
    if process.returncode == 0:
        return state["status"] == "completed" and epochs_once(run_dir)
    checkpoint = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    return (
        process.returncode == 130
        and "Traceback" not in output
        and state["status"] == "interrupted"
        and checkpoint["epoch"] == state["epochs_completed"]
        and resumes_to_the_end(tmp, run_dir)
    )


def kill_9(tmp: Path, rng: random.Random) -> bool:
    run_dir, process, _ = signalled_run(tmp, rng, signal.SIGKILL)
    status = collect([run_dir]).runs["status"][0]
    if status == "completed":  # killed after its last write (or it finished first)
        return epochs_once(run_dir)
    return status == "died" and resumes_to_the_end(tmp, run_dir)


def concurrent(tmp: Path, rng: random.Random) -> bool:
    """A second run into the dir of a first that trains on until the second has answered."""
    run_dir = tmp / "run"
    first = start(train_command(tmp, run_dir, "trainer.epochs=100000"))
    wait_running(run_dir)
    time.sleep(rng.uniform(0, 1))
    second = finish(train_command(tmp, run_dir))
    first.send_signal(signal.SIGINT)
    first_output = first.communicate(timeout=120)[0]
    refused = second.returncode == 2 and f"pid {first.pid}" in second.stdout + second.stderr
    clean = first.returncode == 130 and "Traceback" not in first_output
    return refused and clean and epochs_once(run_dir, summary(run_dir)["epochs_completed"])


def disk_full(tmp: Path, rng: random.Random) -> bool:
    """The run dir on a tmpfs of random size (needs root): the disk fills at a random point."""
    run_dir = tmp / "disk"
    run_dir.mkdir()
    size = f"size={rng.randint(60, 1500)}k"
    if finish(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(run_dir)]).returncode:
        raise RuntimeError("mounting a tmpfs needs root")
    try:
        done = finish(train_command(tmp, run_dir))
        output = done.stdout + done.stderr
        if list(run_dir.rglob("*.tmp")):
            return False
        if done.returncode == 0:  # everything fitted on this size of disk
            return summary(run_dir)["status"] == "completed"
        last = run_dir / "checkpoints" / "last.pt"
        loads = not last.exists() or "epoch" in load_checkpoint(last)
        return (
            done.returncode == 2
            and "disk holding it is full" in output
            and "Traceback" not in output
            and loads
        )
    finally:
        finish(["umount", str(run_dir)])


def truncated_data(tmp: Path, rng: random.Random) -> bool:
    fake_mnist(tmp / "data", gz=rng.random() < 0.5)
    files = sorted((tmp / "data" / "MNIST" / "raw").iterdir())
    victim = rng.choice(files)
    blob = victim.read_bytes()
    victim.write_bytes(blob[: rng.randint(0, len(blob) - 1)])
    done = finish(train_command(tmp, tmp / "run", "dataset=mnist", "dataset.source.download=false"))
    output = done.stdout + done.stderr
    return done.returncode == 2 and victim.name in output and "Traceback" not in output


def sweep_parent_kill(tmp: Path, rng: random.Random) -> bool:
    sweep_dir = tmp / "sweep"
    command = [
        *train_command(tmp, tmp / "unused")[:3],
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "trainer.epochs=200",
        *RUN,
        "trainer.seed=0,1",
        f"hydra.sweep.dir={sweep_dir}",
        f"paths.cache_dir={tmp / 'cache'}",
    ]
    parent = start(command)
    deadline = time.monotonic() + 120
    while len(list(sweep_dir.glob("*/summary.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(rng.uniform(0, 2))
    workers = [int(p) for p in finish(["pgrep", "-P", str(parent.pid)]).stdout.split()]
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)  # not communicate(): the workers hold its stdout open until they exit
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
    for pid in alive:  # leave nothing behind whatever the outcome
        os.kill(pid, signal.SIGKILL)
    return bool(workers) and not alive


SWEEP_EPOCHS = 10
SWEEP = [
    "trainer.limit_batches=2",
    "trainer.device=cpu",
    "trainer.num_threads=1",
    "trainer.evaluate_at_end=false",
]


def sweep_command(tmp: Path, sweep_dir: Path, *grid: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cnnlab.train",
        "-m",
        *grid,
        f"trainer.epochs={SWEEP_EPOCHS}",
        *SWEEP,
        f"hydra.sweep.dir={sweep_dir}",
        f"paths.output_dir={tmp / 'outputs'}",
        f"paths.cache_dir={tmp / 'cache'}",
    ]


def clear_refusal(done: subprocess.CompletedProcess, *named: str) -> bool:
    output = done.stdout + done.stderr
    return done.returncode == 2 and "Traceback" not in output and all(n in output for n in named)


def concurrent_sweeps(tmp: Path, rng: random.Random) -> bool:
    """A second sweep into the sweep dir of a first, started at a random moment of the first."""
    sweep_dir = tmp / "sweep"
    first = start(sweep_command(tmp, sweep_dir, "trainer.seed=0,1"))
    deadline = time.monotonic() + 120
    while not (sweep_dir / ".swept_keys").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(rng.uniform(0, 8))
    keys = (sweep_dir / ".swept_keys").read_text()
    grid = rng.choice(["trainer.seed=0,1", "optimizer.lr=0.01,0.001"])
    second = finish(sweep_command(tmp, sweep_dir, grid))
    first_output = first.communicate(timeout=300)[0]
    jobs = [sweep_dir / f"trainer.seed={seed}" for seed in (0, 1)]
    refused = clear_refusal(second, str(sweep_dir), f"pid {first.pid}")
    print(
        f"concurrent_sweeps: second sweep ({grid}) {'refused' if refused else 'ran after'}", file=sys.stderr
    )
    if refused:
        outcome = (sweep_dir / ".swept_keys").read_text() == keys and not list(
            sweep_dir.glob("optimizer.lr=*")
        )
    else:  # the first had finished: the second skips its jobs, or trains its own grid beside them
        skipped = second.stdout.count("already completed with this config") == 2
        outcome = second.returncode == 0 and (skipped or grid != "trainer.seed=0,1")
    statuses = [json.loads(p.read_text())["status"] for p in sweep_dir.glob("*/summary.json")]
    table = pd.read_csv(sweep_dir / "summary.csv")
    return (
        outcome
        and first.returncode == 0
        and "Traceback" not in first_output
        and all(summary(job)["status"] == "completed" and epochs_once(job, SWEEP_EPOCHS) for job in jobs)
        and "failed" not in statuses
        and set(table["status"]) == {"completed"}
        and {f"trainer.seed={seed}" for seed in (0, 1)} <= set(table["run"])
    )


def read_only_output(tmp: Path, rng: random.Random) -> bool:
    """One of three, drawn: a run into a read-only output dir, a sweep into a read-only sweep dir, a resume
    of a read-only run dir; the read-only folder is the dir itself or one above it, drawn too."""
    kind = rng.choice(["run", "sweep", "resume"])
    locked = tmp / "locked"
    target = locked / "below" if rng.random() < 0.5 else locked
    print(f"read_only_output: {kind}", file=sys.stderr)
    if kind == "resume":
        done = rng.randint(1, 3)
        run_dir = locked / "run"
        first = finish(train_command(tmp, run_dir, f"trainer.epochs={done}", "trainer.limit_batches=2"))
        if first.returncode != 0:
            return False
        command = train_command(
            tmp, run_dir, f"trainer.epochs={done + 1}", "trainer.limit_batches=2", "trainer.resume=true"
        )
        target = run_dir if rng.random() < 0.5 else locked  # what is made read-only
    elif kind == "sweep":
        command = sweep_command(tmp, target / "sweep", "trainer.seed=0,1")
    else:
        command = train_command(tmp, target / "run", "trainer.epochs=1")
    before = {p: p.read_bytes() for p in locked.rglob("*") if p.is_file()} if locked.exists() else {}
    with read_only(target if kind == "resume" else locked):
        refused = finish(command)
    after = {p: p.read_bytes() for p in locked.rglob("*") if p.is_file()}
    ok = clear_refusal(refused, str(target)) and after == before
    if kind != "resume":
        return ok
    resumed = finish(command)  # writable again: nothing was lost, the run goes on
    return (
        ok
        and resumed.returncode == 0
        and summary(run_dir)["status"] == "completed"
        and epochs_once(run_dir, done + 1)
    )


SCENARIOS: dict[str, Callable[[Path, random.Random], bool]] = {
    "ctrl_c": ctrl_c,
    "kill_9": kill_9,
    "concurrent": concurrent,
    "disk_full": disk_full,
    "truncated_data": truncated_data,
    "sweep_parent_kill": sweep_parent_kill,
    "concurrent_sweeps": concurrent_sweeps,
    "read_only_output": read_only_output,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # Children of a shell's background job inherit an ignored SIGINT; exec resets a handled one.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = random.Random(args.seed)
    names = args.only.split(",")
    ok = dict.fromkeys(names, 0)
    wall = dict.fromkeys(names, 0.0)
    for i in range(args.repeats):  # round by round, so a run stopped early has covered every scenario
        for name in names:
            tick = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix=f"fault-{name}-") as tmp:
                try:
                    passed = SCENARIOS[name](Path(tmp), rng)
                except Exception as error:  # a scenario that crashes counts as not survived, and says why
                    print(f"{name} #{i}: {type(error).__name__}: {error}", file=sys.stderr)
                    passed = False
            ok[name] += passed
            wall[name] += time.perf_counter() - tick
            print(f"{name} #{i}: {'ok' if passed else 'FAILED'}", file=sys.stderr, flush=True)
    lines = ["| scenario | survived correctly | wall s |", "|---|---|---|"]
    lines += [f"| {name} | {ok[name]}/{args.repeats} | {wall[name]:.0f} |" for name in names]
    table = "\n".join(lines)
    print(table)
    out = ROOT / "benchmarks" / "results" / f"faults-{time.strftime('%Y-%m-%d_%H-%M-%S')}.md"
    out.write_text(f"# Fault battery ({args.repeats} repeats, seed {args.seed})\n\n{table}\n")


if __name__ == "__main__":
    main()
