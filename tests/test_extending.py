"""Adding a model or a data set is a YAML file in conf/: no Python list anywhere needs an edit.

The test copies conf/ to a temporary dir, adds conf/model/tiny_vgg.yaml (an existing family, other
widths) and conf/dataset/digits16.yaml (an existing source at another size and split), composes
them by name as the command line would, and trains.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.train import run
from tests.conftest import CONF_DIR, scored_by_hand

TINY_VGG = """\
name: tiny_vgg
_target_: cnnlab.models.vgg.VGGBlocks
in_channels: ${dataset.channels}
num_classes: ${dataset.num_classes}
blocks: [[8], [16]]
hidden: [32]
"""

DIGITS16 = """\
defaults:
  - /dataset_base@_here_
  - _self_

name: digits16
channels: 1
image_size: 16
num_classes: 10
val_fraction: 0.2
source:
  _target_: cnnlab.data.digits.DigitsSource
  size: ${dataset.image_size}
  test_fraction: 0.25
  seed: ${dataset.split_seed}
"""


def test_a_new_model_and_a_new_data_set_train_from_their_yaml_alone(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "model" / "tiny_vgg.yaml").write_text(TINY_VGG)
    (conf / "dataset" / "digits16.yaml").write_text(DIGITS16)
    overrides = ["model=tiny_vgg", "dataset=digits16", "trainer.epochs=2"]
    paths = [f"paths.data_root={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'outputs'}"]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides + paths)
    assert cfg.name == "digits16-tiny_vgg" and cfg.trainer.monitor == "val_acc"

    run(cfg, run_dir=tmp_path / "run", overrides=overrides)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert summary["status"] == "completed" and summary["input_shape"] == [1, 16, 16]
    # conv 1->8 (80), pool to 8x8, conv 8->16 (1,168), pool to 4x4, fc 256->32 (8,224), fc 32->10 (330).
    assert summary["n_params"] == 80 + 1_168 + 8_224 + 330
    # 1,797 digits: a quarter is the test split, a fifth of the rest validation.
    n_train_val = 1_797 - round(1_797 * 0.25)
    assert round(metrics["images_per_s"].iloc[0] * metrics["epoch_s"].iloc[0]) == n_train_val - round(
        n_train_val * 0.2
    )
    assert list(metrics["epoch"]) == [1, 2]
    # The user's model class is what last.pt holds: its weights re-scored here give the test accuracy.
    weights = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["model"]
    test_loss, test_acc = scored_by_hand(cfg, weights, "test")
    assert test_acc == pytest.approx(metrics["test_acc"].iloc[-1], abs=1e-9)
    assert test_loss == pytest.approx(metrics["test_loss"].iloc[-1], rel=1e-4)
