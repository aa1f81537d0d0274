"""rdfia q23: flip_test scores a trained net on mirrored test images, checked against the same net on
a copy of the data set whose test images were mirrored on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from cnnlab.data.datamodule import build_data
from cnnlab.engine.reopen import load_run
from cnnlab.errors import ConfigError
from cnnlab.lab import run_task
from cnnlab.train import run
from tests.conftest import CONF_DIR, fake_mnist, write_idx


def _flip_test(tmp_path, data, *overrides: str) -> dict:
    paths = [f"paths.data_root={data}", f"paths.cache_dir={tmp_path / 'cache'}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(
            "lab", overrides=[f"output_dir={tmp_path / 'lab'}", *paths, "task=flip_test", *overrides]
        )
    return run_task(cfg)


def _raw(path, header: int, shape: tuple) -> np.ndarray:
    return np.frombuffer(path.read_bytes()[header:], dtype=np.uint8).reshape(shape)


def test_flip_test_equals_the_net_on_test_images_mirrored_on_disk(make_cfg, tmp_path):
    fake_mnist(tmp_path / "data")
    cfg = make_cfg("dataset=mnist", "trainer.epochs=2", "trainer.batch_size=16", "trainer.device=cpu")
    run(cfg, run_dir=tmp_path / "run")
    r = _flip_test(tmp_path, tmp_path / "data", f"task.run={tmp_path / 'run'}")

    raw = tmp_path / "data" / "MNIST" / "raw"
    images = _raw(raw / "t10k-images-idx3-ubyte", 16, (-1, 28, 28))
    labels = _raw(raw / "t10k-labels-idx1-ubyte", 8, (-1,))
    mirrored = tmp_path / "mirrored" / "MNIST" / "raw"
    mirrored.mkdir(parents=True)
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):  # the same train split: the same statistics
        (mirrored / f"train-{kind}").write_bytes((raw / f"train-{kind}").read_bytes())
    write_idx(mirrored, "t10k", np.ascontiguousarray(images[:, :, ::-1]), labels)

    trained = load_run(tmp_path / "run")
    trained.cfg.dataset.source.root = str(tmp_path / "mirrored")
    trained.cfg.paths.cache_dir = str(tmp_path / "mirrored_cache")
    with torch.no_grad():
        batches = list(build_data(trained.cfg, torch.device("cpu")).test)
        correct = sum(int((trained.model.eval()(x).argmax(1) == y).sum()) for x, y in batches)
    assert r["test_images"] == len(labels) == 32 and not r["trained_with_flip"]
    assert r["test_acc_mirrored"] == pytest.approx(correct / len(labels))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert r["test_acc"] == pytest.approx(summary["final"]["test_acc"])
    # the fake digits' class is where a bright square sits, so mirroring moves most of them elsewhere
    assert r["predictions_changed_by_mirroring"] > 0


def test_flip_test_needs_a_run(tmp_path):
    with pytest.raises(ConfigError, match=r"task.run=<run dir"):
        _flip_test(tmp_path, tmp_path / "data")
