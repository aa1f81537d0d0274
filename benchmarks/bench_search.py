"""What pruning saves in a hyper-parameter search: the same Optuna search (conf/hparams_search/
lr_wd_batch_size.yaml: AdamW's lr and weight decay and the batch size, TPE) run with pruning off and on,
once per sampler seed, the two modes interleaved (off, on, off, on, ...) so machine noise hits both.

    python benchmarks/bench_search.py --data-root data   # make bench-search: MNIST, LeNet, 24 trials x 10
                                                         # epochs, seeds 0,1,2 (about 2 h on 2 cores)
    python benchmarks/bench_search.py --smoke            # pipeline check: digits, 4 trials, 2 epochs, seed 0

Each search is the real CLI (`python -m cnnlab.train hparams_search=... -m`) in its own sweep dir, so its
wall time includes start-up, the study's storage and the end-of-sweep report. Per search it reports the
epochs trained (summed over its run dirs), the wall time, and the test accuracy of the trial the search
picks (the best validation accuracy; the test accuracy at that trial's best epoch). The verdict lines
check the issue's targets: at least 2x fewer epochs with pruning, and each pruned search's pick at least
as good on test as the worst unpruned search's. Results: benchmarks/results/search-<time>.md and .json
(a smoke run writes to outputs/bench/ instead: it is never a result).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from commands import cnnlab_sweep, run_timed  # benchmarks/commands.py, beside this script

from cnnlab.rundir.files import find_runs, read_summary
from cnnlab.rundir.status import COMPLETED, PRUNED

ROOT = Path(__file__).resolve().parents[1]
PRESET = "hparams_search=lr_wd_batch_size"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", default=os.environ.get("CNNLAB_DATA_ROOT", "data"))
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--model", default="lenet")
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2", help="TPE seeds, one search per mode each")
    parser.add_argument(
        "--pruner",
        default="successive_halving",
        help="the pruned mode's hydra/sweeper/pruner (median, percentile, successive_halving, hyperband)",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="digits, 4 trials, 2 epochs, seed 0: a pipeline check"
    )
    parser.add_argument(
        "--out", default=None, help="results dir (default benchmarks/results, smoke: outputs/bench)"
    )
    parser.add_argument("--keep", default=None, help="keep the sweeps here instead of a temporary dir")
    args = parser.parse_args(argv)
    if args.smoke:
        args.dataset, args.trials, args.epochs, args.seeds = "digits", 4, 2, "0"
    args.out = Path(args.out or (ROOT / ("outputs/bench" if args.smoke else "benchmarks/results")))
    return args


def modes(pruner: str) -> dict[str, list[str]]:
    return {"unpruned": ["hydra/sweeper/pruner=none"], "pruned": [f"hydra/sweeper/pruner={pruner}"]}


def search(args: argparse.Namespace, root: Path, name: str, seed: int, mode: list[str]) -> dict[str, Any]:
    """One search; its epochs, wall time and pick, read back from its run dirs and study."""
    sweep_dir = root / name
    command = cnnlab_sweep(
        root,
        sweep_dir,
        PRESET,
        *mode,
        f"hydra.sweeper.sampler.seed={seed}",
        f"hydra.sweeper.n_trials={args.trials}",
        f"dataset={args.dataset}",
        f"model={args.model}",
        f"trainer.epochs={args.epochs}",
        # Both modes alike: no test-split evaluation pass after completed runs (pruned ones skip it).
        "trainer.evaluate_at_end=false",
        f"paths.data_root={Path(args.data_root).resolve()}",
    )
    wall = run_timed(command)
    summaries = [read_summary(run_dir) for run_dir in find_runs([sweep_dir])]
    results = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    picked = next(s for s in summaries if s["trial"]["number"] == results["best_trial"])
    statuses = [s["status"] for s in summaries]
    return {
        "search": name,
        "seed": seed,
        "trials": len(summaries),
        "completed": statuses.count(COMPLETED),
        "pruned": statuses.count(PRUNED),
        "other": len(statuses) - statuses.count(COMPLETED) - statuses.count(PRUNED),
        "epochs": sum(int(s.get("epochs_completed", 0)) for s in summaries),
        "wall_s": wall,
        "best_trial": results["best_trial"],
        "best_params": results["best_params"],
        "best_val_acc": results["best_value"],
        "test_acc": picked["best"]["row"]["test_acc"],
    }


def warm_up(args: argparse.Namespace, root: Path) -> None:
    """A one-trial, one-batch search first: it decodes the data set into the cache and pays the one-off
    costs (compiled imports, the file cache) that would otherwise fall on the first timed search."""
    command = cnnlab_sweep(
        root,
        root / "warm-up",
        PRESET,
        "hydra.sweeper.n_trials=1",
        f"dataset={args.dataset}",
        "trainer.epochs=1",
        "trainer.limit_batches=1",
        f"paths.data_root={Path(args.data_root).resolve()}",
    )
    run_timed(command)


def render(args: argparse.Namespace, runs: list[dict[str, Any]], load: tuple[str, str], command: str) -> str:
    by_mode = {m: [r for r in runs if r["mode"] == m] for m in ("unpruned", "pruned")}
    lines = [
        f"# Pruning in a search: {args.trials} trials x up to {args.epochs} epochs, "
        f"{args.dataset} + {args.model}",
        "",
        f"- command: `{command}`",
        f"- {PRESET} (TPE), pruned mode: hydra/sweeper/pruner={args.pruner}; seeds {args.seeds}, modes "
        "interleaved; one trial at a time, torch's default threads",
        f"- {os.cpu_count()} cores; load average before {load[0]}, after {load[1]}",
        "- epochs: summed over the search's run dirs; picked: the trial with the best val acc, its test acc "
        "at that epoch",
        "",
        "| mode | seed | trials: completed / pruned / other | epochs | wall s | picked val acc "
        "| picked test acc |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['mode']} | {r['seed']} | {r['completed']} / {r['pruned']} / {r['other']} "
            f"| {r['epochs']} | {r['wall_s']:.0f} | {r['best_val_acc']:.2%} | {r['test_acc']:.2%} |"
        )
    lines.append("")
    mean = {
        m: {k: statistics.mean(r[k] for r in rs) for k in ("epochs", "wall_s")} for m, rs in by_mode.items()
    }
    tests = {m: [r["test_acc"] for r in rs] for m, rs in by_mode.items()}
    for m in by_mode:
        lines.append(
            f"- {m}: mean {mean[m]['epochs']:.0f} epochs, {mean[m]['wall_s']:.0f} s; picked test acc "
            f"{min(tests[m]):.2%} to {max(tests[m]):.2%}"
        )
    ratio = mean["unpruned"]["epochs"] / mean["pruned"]["epochs"]
    wall_ratio = mean["unpruned"]["wall_s"] / mean["pruned"]["wall_s"]
    within = all(t >= min(tests["unpruned"]) for t in tests["pruned"])
    lines += [
        f"- epochs unpruned / pruned: {ratio:.2f}x (target >= 2x: {'met' if ratio >= 2 else 'NOT met'}); "
        f"wall time {wall_ratio:.2f}x",
        "- every pruned search's pick at least as good on test as the worst unpruned search's: "
        f"{'yes' if within else 'NO'}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python benchmarks/bench_search.py " + " ".join(sys.argv[1:] if argv is None else argv)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-search-") as scratch:
        root = Path(args.keep or scratch)
        warm_up(args, root)
        for seed in (int(s) for s in args.seeds.split(",")):
            for mode, overrides in modes(args.pruner).items():
                result = search(args, root, f"{mode}-{seed}", seed, overrides) | {"mode": mode}
                runs.append(result)
                print(
                    f"{mode:8s} seed {seed}: {result['epochs']} epochs, {result['wall_s']:.0f} s, "
                    f"picked test acc {result['test_acc']:.2%}",
                    flush=True,
                )
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report = render(args, runs, (load_before, load_after), command)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"search{'-smoke' if args.smoke else ''}-{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "runs": runs}, indent=1)
    )
    print(report)
    print(f"saved {stem}.md and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
