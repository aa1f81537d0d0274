"""Fake lab outputs for the experiments tests: run dirs, sweeps and task results as cnnlab.train and
cnnlab.lab leave them, for every recipe of the registry, at the budget a test asks for."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cnnlab.labs.book.registry import Lab, Recipe, refs_in


def fake_run(
    run_dir: Path,
    test_acc: list[float],
    overrides: list[str] | None = None,
    budget: str = "full",
    test_loss: list[float] | None = None,
    psnr: bool = False,
    device: str = "cpu",
    name: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """A finished run dir: metrics.csv, summary.json, config.yaml, a checkpoint and TensorBoard events;
    `extra` adds to (or replaces in) summary.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    n = len(test_acc)
    losses = test_loss or [1.0 / (i + 1) for i in range(n)]
    rows = []
    for i, (acc, loss) in enumerate(zip(test_acc, losses, strict=True)):
        row = {"epoch": i + 1, "lr": 0.1 * 0.95**i, "train_loss": 0.9 / (i + 1)}
        if psnr:
            row |= {"val_loss": loss, "train_psnr": 20 + i + acc, "val_psnr": 19 + i + acc}
        else:
            row |= {"train_acc": min(acc + 0.02, 1.0), "val_loss": loss + 0.01, "val_acc": acc - 0.01}
            row |= {"test_loss": loss, "test_acc": acc}
        rows.append(row | {"epoch_s": 10.0 + i, "images_per_s": 500.0 + i})
    pd.DataFrame(rows).to_csv(run_dir / "metrics.csv", index=False)
    score = "val_psnr" if psnr else "test_acc"
    best = max(rows, key=lambda r: r[score])
    summary = {
        "name": name or run_dir.name,
        "status": "completed",
        "monitor": score,
        "n_params": 1234,
        "device": device,
        "overrides": overrides or [],
        "epochs_completed": n,
        "wall_s": 100.0 * n,
        "final": {k: v for k, v in rows[(extra or {}).get("restored_epoch", n) - 1].items() if k != "epoch"},
        "best": {"metric": score, "value": best[score], "epoch": best["epoch"]},
    }
    if not psnr:
        summary["initial"] = {"train_loss": 2.3026, "train_acc": 0.1, "test_loss": 2.3025, "test_acc": 0.099}
    (run_dir / "summary.json").write_text(json.dumps(summary | (extra or {})))
    config = {
        "budget": budget,
        "dataset": {"num_classes": None if psnr else 10},
        "trainer": {"batch_size": 16},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "checkpoints" / "last.pt").write_bytes(b"weights")
    (run_dir / "events.out.tfevents.1").write_bytes(b"events")
    if psnr:
        _png(run_dir / "images_train.png", 1)
        _png(run_dir / "images_test.png", 2)


def _png(path: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, seed])
    fig.savefig(path)
    plt.close(fig)


def _set(node: Any, parts: list[str], leaf: Any) -> Any:
    """Put `leaf` at the dotted path in a tree of dicts and lists, creating what is missing."""
    if not parts:
        return node if node is not None else leaf
    head, rest = parts[0], parts[1:]
    if head.isdigit():
        node = node if isinstance(node, list) else []
        while len(node) <= int(head):
            node.append(None)
        node[int(head)] = _set(node[int(head)], rest, leaf)
        return node
    node = node if isinstance(node, dict) else {}
    node[head] = _set(node.get(head), rest, leaf)
    return node


def fake_task_results(lab: Lab, folder: str) -> dict[str, Any]:
    """results.json with a number at every path the registry reads from this task."""
    results: dict[str, Any] = {"task": folder}
    texts = [t for s in lab.sections for t in [*s.answers.values(), *s.reasons.values(), s.scoreboard or ""]]
    texts += [" ".join((r.what, r.lab, r.ours, r.why)) for r in lab.setup]
    refs = [(p, fmt) for t in texts for f, p, fmt in refs_in(t) if f == folder]
    paths = [p for p, fmt in refs if fmt != "len"]
    for path, _ in [r for r in refs if r[1] == "len"]:
        results = _set(results, path.split("."), [0.5, 0.6])
    paths += [
        r.ours.partition(":")[2]
        for s in lab.sections
        for r in s.references
        if r.ours.startswith(folder + ":")
    ]
    for section in lab.sections:
        for analysis in section.analyses:
            refs = list((analysis.get("values") or {}).values())
            refs += [r for pair in analysis.get("pairs") or [] for r in pair[1:]]
            paths += [r.partition(":")[2] for r in refs if r.startswith(folder + ":")]
            if analysis["kind"] == "layers" and analysis["rows"].startswith(folder + ":"):
                rows = [
                    {"name": f"layer{i}", **{c: 3 * i + 1 for c in analysis["columns"]}} for i in range(3)
                ]
                results = _set(results, analysis["rows"].partition(":")[2].split("."), rows)
    for i, path in enumerate(paths):
        results = _set(results, path.split("."), 1e-9 * (i + 1))
    return results


def fake_recipe(lab: Lab, recipe: Recipe, lab_out: Path, budget: str = "full") -> None:
    """The outputs one recipe leaves in LAB_OUT."""
    base = lab_out / budget / lab.name / recipe.folder
    psnr = lab.name == "dd2427"
    offset = sum(map(ord, recipe.folder)) % 50 / 1000
    curve = [0.3 + offset + 0.05 * i for i in range(6)]
    if recipe.kind == "run" and recipe.seeds:
        for seed in recipe.seeds:
            # each seed a little apart and stopped at its own epoch by the rule, like real seeds
            accs = [a + 0.004 * seed for a in curve[: len(curve) - seed % 2]]
            overrides = [f"experiment={recipe.preset[0]}", f"trainer.seed={seed}", "+budget=" + budget]
            stop = {"stop_reason": "plateau", "restored_epoch": len(accs) - 1}
            fake_run(base / f"seed{seed}", accs, overrides, budget, psnr=psnr, extra=stop)
    elif recipe.kind == "run":
        fake_run(base, curve, [f"experiment={recipe.preset[0]}", "+budget=" + budget], budget, psnr=psnr)
    elif recipe.kind == "sweep":
        grid = [[f"{key}={v}" for v in values] for key, values in recipe.grid.items()]
        jobs = itertools.product(recipe.preset, *grid)
        for job, (preset, *point) in enumerate(jobs):
            overrides = [f"experiment={preset}", *point]
            overrides += [f"{key}=0.001" for key in recipe.best_keys]
            name = preset.replace("/", "-").replace("_", ".").replace("q3.17.", "q3.17-")
            fake_run(base / str(job), [a + 0.01 * (job % 5) for a in curve], overrides, budget, name=name)
        (base / "summary.csv").write_text("run,final_test_acc\n0,0.5\n")
    elif recipe.reads:
        base.mkdir(parents=True, exist_ok=True)
        (base / "results.json").write_text(json.dumps(fake_task_results(lab, recipe.folder)))
    else:
        task = lab_out / "tasks" / recipe.folder
        task.mkdir(parents=True, exist_ok=True)
        (task / "results.json").write_text(json.dumps(fake_task_results(lab, recipe.folder)))
        (task / ".hydra").mkdir(exist_ok=True)
        (task / ".hydra" / "config.yaml").write_text("task: x\n")
    for section in lab.sections:
        for analysis in section.analyses:
            for i, name in enumerate(analysis.get("files") or []):
                folder, _, file = name.rpartition("/")
                if folder == recipe.folder and not recipe.trains:
                    target = base if recipe.reads else lab_out / "tasks" / recipe.folder
                    _png(target / file, i + 3 + int(math.fsum(map(ord, name))) % 7)


# The two tuning sweeps of vu3a q3.17 (lr, then batch size at the best lr), as a registry's head:
# a test adds its own recipes and sections.
TUNING_RECIPES = """
title: x
text: x.md
recipes:
  lr: {sweep: vu3a/q3_17_gp, grid: {optimizer.lr: [0.1, 0.01]}, select: final}
  bs:
    sweep: vu3a/q3_17_gp
    at_best: {sweep: lr, key: optimizer.lr}
    grid: {trainer.batch_size: [4, 16]}
    select: final
"""
