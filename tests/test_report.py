"""cnnlab.report: the table and figure must say exactly what the runs' own files say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from cnnlab.report import collect, write_report
from cnnlab.train import run


def _fake_run(run_dir: Path, overrides: list[str], val_acc: list[float], status: str = "completed") -> None:
    """A run dir as fit leaves it, with metrics chosen by the test."""
    run_dir.mkdir(parents=True)
    epochs = np.arange(1, len(val_acc) + 1)
    metrics = pd.DataFrame(
        {
            "epoch": epochs,
            "lr": 0.01,
            "train_loss": 2.0 / epochs,
            "train_acc": np.array(val_acc) + 0.05,
            "val_loss": 2.5 / epochs,
            "val_acc": val_acc,
            "test_loss": 2.6 / epochs,
            "test_acc": np.array(val_acc) - 0.01,
            "epoch_s": 1.0,
            "images_per_s": 1000.0,
        }
    )
    metrics.to_csv(run_dir / "metrics.csv", index=False)
    best = int(np.argmax(val_acc))
    summary = {
        "name": "digits-lenet",
        "status": status,
        "monitor": "val_acc",
        "n_params": 1234,
        "overrides": overrides,
        "best": {"metric": "val_acc", "value": val_acc[best], "epoch": best + 1},
        "wall_s": 3.0,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_report_numbers_equal_each_runs_metrics_csv(make_cfg, tmp_path):
    sweep = tmp_path / "sweep"
    for lr in ("0.01", "0.003"):
        overrides = [f"optimizer.lr={lr}", "trainer.epochs=2", "trainer.limit_batches=2"]
        run(make_cfg(*overrides), run_dir=sweep / f"lr{lr}", overrides=overrides)
    report = write_report([sweep])
    table = pd.read_csv(sweep / "summary.csv")
    assert len(table) == 2 and list(report.varying) == ["optimizer.lr"]
    assert "trainer.epochs" not in table.columns
    for _, row in table.iterrows():
        metrics = pd.read_csv(Path(row["run_dir"]) / "metrics.csv")
        last = metrics.iloc[-1]
        for col in ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc", "lr"):
            assert row[f"final_{col}"] == pytest.approx(last[col], rel=1e-12)
        assert row["best_value"] == pytest.approx(metrics["val_acc"].max(), rel=1e-12)
        assert row["epochs"] == len(metrics)
        assert row["run"] == f"optimizer.lr={row['optimizer.lr']}"
    curves = report.curves
    for run_dir, one in curves.groupby("run_dir"):
        metrics = pd.read_csv(Path(run_dir) / "metrics.csv")
        np.testing.assert_allclose(one["val_loss"].to_numpy(), metrics["val_loss"].to_numpy())
    image = mpimg.imread(sweep / "curves.png")
    assert image.shape[0] > 300 and image.shape[1] > 600
    assert "optimizer.lr" in (sweep / "summary.md").read_text()


def test_mean_and_std_over_seeds_per_config(tmp_path):
    accs = {
        ("0.1", 0): 0.5,
        ("0.1", 1): 0.7,
        ("0.1", 2): 0.9,
        ("0.01", 0): 0.2,
        ("0.01", 1): 0.4,
        ("0.01", 2): 0.3,
    }
    for (lr, seed), acc in accs.items():
        _fake_run(tmp_path / f"{lr}-{seed}", [f"optimizer.lr={lr}", f"trainer.seed={seed}"], [acc / 2, acc])
    report = collect([tmp_path])
    assert report.varying == ["optimizer.lr", "trainer.seed"]
    grouped = report.grouped.set_index("optimizer.lr")
    for lr in (0.1, 0.01):
        values = np.array([acc for (key, _), acc in accs.items() if float(key) == lr])
        assert grouped.loc[lr, "n_seeds"] == 3
        assert grouped.loc[lr, "final_val_acc_mean"] == pytest.approx(values.mean())
        assert grouped.loc[lr, "final_val_acc_std"] == pytest.approx(values.std(ddof=1))
    write_report([tmp_path])
    assert "Mean ± std over seeds" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "summary_by_config.csv").is_file()


def test_failed_runs_are_listed_with_their_error(tmp_path):
    _fake_run(tmp_path / "a", ["model=lenet"], [0.5])
    _fake_run(tmp_path / "b", ["model=mlp_bn"], [0.4], status="failed")
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    (tmp_path / "b" / "summary.json").write_text(json.dumps(summary | {"message": "RuntimeError: boom"}))
    report = write_report([tmp_path], out=tmp_path / "out")
    assert sorted(report.runs["status"]) == ["completed", "failed"]
    text = (tmp_path / "out" / "summary.md").read_text()
    assert "## Not completed" in text and "RuntimeError: boom" in text


def test_hidden_folders_and_plumbing_overrides_are_ignored(tmp_path):
    _fake_run(tmp_path / "a", ["optimizer.lr=0.1", "paths.output_dir=/x"], [0.5])
    _fake_run(tmp_path / "b", ["optimizer.lr=0.2", "paths.output_dir=/y"], [0.6])
    _fake_run(tmp_path / ".submitit" / "c", ["optimizer.lr=0.3"], [0.7])
    report = collect([tmp_path])
    assert len(report.runs) == 2
    assert report.varying == ["optimizer.lr"]


def test_cli_help_and_missing_runs(tmp_path):
    helped = subprocess.run(
        [sys.executable, "-m", "cnnlab.report", "--help"], capture_output=True, text=True, check=True
    )
    assert "summary.csv" in helped.stdout and "curves.png" in helped.stdout
    empty = subprocess.run(
        [sys.executable, "-m", "cnnlab.report", str(tmp_path)], capture_output=True, text=True
    )
    assert empty.returncode == 2 and "no run dir" in empty.stderr
