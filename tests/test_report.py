"""cnnlab.report: the table and figure must say exactly what the runs' own files say."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import yaml
from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

from cnnlab.compare.collect import collect
from cnnlab.compare.plots import plot_curves, plot_metric_vs_value
from cnnlab.compare.tables import write_report
from cnnlab.report import main
from cnnlab.rundir.files import write_resolved_config
from cnnlab.train import run
from tests.conftest import composed
from tests.test_tensorboard_http import train


def _fake_run(run_dir: Path, overrides: list[str], val_acc: list[float], status: str = "completed") -> None:
    """A run dir as fit leaves it (config.yaml composed from conf/ with the overrides), with metrics
    chosen by the test; best is the monitored metric's best by the config's monitor and mode."""
    run_dir.mkdir(parents=True)
    cfg = composed(*overrides)
    write_resolved_config(run_dir, cfg)
    epochs = np.arange(1, len(val_acc) + 1)
    metrics = pd.DataFrame(
        {
            "epoch": epochs,
            "lr": 0.01,
            "train_loss": 2.0 / epochs,
            "train_acc": np.array(val_acc) + 0.05,
            "val_loss": 1.0 - np.array(val_acc) + 0.5 / epochs,
            "val_acc": val_acc,
            "test_loss": 2.6 / epochs,
            "test_acc": np.array(val_acc) - 0.01,
            "epoch_s": 1.0,
            "images_per_s": 1000.0,
        }
    )
    metrics.to_csv(run_dir / "metrics.csv", index=False)
    monitor, mode = cfg.trainer.monitor, cfg.trainer.monitor_mode
    best = int(metrics[monitor].idxmax() if mode == "max" else metrics[monitor].idxmin())
    summary = {
        "name": "digits-lenet",
        "status": status,
        "monitor": monitor,
        "n_params": 1234,
        "overrides": overrides,
        "best": {"metric": monitor, "value": float(metrics[monitor][best]), "epoch": best + 1},
        "wall_s": 3.0,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))


def _markdown_table(text: str, section: str = "## Runs") -> tuple[list[str], list[str], list[list[str]]]:
    """The header, the alignment row and the body of the first table after `section`, parsed back."""
    lines = text.split(section, 1)[1].strip().splitlines()
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("|")]
    return rows[0], rows[1], rows[2:]


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
        assert row["run"] == Path(row["run_dir"]).name
        assert row["final_value"] == row["final_val_acc"] and row["monitor_mode"] == "max"
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
    # The file a user opens, read back with pandas: one row per lr, the hand-computed mean and std.
    by_config = pd.read_csv(tmp_path / "summary_by_config.csv").set_index("optimizer.lr").sort_index()
    assert list(by_config.index) == [0.01, 0.1] and list(by_config["n_seeds"]) == [3, 3]
    assert by_config["final_val_acc_mean"].tolist() == pytest.approx([0.3, 0.7])
    assert by_config["final_val_acc_std"].tolist() == pytest.approx([0.1, 0.2])  # sample std (n - 1)
    assert by_config["best_value_mean"].tolist() == pytest.approx([0.3, 0.7])


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


def test_without_a_validation_split_test_curves_and_a_split_key_are_drawn(make_cfg, tmp_path):
    """rdfia q16/q28 had no validation split: the figure must still hold the test curves and a key."""
    sweep = tmp_path / "sweep"
    for lr in ("0.01", "0.003"):
        overrides = [
            f"optimizer.lr={lr}",
            "dataset.val_fraction=0.0",
            "trainer.monitor=test_acc",
            "trainer.epochs=2",
            "trainer.limit_batches=2",
        ]
        run(make_cfg(*overrides), run_dir=sweep / f"optimizer.lr={lr}", overrides=overrides)
    report = write_report([sweep])
    assert (sweep / "curves.png").is_file() and not (sweep / "metric_vs_value.png").exists()
    fig = plot_curves(report, tmp_path / "curves.png")
    loss_ax, acc_ax = fig.axes
    for name, run_dir in zip(report.runs["run"], report.runs["run_dir"], strict=True):
        metrics = pd.read_csv(Path(run_dir) / "metrics.csv")
        assert metrics["val_acc"].isna().all() and metrics["test_acc"].notna().all()
        for ax, split_metric in ((loss_ax, "loss"), (acc_ax, "acc")):
            lines = {line.get_label(): line for line in ax.get_lines()}
            assert lines[f"{name} (test)"].get_linestyle() == "-"
            assert lines[f"{name} (train)"].get_linestyle() == "--"
            assert f"{name} (val)" not in lines
            np.testing.assert_allclose(lines[f"{name} (test)"].get_ydata(), metrics[f"test_{split_metric}"])
            np.testing.assert_allclose(lines[f"{name} (test)"].get_xdata(), metrics["epoch"])
    key = loss_ax.get_legend()
    assert [t.get_text() for t in key.get_texts()] == ["train", "test"]
    assert [h.get_linestyle() for h in key.legend_handles] == ["--", "-"]
    (runs_legend,) = fig.legends
    assert [t.get_text() for t in runs_legend.get_texts()] == list(report.runs["run"])
    assert all("val" not in ax.get_title() for ax in fig.axes)
    # The best run is the one with the highest test_acc (trainer.monitor_mode=max in its config.yaml).
    header, _, body = _markdown_table((sweep / "summary.md").read_text())
    marked = [row[header.index("optimizer.lr")] for row in body if row[header.index("best")] == "★"]
    best = max(report.runs["run_dir"], key=lambda d: pd.read_csv(Path(d) / "metrics.csv")["test_acc"].max())
    assert float(marked[0]) == pytest.approx(float(Path(best).name.split("=")[1])) and len(marked) == 1


def test_more_than_eight_runs_plot_best_and_final_against_the_swept_value(tmp_path):
    rng = np.random.default_rng(0)
    lrs = ("0.0001", "0.0003", "0.001", "0.003", "0.01", "0.1")
    for model in ("lenet", "mlp_bn"):
        for lr in lrs:
            overrides = [f"optimizer.lr={lr}", f"model={model}"]
            _fake_run(tmp_path / ",".join(overrides), overrides, list(rng.uniform(0.1, 0.9, 3)))
    (tmp_path / "curves.png").write_bytes(b"from an earlier report of fewer runs")
    report = write_report([tmp_path])
    assert (tmp_path / "metric_vs_value.png").is_file() and not (tmp_path / "curves.png").exists()
    text = (tmp_path / "summary.md").read_text()
    assert "(metric_vs_value.png)" in text and "(curves.png)" not in text
    table = pd.read_csv(tmp_path / "summary.csv")
    for row in table.itertuples():  # final_value: the monitored metric at the run's last epoch
        assert row.final_value == pytest.approx(
            pd.read_csv(Path(row.run_dir) / "metrics.csv")["val_acc"].iloc[-1]
        )
    fig = plot_metric_vs_value(report, tmp_path / "again.png")
    best_ax, final_ax = fig.axes
    assert best_ax.get_xscale() == "log" and best_ax.get_xlabel() == "optimizer.lr (log scale)"
    assert "best val_acc" in best_ax.get_ylabel() and "final val_acc" in final_ax.get_ylabel()
    assert best_ax.get_ylabel().endswith("(%)")  # accuracies in percent, as in every other figure
    for ax, column in ((best_ax, "best_value"), (final_ax, "final_value")):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert sorted(lines) == ["model=lenet", "model=mlp_bn"]
        for model in ("lenet", "mlp_bn"):
            rows = table[table["model"] == model].sort_values("optimizer.lr")
            np.testing.assert_allclose(lines[f"model={model}"].get_xdata(), rows["optimizer.lr"])
            np.testing.assert_allclose(lines[f"model={model}"].get_ydata(), 100 * rows[column])


@pytest.mark.parametrize(("monitor", "mode"), [("val_acc", "max"), ("val_loss", "min")])
def test_summary_md_marks_the_best_run_and_aligns_decimals(tmp_path, monitor, mode):
    accs = {"0.1": [0.3, 0.82], "0.03": [0.5, 0.61], "0.01": [0.9, 0.7], "0.003": [0.2, 0.25]}
    for lr, acc in accs.items():
        overrides = [f"optimizer.lr={lr}", f"trainer.monitor={monitor}", f"trainer.monitor_mode={mode}"]
        _fake_run(tmp_path / lr, overrides, acc)
    write_report([tmp_path])
    header, align, body = _markdown_table((tmp_path / "summary.md").read_text())
    scores = {lr: pd.read_csv(tmp_path / lr / "metrics.csv")[monitor] for lr in accs}
    best = (
        max(accs, key=lambda lr: scores[lr].max())
        if mode == "max"
        else min(accs, key=lambda lr: scores[lr].min())
    )
    marked = [row for row in body if row[header.index("best")] == "★"]
    assert len(marked) == 1 and float(marked[0][header.index("optimizer.lr")]) == float(best)
    numeric = [i for i, a in enumerate(align) if a.endswith(":") and not a.startswith(":")]
    assert {"optimizer.lr", "best_value", "final_val_acc", "wall_s", "n_params"} <= {
        header[i] for i in numeric
    }
    assert align[header.index("status")].startswith(":")
    for i in numeric:
        cells = [row[i] for row in body if row[i]]
        assert len({len(c.partition(".")[2]) for c in cells}) == 1, (header[i], cells)
        assert all(math.isfinite(float(c)) for c in cells)
    shown = dict(zip(header, marked[0], strict=True))
    assert float(shown["best_value"]) == pytest.approx(scores[best].agg(mode), abs=1e-3)


def test_report_over_two_sweeps_names_the_sweep_and_fills_every_varying_key(tmp_path, capsys):
    sweeps = {
        "a": [["model=mlp_bn", "optimizer.lr=0.01"], ["model=mlp_bn", "optimizer.lr=0.003"]],
        "b": [["trainer.batch_size=16"], ["trainer.batch_size=32"]],
    }
    for name, jobs in sweeps.items():
        for overrides in jobs:
            _fake_run(tmp_path / "sweeps" / name / ",".join(overrides), overrides, [0.4, 0.6])
    main([str(tmp_path / "sweeps" / "a"), str(tmp_path / "sweeps" / "b"), "--out", str(tmp_path / "out")])
    table = pd.read_csv(tmp_path / "out" / "summary.csv")
    keys = ["model", "optimizer.lr", "trainer.batch_size"]
    assert list(table.columns[:5]) == ["sweep", "run", *keys]
    assert list(table["sweep"]) == ["a", "a", "b", "b"]
    assert not table[keys].isna().any().any()
    assert table["optimizer.lr"].dtype.kind == "f" and table["trainer.batch_size"].dtype.kind == "i"
    for row in table.to_dict("records"):
        config = yaml.safe_load((Path(row["run_dir"]) / "config.yaml").read_text())
        assert row["optimizer.lr"] == config["optimizer"]["lr"]
        assert row["trainer.batch_size"] == config["trainer"]["batch_size"]
        assert row["model"] == config["model"]["name"]
        assert row["run"] == Path(row["run_dir"]).name
    header, _, body = _markdown_table((tmp_path / "out" / "summary.md").read_text())
    assert header[:2] == ["best", "sweep"] and all(row[header.index("model")] for row in body)


def test_run_column_is_tensorboards_run_name_for_a_sweep(tmp_path):
    """A real multirun: each job's `run` is what TensorBoard lists, the swept overrides in command-line
    order (the constant ones left out)."""
    sweep = tmp_path / "sweeps" / "s"
    train(tmp_path, "-m", "optimizer.lr=0.01,0.003", "model=lenet,mlp_bn", f"hydra.sweep.dir={sweep}")
    table = pd.read_csv(sweep / "summary.csv")
    events = EventMultiplexer().AddRunsFromDirectory(str(sweep))
    assert sorted(table["run"]) == sorted(set(events.Runs()) - {"."})
    for row in table.to_dict("records"):
        config = yaml.safe_load((Path(row["run_dir"]) / "config.yaml").read_text())
        assert row["run"] == f"optimizer.lr={config['optimizer']['lr']},model={config['model']['name']}"
        assert row["model"] == config["model"]["name"] and row["optimizer.lr"] == config["optimizer"]["lr"]


def test_the_report_does_not_import_torch():
    """`python -m cnnlab.report` is a table and a figure: it must not pay torch's import time."""
    code = "import sys, cnnlab.report; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_metrics_are_read_back_as_the_run_wrote_them(tmp_path):
    """Every reader of metrics.csv gets the floats the run wrote, to the last bit: pandas 2's default
    parser rounds some (0.12698579644097222 -> 0.1269857964409722), pandas 3's does not, and the
    committed figures must be the same bytes under both."""
    from cnnlab.api import Result
    from cnnlab.compare.collect import read_metrics

    written = [0.12698579644097222, 0.42992643229166666, 15.466666666666667, 0.061910709635416665]
    (tmp_path / "metrics.csv").write_text(
        "epoch,train_loss\n" + "".join(f"{i + 1},{v!r}\n" for i, v in enumerate(written))
    )
    (tmp_path / "summary.json").write_text(json.dumps({"status": "completed"}))
    assert read_metrics(tmp_path)["train_loss"].tolist() == written
    assert Result.read(tmp_path).metrics["train_loss"].tolist() == written
