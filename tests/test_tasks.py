"""The task object behind `dataset.task`: the config's metric keys come from it, and so do the
targets a batch carries and the check that regression data is not augmented."""

from __future__ import annotations

import pytest
import torch

from cnnlab.data.datamodule import build_data
from cnnlab.engine.tasks import TASKS, Classification, ImageRegression
from cnnlab.engine.validate import validate
from cnnlab.errors import ConfigError
from tests.conftest import options

DATASETS = options("dataset")


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_data_sets_metric_keys_are_its_tasks(make_cfg, dataset):
    ds = make_cfg(f"dataset={dataset}").dataset
    task = TASKS[ds.task]
    assert (ds.metric, ds.metric_mode) == (task.metric, task.mode)


def test_changing_the_task_changes_the_metric_and_the_monitor(make_cfg):
    cfg = make_cfg("dataset.task=regression")
    assert (cfg.dataset.metric, cfg.trainer.monitor) == ("psnr", "val_psnr")
    assert make_cfg().trainer.monitor == "val_acc"


def test_a_name_that_is_no_task_is_reported_by_validation(make_cfg):
    with pytest.raises(ConfigError, match="dataset.task='ranking'"):
        validate(make_cfg("dataset.task=ranking"))


def test_scores_match_a_hand_count_and_the_psnr_formula():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0]])
    assert Classification().score(logits, torch.tensor([0, 1, 1])).item() == 2
    target = torch.zeros(2, 1, 2, 2)
    output = torch.full((2, 1, 2, 2), 0.1)
    # MSE 0.01 per image -> 20 dB each, summed over the batch.
    assert ImageRegression().score(output, target).item() == pytest.approx(40.0, rel=1e-5)


def test_batches_carry_the_targets_the_task_asks_for(make_cfg):
    labels = next(iter(build_data(make_cfg(), torch.device("cpu")).train))[1]
    assert labels.dtype == torch.int64
    source = ["dataset.source.n_train=16", "dataset.source.n_val=8", "dataset.source.workers=1"]
    data = build_data(make_cfg("dataset=textblur", "model=deblur", *source), torch.device("cpu"))
    images = next(iter(data.train))[1]
    assert images.dtype == torch.float32 and images.shape[1:] == (1, 64, 64)
    assert images.min() >= 0 and images.max() <= 1 and images.max() > 0.9
