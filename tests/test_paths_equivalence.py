"""The tensor path is a faster route to the same training: with augmentation off, the same seed
and the same order, it and the classic DataLoader path give the same loss curve."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from cnnlab.data.datamodule import build_data
from cnnlab.train import run
from tests.conftest import fake_mnist

CURVE = ["train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"]


@pytest.mark.parametrize("chunk", [0, 1024])
def test_tensor_and_classic_paths_give_the_same_loss_curve(make_cfg, tmp_path, chunk):
    fake_mnist(tmp_path / "data", n_train=120, n_test=40)
    curves = {}
    for loader in ("tensor", "torch"):
        cfg = make_cfg(
            "dataset=mnist",
            "model=lenet",
            "augmentation=none",
            f"dataset.loader={loader}",
            "trainer.epochs=3",
            "trainer.batch_size=16",
            "trainer.eval_batch_size=32",
            f"trainer.prepare_chunk={chunk}",
            "trainer.seed=3",
            # Bit-equal curves need one memory format on both paths: NHWC kernels depend on how a
            # batch's strides came about, and the two paths build their batches differently.
            "trainer.channels_last=false",
        )
        run(cfg, run_dir=tmp_path / loader, overrides=[])
        curves[loader] = pd.read_csv(tmp_path / loader / "metrics.csv")[CURVE]
    assert len(curves["tensor"]) == 3
    # The curve moves between epochs, so matching it is not matching a constant.
    assert curves["tensor"]["train_loss"].diff().abs().iloc[1:].min() > 1e-3
    pd.testing.assert_frame_equal(curves["tensor"], curves["torch"], rtol=1e-4, atol=1e-5)


def test_both_paths_yield_the_same_batches_in_the_same_order(make_cfg, tmp_path):
    fake_mnist(tmp_path / "data", n_train=100, n_test=20)
    batches = {}
    for loader in ("tensor", "torch"):
        cfg = make_cfg("dataset=mnist", f"dataset.loader={loader}", "trainer.batch_size=16", "trainer.seed=5")
        train = build_data(cfg, torch.device("cpu")).train
        train.set_epoch(2)
        batches[loader] = list(train)
    assert [len(y) for _, y in batches["tensor"]] == [16] * 5 + [10]
    for (xt, yt), (xc, yc) in zip(batches["tensor"], batches["torch"], strict=True):
        assert torch.equal(yt, yc)
        assert torch.equal(xt, xc)
