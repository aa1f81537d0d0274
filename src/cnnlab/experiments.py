"""Rebuild experiments/<lab>/README.md from the lab runs in outputs/labs/: `python -m cnnlab.experiments`.

Every number and figure in a README comes from a run dir (summary.json, metrics.csv, PNGs) or a
task dir (results.json, PNGs); the only typed-in numbers are the labs' own reported figures,
shown beside ours and marked as theirs. Full-budget runs are preferred over short-budget ones.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from cnnlab.lab_sections import SPEC, TITLES, Section
from cnnlab.report import find_runs, write_report

LABS_ROOT = Path("outputs/labs")
OUT_ROOT = Path("experiments")
BUDGETS = ("full", "smoke")


def find_dir(key: str, root: Path) -> tuple[Path | None, str | None]:
    """The finished run (or sweep) dir of a question, full budget first, and its budget."""
    for budget in BUDGETS:
        path = root / budget / key
        if (path / "results.json").is_file() or (path / "done").is_file():
            return path, budget
        summary = path / "summary.json"
        if summary.is_file():
            if json.loads(summary.read_text()).get("status") != "running":
                return path, budget
        elif path.is_dir() and find_runs([path]):
            return path, budget
    return None, None


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.2f}%"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def run_numbers(run_dir: Path) -> dict[str, Any]:
    """The final row, best monitored value, parameters and wall time of one run."""
    summary = json.loads((run_dir / "summary.json").read_text())
    final = summary.get("final") or {}
    best = summary.get("best") or {}
    return {
        **{k: v for k, v in final.items() if v is not None},
        "status": summary.get("status"),
        "epochs": summary.get("epochs_completed"),
        "n_params": summary.get("n_params"),
        "wall_s": summary.get("wall_s"),
        "best_metric": best.get("metric"),
        "best_value": best.get("value", math.nan),
        "best_epoch": best.get("epoch"),
    }


def _run_table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    cols = [
        "train_loss",
        "train_acc",
        "val_acc",
        "test_loss",
        "test_acc",
        "train_psnr",
        "val_psnr",
        "test_psnr",
    ]
    present = [c for c in cols if any(c in r for _, _, r in rows)]
    head = ["run", "budget", "status", "epochs", *present, "best", "params", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, budget, r in rows:
        values = [_pct(r[c]) if c.endswith("_acc") and c in r else _num(r.get(c, "")) for c in present]
        best = (
            f"{r['best_metric']} {_num(r['best_value'])} (epoch {r['best_epoch']})"
            if r.get("best_metric")
            else ""
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    key,
                    budget,
                    str(r["status"]),
                    str(r["epochs"]),
                    *values,
                    best,
                    f"{r['n_params']:,}" if r.get("n_params") else "",
                    _num(r.get("wall_s", "")),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def _measured_line(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    """One sentence from the numbers: the run's final score, or the runs ranked by it."""
    scored = []
    for key, budget, r in rows:
        for metric in ("test_acc", "val_acc", "val_psnr", "test_psnr"):
            if isinstance(r.get(metric), float):
                scored.append((r[metric], metric, key, budget, r.get("epochs")))
                break
    if not scored:
        return ""
    if len(scored) == 1:
        value, metric, key, budget, epochs = scored[0]
        shown = _pct(value) if metric.endswith("acc") else f"{value:.2f} dB"
        return f"Measured: {metric} {shown} after {epochs} epochs ({budget} budget). "
    ranked = sorted(scored, reverse=True)
    order = " > ".join(
        f"{key} {_pct(v) if m.endswith('acc') else f'{v:.2f} dB'} ({b})" for v, m, key, b, _ in ranked
    )
    return f"Measured, final {ranked[0][1]}: {order}. "


def _task_numbers(results: dict[str, Any], limit: int = 24) -> str:
    """The scalar results of a task as a two-column table (lists shown when short)."""
    lines = ["| result | value |", "|---|---|"]
    shown = 0

    def walk(node: Any, prefix: str) -> None:
        nonlocal shown
        if shown >= limit:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list) and len(json.dumps(node)) > 80:
            return
        else:
            lines.append(f"| {prefix} | {_num(node) if isinstance(node, float) else json.dumps(node)} |")
            shown += 1

    walk({k: v for k, v in results.items() if k not in ("task", "figures")}, "")
    return "\n".join(lines)


def _task_value(root: Path, ref: str) -> Any:
    """`task:<task>:<key.path>` -> that value of the task's results.json (NaN when absent)."""
    _, task, path = ref.split(":", 2)
    results = root / "tasks" / task / "results.json"
    node: Any = json.loads(results.read_text()) if results.is_file() else {}
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return math.nan
        node = node[key]
    return node


def plot_runs(runs: list[tuple[str, Path]], path: Path, note: str) -> None:
    """Loss and score per epoch of each run: train dashed, validation dotted, test solid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for i, (label, run_dir) in enumerate(runs):
        metrics = pd.read_csv(run_dir / "metrics.csv")
        score = "psnr" if "train_psnr" in metrics.columns else "acc"
        for ax, metric in zip(axes, ("loss", score), strict=True):
            for split, style in (("train", "--"), ("val", ":"), ("test", "-")):
                column = f"{split}_{metric}"
                if column in metrics.columns and metrics[column].notna().any():
                    ax.plot(
                        metrics["epoch"],
                        metrics[column],
                        style,
                        color=f"C{i}",
                        marker=".",
                        label=f"{label} {split}",
                    )
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="best")
    fig.suptitle(f"train dashed, validation dotted, test solid ({note})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _copy(src: Path, dest_dir: Path, name: str | None = None) -> str:
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / (name or src.name)
    shutil.copyfile(src, target)
    return target.name


def sweep_best(
    sweep_dir: Path, name: str | None = None, key: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """The value of override `key` in the completed run with the best monitored value."""
    best: tuple[float, Any, dict[str, Any]] | None = None
    for run_dir in find_runs([sweep_dir]):
        summary = json.loads((run_dir / "summary.json").read_text())
        if summary.get("status") != "completed" or (name and summary.get("name") != name):
            continue
        value = (summary.get("best") or {}).get("value", math.nan)
        if math.isnan(value):
            continue
        overrides = dict(o.lstrip("+").split("=", 1) for o in summary.get("overrides") or [] if "=" in o)
        if best is None or value > best[0]:
            best = (
                value,
                overrides.get(key) if key else None,
                {**run_numbers(run_dir), "run_dir": str(run_dir)},
            )
    if best is None:
        raise SystemExit(f"no completed run{f' named {name}' if name else ''} under {sweep_dir}")
    return best[1], best[2]


def _section(lab: str, section: Section, root: Path, out: Path) -> str:
    ids = section.ids
    slug = ids.split(",")[0].split("-")[0].strip()
    fig_dir = out / slug
    parts = [
        f"## {ids}",
        "",
        f"**Question.** {section.question}",
        "",
        f"**Command.** `make {section.target}`",
        "",
    ]
    measured: dict[str, float] = {}
    found_any = False
    run_rows, run_dirs, budgets = [], [], set()
    for key in section.runs:
        path, budget = find_dir(key, root)
        if path is None:
            continue
        if (path / "summary.json").is_file():
            run_rows.append((key, budget, run_numbers(path)))
            run_dirs.append(path)
            budgets.add(budget)
        for png in sorted(path.glob("*.png")):
            parts += [
                f"![{png.stem}]({slug}/{_copy(png, fig_dir, key.replace('/', '_') + '_' + png.name)})",
                "",
            ]
            found_any = True
        results = path / "results.json"
        if results.is_file():
            parts += [_task_numbers(json.loads(results.read_text())), ""]
            found_any = True
    if run_rows:
        found_any = True
        parts += [f"**Ours** (budget: {', '.join(sorted(budgets))}):", "", _run_table(run_rows), ""]
        last = run_rows[-1][2]
        measured.update({k: v for k, v in last.items() if isinstance(v, int | float)})
        tag = "-".join(sorted(budgets))
        curves = fig_dir / f"curves_{tag}.png"
        fig_dir.mkdir(parents=True, exist_ok=True)
        plot_runs(
            [(key, d) for (key, _, _), d in zip(run_rows, run_dirs, strict=True)], curves, f"budget: {tag}"
        )
        parts += [f"![curves, budget {tag}]({slug}/{curves.name})", ""]
    for key in section.sweeps:
        path, budget = find_dir(key, root)
        if path is None:
            continue
        found_any = True
        budgets.add(budget)
        sweep_out = f"{key.replace('/', '_')}_{budget}"
        report = write_report([str(path)], out=fig_dir / sweep_out)
        table = (fig_dir / sweep_out / "summary.md").read_text().split("## Runs", 1)[-1]
        parts += [
            f"**Sweep `{key}`** (budget: {budget}, {len(report.runs)} runs):",
            table.strip(),
            "",
            f"![sweep {key}, budget {budget}]({slug}/{sweep_out}/curves.png)",
            "",
        ]
    if lab == "vu3a" and section.sweeps:
        for net in ("gp", "resize"):
            path, budget = find_dir(f"vu3a/q3_17/bs/{net}", root)
            if path is not None:
                _, numbers = sweep_best(path)
                measured[net] = numbers.get("test_acc", math.nan)
                parts += [
                    f"Tuned {net} net (best validation accuracy of step 2, budget {budget}): "
                    f"test accuracy {_pct(measured[net])}.",
                    "",
                ]
    for task in section.tasks:
        task_dir = root / "tasks" / task
        results = task_dir / "results.json"
        if not results.is_file():
            parts += [f"_Task `{task}` has not run (or does not exist yet)._", ""]
            continue
        found_any = True
        parts += [f"**Task `{task}`:**", "", _task_numbers(json.loads(results.read_text())), ""]
        for png in sorted(task_dir.glob("*.png")):
            parts += [f"![{png.stem}]({slug}/{_copy(png, fig_dir, f'{task}_{png.name}')})", ""]
    if section.reference:
        parts += ["| lab's figure | lab | ours | budget |", "|---|---|---|---|"]
        for label, metric, value in section.reference:
            ours = _task_value(root, metric) if metric.startswith("task:") else measured.get(metric, math.nan)
            fmt = _pct if isinstance(value, float) and value < 1 and metric != "test_loss" else _num
            shown = fmt(ours) if not isinstance(ours, list) else ours
            budget = "task" if metric.startswith("task:") else ", ".join(sorted(budgets)) or "-"
            parts.append(f"| {label} | {fmt(value)} | {shown} | {budget} |")
        parts.append("")
    if not found_any:
        parts += [f"_Not measured yet: run `make {section.target}`._", ""]
    reading = section.reading
    if any(budget == "short" for _, budget, _ in run_rows):
        reading = (
            f"At the lab's schedule: {reading[0].lower()}{reading[1:]} The short budget's few steps "
            "(conf/budget/short.yaml) can rank runs otherwise; `BUDGET=full` runs the lab's schedule."
        )
    parts += [f"**Reading.** {_measured_line(run_rows)}{reading}", ""]
    return "\n".join(parts)


def build_lab(lab: str, root: Path = LABS_ROOT, out_root: Path = OUT_ROOT) -> Path:
    """Write experiments/<lab>/README.md (and its figures) from what outputs/labs/ holds now."""
    out = out_root / lab
    if out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    head = [
        f"# {TITLES[lab]}",
        "",
        "Generated by `make report` (src/cnnlab/experiments.py) from the run dirs under outputs/labs/;",
        "do not edit. Each section says the budget its numbers come from: `full` is the lab's own",
        "schedule, `short` the cut one of conf/budget/short.yaml. The lab's figures are theirs, typed in",
        "from the lab text; ours are measured.",
        "",
    ]
    body = [_section(lab, s, root, out) for s in SPEC[lab]]
    path = out / "README.md"
    path.write_text("\n".join(head + body))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    best = sub.add_parser("best", help="print the override value of a sweep's best completed run")
    best.add_argument("sweep_dir", type=Path)
    best.add_argument("--name", default=None)
    best.add_argument("--key", required=True)
    parser.add_argument("--lab", choices=sorted(SPEC), action="append")
    parser.add_argument("--root", type=Path, default=LABS_ROOT)
    parser.add_argument("--out", type=Path, default=OUT_ROOT)
    args = parser.parse_args(argv)
    if args.command == "best":
        value, _ = sweep_best(args.sweep_dir, args.name, args.key)
        print(value)
        return
    for lab in args.lab or sorted(SPEC):
        print(build_lab(lab, args.root, args.out))


if __name__ == "__main__":
    main()
