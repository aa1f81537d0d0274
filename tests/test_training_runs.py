"""`python -m cnnlab.train model=M dataset=D` works for every model on every image data set,
read from the real on-disk formats (IDX files, image folders) that the tests write."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.train import run
from tests.conftest import composed, fake_image_folder, fake_mnist, options, scored_by_hand

# Every model in conf/model/ that maps images to class scores (its config takes num_classes).
MODELS = [model for model in options("model") if "num_classes" in composed(f"model={model}").model]
# Every classification data set in conf/dataset/ whose images have one size (variable-resolution
# data trains only fully convolutional nets: tests/test_varres.py).
DATASETS = [
    name
    for name in options("dataset")
    if (ds := composed(f"dataset={name}").dataset).task == "classification" and ds.image_size is not None
]


def _dataset_overrides(name: str, tmp_path) -> list[str]:
    """The data set, with small data of its source's on-disk format written under tmp_path."""
    source = composed(f"dataset={name}").dataset.source
    kind = source._target_.rsplit(".", 1)[-1]
    if kind == "DigitsSource":  # ships with scikit-learn
        return [f"dataset={name}"]
    if kind == "TorchvisionSource" and source.dataset in ("MNIST", "FashionMNIST"):
        fake_mnist(tmp_path / "data", folder=source.dataset, gz=source.dataset == "FashionMNIST")
        return [f"dataset={name}"]
    if kind == "TorchvisionSource" and source.dataset == "CIFAR10":
        fake_image_folder(tmp_path / "cifar")
        return [f"dataset={name}", f"dataset.image_folder={tmp_path / 'cifar'}"]
    pytest.fail(f"dataset={name}: write test data for its source ({source._target_}) here")


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_on_every_dataset(make_cfg, tmp_path, model, dataset):
    overrides = _dataset_overrides(dataset, tmp_path)
    cfg = make_cfg(
        f"model={model}", *overrides, "trainer.epochs=1", "trainer.limit_batches=2", "trainer.batch_size=8"
    )
    run_dir = tmp_path / "run"
    value = run(cfg, run_dir=run_dir, overrides=[f"model={model}", f"dataset={dataset}"])
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert summary["status"] == "completed"
    assert list(metrics["epoch"]) == [1]
    assert value == pytest.approx(metrics["val_acc"].iloc[0])
    # The recorded test metrics are last.pt's weights on the test split, re-scored here by hand.
    state = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert state["epoch"] == 1
    test_loss, test_acc = scored_by_hand(cfg, state["model"], "test")
    assert test_acc == pytest.approx(metrics["test_acc"].iloc[0], abs=1e-9)
    assert test_loss == pytest.approx(metrics["test_loss"].iloc[0], rel=1e-4)


def test_default_experiment_learns_the_embedded_digits(make_cfg, tmp_path):
    cfg = make_cfg("experiment=quickstart", "trainer.epochs=8")
    run(cfg, run_dir=tmp_path / "run")
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert metrics["test_acc"].iloc[-1] > 0.9
    assert metrics["train_loss"].iloc[-1] < metrics["train_loss"].iloc[0]
