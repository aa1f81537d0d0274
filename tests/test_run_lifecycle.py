"""Runs resume exactly, survive Ctrl-C, stop cleanly on divergence, and log what TensorBoard reads."""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.engine.interrupts import sigint_deferred
from cnnlab.train import run
from tests.conftest import scored_by_hand

ROOT = Path(__file__).resolve().parents[1]
DETERMINISTIC = [
    "trainer.deterministic=true",
    "trainer.device=cpu",
    "augmentation=rotate_affine",
    "scheduler=exponential",
    "model=mlp_bn",
    "model.dropout=0.5",
    "trainer.batch_size=128",
]
TIMING = ["epoch_s", "images_per_s"]


def test_resumed_run_ends_with_the_same_metrics_as_an_uninterrupted_one(make_cfg, tmp_path):
    run(make_cfg(*DETERMINISTIC, "trainer.epochs=3"), run_dir=tmp_path / "straight")
    run(make_cfg(*DETERMINISTIC, "trainer.epochs=2"), run_dir=tmp_path / "resumed")
    run(make_cfg(*DETERMINISTIC, "trainer.epochs=3", "trainer.resume=true"), run_dir=tmp_path / "resumed")
    straight = pd.read_csv(tmp_path / "straight" / "metrics.csv").drop(columns=TIMING)
    resumed = pd.read_csv(tmp_path / "resumed" / "metrics.csv").drop(columns=TIMING)
    assert list(resumed["epoch"]) == [1, 2, 3]
    pd.testing.assert_frame_equal(straight, resumed, check_exact=True)
    summary = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 3


def test_ctrl_c_leaves_a_loadable_checkpoint_and_status_interrupted(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        "trainer.epochs=10000",
        f"hydra.run.dir={run_dir}",
        f"paths.data_root={tmp_path / 'data'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
    ]
    # A shell that started pytest in the background ignores SIGINT, and children inherit that.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    metrics = run_dir / "metrics.csv"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (
            metrics.exists() and len(metrics.read_text().splitlines()) > 2
        ):
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        process.kill()
    assert process.returncode == 130, output
    assert "Traceback" not in output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["epoch"] >= 2 and state["epoch"] == summary["epochs_completed"]
    assert set(state) >= {"model", "optimizer", "scheduler", "rng", "epoch"}
    assert "trainer.resume=true" in output


def test_a_ctrl_c_inside_the_end_of_epoch_writes_arrives_after_them():
    # As in a foreground Python process (pytest started in the background inherits SIGINT ignored).
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = []
    try:
        with pytest.raises(KeyboardInterrupt), sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the signal is handled by now; the block must still run on
            finished.append(True)
        assert finished == [True]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)


def test_a_diverging_run_stops_with_status_diverged(make_cfg, tmp_path):
    cfg = make_cfg("optimizer=sgd", "optimizer.lr=1e8", "trainer.epochs=3", "trainer.log_every_n_steps=1")
    value = run(cfg, run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert "it is 1e+08: try optimizer.lr=5e+07" in summary["message"]
    assert math.isnan(value)


def test_tensorboard_reader_finds_the_scalars_and_the_hparams(make_cfg, tmp_path):
    cfg = make_cfg("trainer.epochs=2", "optimizer.lr=0.002")
    run(cfg, run_dir=tmp_path / "run", overrides=["optimizer.lr=0.002"])
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    splits = {f"{s}/{m}" for s in ("train", "val", "test") for m in ("loss", "acc")}
    assert scalars == splits | {"opt/lr", "perf/epoch_s", "perf/images_per_s", "best/val_acc"}
    assert [e.step for e in events.Scalars("val/acc")] == [1, 2]
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert events.Scalars("test/acc")[-1].value == pytest.approx(metrics["test_acc"].iloc[-1])
    assert events.Scalars("opt/lr")[0].value == pytest.approx(0.002)
    (best,) = events.Scalars("best/val_acc")
    assert (best.step, best.value) == (
        metrics["val_acc"].idxmax() + 1,
        pytest.approx(metrics["val_acc"].max()),
    )
    content = events.PluginTagToContent("hparams")
    # Sessions only: the experiment (which keys and metrics) is the sweep's, written at its root.
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["optimizer.lr"].number_value == pytest.approx(0.002)
    assert hparams["trainer.batch_size"].number_value == cfg.trainer.batch_size
    assert hparams["model.name"].string_value == "lenet"
    assert hparams["dataset.name"].string_value == cfg.dataset.name
    assert not {"lr", "model", "paths.output_dir", "trainer.device"} & set(hparams)
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
    assert end.session_end_info.status == api_pb2.STATUS_SUCCESS


def test_a_run_afresh_in_a_used_dir_shows_only_its_own_curves(make_cfg, tmp_path):
    """`make run` twice trains into the same dir: TensorBoard then reads this run's events alone."""
    for lr in ("0.002", "0.0005"):
        run(
            make_cfg("trainer.epochs=1", "trainer.limit_batches=2", f"optimizer.lr={lr}"),
            run_dir=tmp_path / "run",
        )
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [
        (1, pytest.approx(metrics["train_loss"].iloc[0]))
    ]
    assert [e.value for e in events.Scalars("opt/lr")] == [pytest.approx(0.0005)]


def test_resume_without_a_checkpoint_starts_afresh_and_says_how_to_name_the_run(make_cfg, tmp_path, caplog):
    """The usual slip: trainer.resume=true without hydra.run.dir=<the old run> gets a new, empty dir."""
    with caplog.at_level(logging.INFO, logger="cnnlab.engine.fit"):
        run(
            make_cfg("trainer.resume=true", "trainer.epochs=1", "trainer.limit_batches=2"),
            run_dir=tmp_path / "new",
        )
    assert f"{tmp_path / 'new'} has no checkpoints/last.pt: starting afresh" in caplog.text
    assert "hydra.run.dir=<run dir> trainer.resume=true" in caplog.text
    assert list(pd.read_csv(tmp_path / "new" / "metrics.csv")["epoch"]) == [1]


def test_checkpoint_holds_the_trained_weights(make_cfg, tmp_path):
    """last.pt's weights are not the seed's initial ones, and re-scored here (F.cross_entropy, an argmax
    count) they give the last epoch's test loss and accuracy in metrics.csv."""
    from cnnlab.engine.run import build_run_model

    cfg = make_cfg("trainer.epochs=1", "trainer.device=cpu", "trainer.evaluate_at_end=false")
    run(cfg, run_dir=tmp_path / "run")
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["epoch"] == 1 and state["input_shape"] == [1, 28, 28]
    initial = build_run_model(cfg, torch.device("cpu")).model.state_dict()
    assert state["model"].keys() == initial.keys()
    assert not any(torch.equal(state["model"][k], initial[k]) for k in initial if k.endswith("weight"))
    test_loss, test_acc = scored_by_hand(cfg, state["model"], "test")
    last = pd.read_csv(tmp_path / "run" / "metrics.csv").iloc[-1]
    assert test_loss == pytest.approx(last["test_loss"], rel=1e-4)
    assert test_acc == pytest.approx(last["test_acc"], abs=1e-9)
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path / "run" / "checkpoints"))


def test_metrics_before_any_step_are_the_untrained_nets_and_survive_a_resume(make_cfg, tmp_path):
    """rdfia q17's error at the start: the untrained net's loss, recomputed here with
    torch.nn.functional on the same seed's net, and still in summary.json after a resume."""
    import torch.nn.functional as F

    from cnnlab.engine.run import build_run

    overrides = ["trainer.eval_at_start=true", "trainer.device=cpu", "trainer.limit_batches=2"]
    run(make_cfg(*overrides, "trainer.epochs=1"), run_dir=tmp_path / "run")
    initial = json.loads((tmp_path / "run" / "summary.json").read_text())["initial"]

    fresh = build_run(make_cfg(*overrides, "trainer.epochs=1"), torch.device("cpu"))
    fresh.model.eval()
    with torch.no_grad():
        batches = list(fresh.data.test)
        logits = torch.cat([fresh.model(x) for x, _ in batches])
        labels = torch.cat([y for _, y in batches])
    assert initial["test_loss"] == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-5)
    assert initial["test_acc"] == pytest.approx((logits.argmax(1) == labels).float().mean().item())

    run(make_cfg(*overrides, "trainer.epochs=2", "trainer.resume=true"), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_completed"] == 2 and summary["initial"] == initial
