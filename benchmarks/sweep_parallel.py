"""Wall time of one 8-job grid on the embedded digits: serial (Hydra's basic launcher, torch's default
threads) against the joblib launcher with 2 jobs (each job then limits itself to its share of the cores),
and, as a control, serial with one thread per job.

    python benchmarks/sweep_parallel.py                    # make bench-sweep
    python benchmarks/sweep_parallel.py --repeats 3 --epochs 4

Each sweep is the real CLI (`python -m cnnlab.train -m ...`) in a fresh sweep dir, so the time
includes process start-up and the end-of-sweep report, as a user would see it. The modes are
interleaved (serial, parallel, control, serial, ...) so machine noise hits all alike; the machine
load (`uptime`) before and after is printed beside the ratio, since other work on the cores skews it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from commands import cnnlab_sweep, run_timed

GRID = ["optimizer.lr=0.01,0.003", "trainer.seed=0,1,2,3"]
MODES = {
    "serial": [],
    "joblib-2": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    # Control: serial with the one thread each joblib job gets, to tell the gain from running two
    # jobs at once apart from the gain of not oversubscribing busy cores with torch's threads.
    "serial-1t": ["trainer.num_threads=1"],
}


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def sweep(root: Path, sweep_dir: Path, launcher: list[str], epochs: int) -> tuple[float, float]:
    """Run the grid once; returns (wall seconds, sum of the jobs' own training seconds)."""
    command = cnnlab_sweep(root, sweep_dir, "-m", *GRID, *launcher, f"trainer.epochs={epochs}")
    wall = run_timed(command)
    table = pd.read_csv(sweep_dir / "summary.csv")
    if len(table) != 8 or set(table["status"]) != {"completed"}:
        raise SystemExit(f"expected 8 completed jobs in {sweep_dir}, got {table['status'].tolist()}")
    return wall, float(table["wall_s"].sum())


def warm_up(root: Path) -> None:
    """One tiny run that builds the data cache, so neither mode pays for it."""
    command = [sys.executable, "-m", "cnnlab.train", "trainer.epochs=1", "trainer.limit_batches=1"]
    command += [f"paths.output_dir={root / 'outputs'}", f"paths.cache_dir={root / 'cache'}"]
    subprocess.run(command, capture_output=True, check=True)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--repeats", type=int, default=2, help="sweeps per mode, interleaved")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per job")
    parser.add_argument("--json", type=Path, default=Path("outputs/bench/sweep_parallel.json"))
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"8-job grid ({' '.join(GRID)}), digits + lenet, {args.epochs} epochs/job, {cores} cores")
    load_before = load()
    print(f"load before: {load_before}")
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-sweep-") as tmp:
        root = Path(tmp)
        warm_up(root)
        for rep in range(args.repeats):
            for mode, launcher in MODES.items():
                wall, train_s = sweep(root, root / f"{mode}-{rep}", launcher, args.epochs)
                walls[mode].append(wall)
                print(f"  {mode:9s} repeat {rep}: {wall:6.1f} s wall ({train_s:5.1f} s in jobs, summed)")
    load_after = load()
    medians = {mode: statistics.median(w) for mode, w in walls.items()}
    ratio = medians["serial"] / medians["joblib-2"]
    print(f"load after:  {load_after}")
    print("median wall: " + ", ".join(f"{mode} {m:.1f} s" for mode, m in medians.items()))
    print(f"speed-up serial/joblib-2: {ratio:.2f}x")
    same_threads = medians["serial-1t"] / medians["joblib-2"]
    print(f"speed-up serial-1t/joblib-2 (two jobs at once, same threads): {same_threads:.2f}x")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "grid": GRID,
        "epochs": args.epochs,
        "cores": cores,
        "walls_s": walls,
        "median_s": medians,
        "ratio": ratio,
        "ratio_same_threads": same_threads,
        "load_before": load_before,
        "load_after": load_after,
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
