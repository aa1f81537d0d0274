"""rdfia q30-q33: dropout_modes on a tiny trained net, against what dropout must do."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from torch import nn

from cnnlab.engine.reopen import load_run
from cnnlab.errors import ConfigError
from cnnlab.lab import run_task
from cnnlab.train import run
from tests.conftest import CONF_DIR, fake_mnist


def _lab(tmp_path, *overrides: str) -> dict:
    paths = [f"paths.data_root={tmp_path / 'data'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("lab", overrides=[f"output_dir={tmp_path / 'lab'}", *paths, *overrides])
    return run_task(cfg)


@pytest.fixture
def trained_run(make_cfg, tmp_path):
    fake_mnist(tmp_path / "data")
    net = ["model=alexnet_style", "model.widths=[4,4,4]", "model.hidden=64", "model.dropout=0.5"]
    cfg = make_cfg("dataset=mnist", *net, "trainer.epochs=1", "trainer.batch_size=16", "trainer.device=cpu")
    run(cfg, run_dir=tmp_path / "run")
    return tmp_path / "run"


def test_dropout_modes_on_a_trained_net(trained_run, tmp_path):
    r = _lab(
        tmp_path,
        "task=dropout_modes",
        f"task.run={trained_run}",
        "task.passes=3",
        "task.probabilities=[0.0,0.5,1.0]",
    )
    labels = torch.cat([y for _, y in _test_batches(trained_run, tmp_path)])
    assert r["test_images"] == len(labels) == 32 and r["dropout_p_trained"] == [0.5]

    train, evaluation = r["q33_train_mode_two_forwards"], r["q33_eval_mode_two_forwards"]
    assert train["max_abs_logit_difference"] > 0 and not train["identical"]
    assert 0.3 < train["fraction_of_active_units_zeroed"] < 0.7
    assert train["kept_units_scaled_by_1_over_1_minus_p_max_error"] < 1e-5
    assert evaluation["identical"] and evaluation["max_abs_logit_difference"] == 0
    assert evaluation["fraction_of_active_units_zeroed"] == 0

    # Eval mode equals the same net with its Dropout removed, computed here apart from the task.
    trained = load_run(trained_run)
    without = nn.Sequential(*[m for m in trained.model if not isinstance(m, nn.Dropout)]).eval()
    batches = _test_batches(trained_run, tmp_path)
    with torch.no_grad():
        logits = torch.cat([without(x) for x, _ in batches])
    assert r["q33_eval_mode_test_acc"] == pytest.approx(float((logits.argmax(1) == labels).float().mean()))
    assert len(r["q33_train_mode_test_acc_passes"]) == 3
    # p = 0 in train mode is eval mode; p = 1 zeroes fc4, so fc5 answers with its bias alone.
    by_p = r["q32_train_mode_test_acc_by_p"]
    assert by_p["0.0"] == {"mean": pytest.approx(r["q33_eval_mode_test_acc"]), "std": 0.0}
    bias_class = int(trained.model[-1].bias.argmax())
    assert by_p["1.0"]["mean"] == pytest.approx(float((labels == bias_class).float().mean()))
    assert "not a retraining" in r["q32_note"]


def _test_batches(run_dir, tmp_path):
    from omegaconf import OmegaConf

    from cnnlab.data.datamodule import build_data

    cfg = load_run(run_dir).cfg
    cfg = OmegaConf.merge(
        cfg, {"paths": {"data_root": str(tmp_path / "data"), "cache_dir": str(tmp_path / "cache")}}
    )
    return list(build_data(cfg, torch.device("cpu")).test)


def test_a_run_without_dropout_is_a_config_error(make_cfg, tmp_path):
    fake_mnist(tmp_path / "data")
    cfg = make_cfg("dataset=mnist", "model=lenet", "trainer.epochs=1", "trainer.device=cpu")
    run(cfg, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="no Dropout layer"):
        _lab(tmp_path, "task=dropout_modes", f"task.run={tmp_path / 'run'}")
    with pytest.raises(ConfigError, match="needs task.run"):
        _lab(tmp_path, "task=dropout_modes")
