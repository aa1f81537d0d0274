"""A user's own model, trusted on purpose: a run of a model from outside cnnlab trains, and evaluate,
load_run, export and the lab tasks take it once its prefix is on the allow-list (an argument or
$CNNLAB_TRUSTED_TARGETS), while the default stays closed with a message that names the allow-list."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from cnnlab.config.build import TRUST_ENV, is_trusted, trusted_prefixes
from cnnlab.engine.reopen import load_run
from cnnlab.errors import ConfigError
from cnnlab.evaluate import evaluate_run
from cnnlab.lab import run_task
from cnnlab.train import run
from tests.conftest import CONF_DIR

MODULE = "cnnlab_user_models"
USER_MODEL = '''
"""A model of the user's own, outside cnnlab: a conv, a pooling and a linear layer."""
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x):
        return self.net(x)
'''
TINY = ["trainer.epochs=1", "trainer.limit_batches=3", "trainer.device=cpu"]
USER = [f"model._target_={MODULE}.TinyNet", "~model.padding", "model.name=tiny"]


@pytest.fixture(scope="module")
def user_package(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("userpkg")
    (folder / f"{MODULE}.py").write_text(USER_MODEL)
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def user_run(user_package, tmp_path_factory) -> Path:
    """A run of the user's model on the digits, trained through cnnlab's own entry function."""
    tmp = tmp_path_factory.mktemp("userrun")
    paths = [f"paths.data_root={tmp / 'data'}", f"paths.cache_dir={tmp / 'cache'}", f"paths.output_dir={tmp}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*paths, *TINY, *USER])
    run(cfg, run_dir=tmp / "run", overrides=[*TINY, *USER])
    return tmp / "run"


@pytest.fixture(autouse=True)
def no_trust_from_the_environment(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def test_the_default_stays_closed_and_the_refusal_names_the_allow_list(user_run):
    with pytest.raises(ConfigError) as refused:
        evaluate_run(user_run)
    message = str(refused.value)
    assert f"'{MODULE}.TinyNet'" in message and "allow-list" in message
    assert f"trusted_targets=[{MODULE}.]" in message and f"{TRUST_ENV}={MODULE}." in message
    assert "written by" not in message  # it was written by cnnlab.train: the message must not say otherwise
    with pytest.raises(ConfigError, match="allow-list"):
        load_run(user_run)


def test_an_allowed_prefix_lets_evaluate_load_and_predict_with_the_users_model(user_run):
    result = evaluate_run(user_run, trusted_targets=[f"{MODULE}."])
    summary = json.loads((user_run / "summary.json").read_text())
    assert result["images"] == summary["images"]["test"] == 359
    assert result["accuracy"] == pytest.approx(summary["final"]["test_acc"])

    trained = load_run(user_run, trusted_targets=f"{MODULE}.")
    assert type(trained.model).__module__ == MODULE
    state = torch.load(user_run / "checkpoints" / "last.pt", weights_only=True)
    for key, value in state["model"].items():
        assert torch.equal(trained.model.state_dict()[key], value)


def test_the_environment_variable_is_an_allow_list_too(user_run, monkeypatch):
    monkeypatch.setenv(TRUST_ENV, f"torchvision.models., {MODULE}.TinyNet")
    assert type(load_run(user_run).model).__name__ == "TinyNet"


def test_a_lab_task_takes_the_users_run_when_allowed(user_run, tmp_path):
    overrides = [
        f"output_dir={tmp_path / 'lab'}",
        f"paths.cache_dir={user_run.parent / 'cache'}",
        "task=flip_test",
        f"task.run={user_run}",
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        closed = compose("lab", overrides=overrides)
        allowed = compose("lab", overrides=[*overrides, f"trusted_targets=[{MODULE}.]"])
    with pytest.raises(ConfigError, match="allow-list"):
        run_task(closed)
    result = run_task(allowed)
    assert result["test_images"] == 359
    summary = json.loads((user_run / "summary.json").read_text())
    assert result["test_acc"] == pytest.approx(summary["final"]["test_acc"])


def test_prefixes_match_whole_module_paths_and_bad_ones_are_refused():
    assert is_trusted("torchvision.models.resnet18", ["torchvision.models."])
    assert is_trusted("mypkg.Net", ["mypkg"]) and is_trusted("mypkg.Net", ["mypkg.Net"])
    assert not is_trusted("torchvision.models.resnet18", ["torch."])  # torch. never covers torchvision
    assert not is_trusted("mypkg2.Net", ["mypkg"])
    assert trusted_prefixes(["a.b."])[:2] == ("cnnlab.", "torch.nn.")
    for bad in (".", "my pkg.", "1abc."):
        with pytest.raises(ConfigError, match=f"{bad!r} .* not a dotted module path"):
            trusted_prefixes([bad])


def test_evaluate_from_the_shell_refuses_then_accepts_through_the_environment(user_run, user_package):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(user_package), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "cnnlab.evaluate", f"run={user_run}", "device=cpu"]
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr and TRUST_ENV in refused.stderr
    env[TRUST_ENV] = f"{MODULE}."
    accepted = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert accepted.returncode == 0, accepted.stderr
    assert "accuracy" in accepted.stdout
