"""Wall time from process start to 99.0% MNIST test accuracy, each run in its own process.

    python benchmarks/bench_tta.py --data-root data --seeds 0,1,2,3,4 --keras-runs 1

Three contenders, seeds interleaved (standalone, fast, standalone, fast, ...):
  standalone  benchmarks/mnist99_standalone.py, the best known quick recipe, plain PyTorch
  fast        cnnlab `experiment=fast/mnist99` (tensor path)
  keras7      cnnlab with the keras7 e1 recipe on the classic DataLoader path: simple_cnn,
              RMSprop, batch 64, 5 epochs, 20% validation split (slow: --keras-runs runs)
The clock starts just before the process is spawned (interpreter start, imports and data
loading count) and stops when the accuracy is reported: the standalone's output line, or the
first metrics.csv row of a cnnlab run at or above --target. A keras7 run is stopped there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from commands import cnnlab_train  # benchmarks/commands.py, beside this script

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", default=os.environ.get("CNNLAB_DATA_ROOT", "data"))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument(
        "--keras-runs", type=int, default=1, help="keras7 runs (many minutes each on 2 cores)"
    )
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for every run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    return parser.parse_args(argv)


def cnnlab_command(run_dir: Path, data_root: str, *overrides: str) -> list[str]:
    return cnnlab_train(run_dir, *overrides, f"paths.data_root={data_root}", "hydra/job_logging=disabled")


def time_cnnlab(command: list[str], run_dir: Path, target: float, env: dict) -> dict:
    """Spawn a cnnlab run and watch its metrics.csv for the first test_acc >= target."""
    tick = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics, seen, result = run_dir / "metrics.csv", 0, None
    while result is None:
        done = proc.poll() is not None
        if metrics.exists():
            rows = pd.read_csv(metrics)
            if len(rows) > seen:
                now = time.perf_counter() - tick
                seen = len(rows)
                last = rows.iloc[-1]
                if last["test_acc"] >= target:
                    result = {"wall_s": now, "test_acc": float(last["test_acc"]), "epoch": int(last["epoch"])}
        if done and result is None:
            best = float(pd.read_csv(metrics)["test_acc"].max()) if metrics.exists() else float("nan")
            err = proc.stderr.read().decode()[-2000:] if proc.returncode else ""
            result = {"wall_s": None, "test_acc": best, "epoch": seen, "error": err}
        time.sleep(0.05)
    if proc.poll() is None and result.get("epoch", 0) < _epochs(command):
        proc.kill()
    proc.wait()
    return result


def _epochs(command: list[str]) -> int:
    return next((int(a.split("=")[1]) for a in command if a.startswith("trainer.epochs=")), 1)


def time_standalone(data_root: str, seed: int, env: dict) -> dict:
    tick = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "mnist99_standalone.py"),
            "--data-root",
            data_root,
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    wall = time.perf_counter() - tick
    proc.wait()
    reported = json.loads(line)
    return {"wall_s": wall, "test_acc": reported["test_acc"], "own_clock_s": reported["wall_s"]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    data_root = str(Path(args.data_root).resolve())
    seeds = [int(s) for s in args.seeds.split(",")]
    runs: dict[str, list[dict]] = {"standalone": [], "fast": [], "keras7": []}
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="cnnlab-tta-") as scratch:
        for seed in seeds:
            runs["standalone"].append(time_standalone(data_root, seed, env) | {"seed": seed})
            print("standalone", runs["standalone"][-1], flush=True)
            run_dir = Path(scratch) / f"fast-{seed}"
            cmd = cnnlab_command(run_dir, data_root, "experiment=fast/mnist99", f"trainer.seed={seed}")
            runs["fast"].append(time_cnnlab(cmd, run_dir, args.target, env) | {"seed": seed})
            print("fast", runs["fast"][-1], flush=True)
        for i in range(args.keras_runs):
            run_dir = Path(scratch) / f"keras7-{i}"
            cmd = cnnlab_command(
                run_dir,
                data_root,
                "dataset=mnist",
                "model=simple_cnn",
                "optimizer=rmsprop",
                "dataset.loader=torch",
                "dataset.val_fraction=0.2",
                "trainer.batch_size=64",
                "trainer.epochs=5",
                f"trainer.seed={seeds[i % len(seeds)]}",
            )
            runs["keras7"].append(
                time_cnnlab(cmd, run_dir, args.target, env) | {"seed": seeds[i % len(seeds)]}
            )
            print("keras7", runs["keras7"][-1], flush=True)
    report = render(args, runs, load_before)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"tta-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(json.dumps(runs, indent=1))
    print(report)
    print(f"saved {stem}.md and {stem}.json")
    return 0


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def render(args: argparse.Namespace, runs: dict[str, list[dict]], load_before: str) -> str:
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"# Time to {args.target:.1%} MNIST test accuracy",
        "",
        f"- command: `python benchmarks/bench_tta.py {' '.join(sys.argv[1:])}`",
        f"- {os.cpu_count()} cores, OMP_NUM_THREADS={args.threads or 'default'}; load average before "
        f"{load_before}, after {load_after}",
        "- wall clock from spawning the process to the reported accuracy (imports and data loading included)",
        "",
        "| contender | runs | median s | each run: s (test acc) |",
        "|---|---:|---:|---|",
    ]
    medians = {}
    for name, items in runs.items():
        if not items:
            continue
        medians[name] = _median([r["wall_s"] for r in items])
        each = ", ".join(
            f"{r['wall_s']:.1f} ({r['test_acc']:.2%})"
            if r["wall_s"]
            else f"not reached ({r['test_acc']:.2%})"
            for r in items
        )
        med = f"{medians[name]:.1f}" if medians[name] else "not reached"
        lines.append(f"| {name} | {len(items)} | {med} | {each} |")
    lines.append("")
    fast = medians.get("fast")
    for ref in ("standalone", "keras7"):
        if fast and medians.get(ref):
            lines.append(f"- fast / {ref}: {fast / medians[ref]:.3f}")
    accs = sorted(r["test_acc"] for r in runs["fast"])
    if accs:
        lines.append(f"- fast: median test accuracy {statistics.median(accs):.2%}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
