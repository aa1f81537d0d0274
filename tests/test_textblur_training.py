"""Regression training through the same entry point: loss falls, PSNR beats the blurred input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnlab.data.textblur import TextBlurSource
from cnnlab.engine.regression import psnr
from cnnlab.train import run

SOURCE = ["dataset.source.n_train=128", "dataset.source.n_val=32", "dataset.source.workers=1"]


def test_dataset_textblur_selects_l2_loss_and_monitors_the_lab_validation_set(make_cfg):
    cfg = make_cfg("dataset=textblur", "model=deblur")
    assert cfg.loss._target_ == "torch.nn.MSELoss"
    assert cfg.trainer.monitor == "test_psnr"
    assert make_cfg("dataset=textblur", "model=deblur", "loss=huber").loss._target_ == "torch.nn.HuberLoss"
    assert make_cfg("dataset=digits").loss._target_ == "torch.nn.CrossEntropyLoss"
    assert make_cfg("dataset=digits").trainer.monitor == "val_acc"


def test_presets_compose(make_cfg):
    for batch_size in (16, 64):
        cfg = make_cfg(f"experiment=dd2427/t16_bs{batch_size}")
        assert cfg.trainer.batch_size == batch_size and cfg.trainer.epochs == 16
        assert cfg.model.name == "deblur" and cfg.dataset.name == "textblur"


def test_short_run_logs_psnr_and_image_grids(make_cfg, tmp_path):
    cfg = make_cfg("experiment=dd2427/t16_bs16", *SOURCE, "trainer.epochs=2", "optimizer.lr=0.003")
    run_dir = tmp_path / "run"
    value = run(cfg, run_dir=run_dir)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert metrics["test_loss"].iloc[-1] < metrics["test_loss"].iloc[0]
    assert value == metrics["test_psnr"].max()
    assert {"train_psnr", "test_psnr"} <= set(metrics.columns)
    for split in ("train", "test"):
        with Image.open(run_dir / f"images_{split}.png") as grid:
            assert grid.size == (8 * 66 + 2, 3 * 66 + 2)
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    events.Reload()
    for split in ("train", "test"):  # each epoch's grid at that epoch's step, as its scalars are
        assert [image.step for image in events.Images(f"{split}/input_output_target")] == [1, 2]


@pytest.mark.slow
def test_training_deblurs_better_than_the_input(make_cfg, tmp_path):
    """About 10 s on two idle cores; slow on a loaded machine."""
    source = ["dataset.source.n_train=384", "dataset.source.n_val=64", "dataset.source.workers=1"]
    cfg = make_cfg("experiment=dd2427/t16_bs16", *source, "trainer.epochs=3", "optimizer.lr=0.003")
    run(cfg, run_dir=tmp_path / "run")
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    val = TextBlurSource(n_train=384, n_val=64, workers=1).load("test")
    blurred_psnr = psnr(val.x.float() / 255, val.y.float() / 255).item()
    assert metrics["test_psnr"].iloc[-1] > blurred_psnr + 0.3
