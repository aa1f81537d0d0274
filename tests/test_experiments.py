"""experiments/<lab>/README.md is rebuilt from run and task dirs: numbers and figures from files."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pandas as pd

from cnnlab.experiments import SPEC, build_lab, main, sweep_best

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def fake_run(run_dir: Path, test_acc: list[float], overrides: list[str], status: str = "completed") -> None:
    """A run dir as cnnlab.train leaves it: metrics.csv and summary.json."""
    run_dir.mkdir(parents=True)
    rows = [
        {
            "epoch": i + 1,
            "lr": 0.001,
            "train_loss": 1 / (i + 1),
            "train_acc": a - 0.01,
            "val_loss": 1 / (i + 2),
            "val_acc": a - 0.005,
            "test_loss": 1 / (i + 2),
            "test_acc": a,
            "epoch_s": 1.0,
            "images_per_s": 10.0,
        }
        for i, a in enumerate(test_acc)
    ]
    pd.DataFrame(rows).to_csv(run_dir / "metrics.csv", index=False)
    best = max(rows, key=lambda r: r["val_acc"])
    summary = {
        "name": run_dir.name,
        "status": status,
        "monitor": "val_acc",
        "n_params": 93322,
        "overrides": overrides,
        "epochs_completed": len(rows),
        "wall_s": 12.5,
        "final": {k: v for k, v in rows[-1].items() if k != "epoch"},
        "best": {"metric": "val_acc", "value": best["val_acc"], "epoch": best["epoch"], "row": best},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_readme_holds_measured_numbers_the_reference_and_the_budget(tmp_path):
    root = tmp_path / "labs"
    fake_run(root / "smoke" / "keras7" / "e1", [0.9, 0.95], ["experiment=keras7/e1"])
    task = root / "tasks" / "sobel_keras7"
    task.mkdir(parents=True)
    (task / "results.json").write_text(json.dumps({"task": "sobel_keras7", "max_abs_difference": 1.5e-7}))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    fig.savefig(task / "sobel.png")
    readme = build_lab("keras7", root, tmp_path / "experiments").read_text()
    e1 = readme.split("## e1", 1)[1].split("## e2", 1)[0]
    assert "budget: smoke" in e1 and "95.00%" in e1 and "99.05%" in e1 and "93,322" in e1
    assert (tmp_path / "experiments" / "keras7" / "e1" / "curves_smoke.png").stat().st_size > 0
    assert "1.5e-07" in readme and (tmp_path / "experiments/keras7/e2/sobel_keras7_sobel.png").exists()
    assert "Not measured yet: run `make keras7-e3`" in readme


def test_full_budget_wins_and_running_runs_are_ignored(tmp_path):
    root = tmp_path / "labs"
    fake_run(root / "smoke" / "keras7" / "e1", [0.9], ["experiment=keras7/e1"])
    fake_run(root / "full" / "keras7" / "e1", [0.97, 0.99], ["experiment=keras7/e1"], status="running")
    assert "budget: smoke" in build_lab("keras7", root, tmp_path / "out").read_text()
    (root / "full" / "keras7" / "e1" / "done").touch()
    assert "budget: full" in build_lab("keras7", root, tmp_path / "out").read_text()


def test_best_of_a_sweep_by_name(tmp_path, capsys):
    for lr, acc in (("0.001", [0.9, 0.96]), ("0.002", [0.95, 0.97])):
        fake_run(tmp_path / f"gp-{lr}", acc, [f"optimizer.lr={lr}"])
    value, numbers = sweep_best(tmp_path, key="optimizer.lr")
    assert value == "0.002" and numbers["test_acc"] == 0.97
    main(["best", str(tmp_path), "--key", "optimizer.lr"])
    assert capsys.readouterr().out.strip() == "0.002"


def test_every_lab_has_a_section_per_labs_md_row():
    assert sorted(SPEC) == ["dd2427", "keras7", "mainf6", "rdfia", "vu3a"]
    assert sum(len(sections) for sections in SPEC.values()) == 41
