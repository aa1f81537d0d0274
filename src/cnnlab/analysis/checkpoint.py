"""Rebuild a trained model from a run dir (.hydra/config.yaml + checkpoints/last.pt)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from cnnlab.errors import ConfigError


@dataclass
class TrainedRun:
    """A run's model in eval mode, its composed config and the C x H x W it was trained on."""

    model: nn.Module
    cfg: DictConfig
    input_shape: tuple[int, int, int]
    epoch: int | None


def load_run(run_dir: str | Path, map_location: str = "cpu") -> TrainedRun:
    """Loads the last checkpoint of a training run so analysis tasks can look inside it."""
    from cnnlab.models import build_model

    run_dir = Path(run_dir)
    config_path, checkpoint_path = (
        run_dir / ".hydra" / "config.yaml",
        run_dir / "checkpoints" / "last.pt",
    )
    for path in (config_path, checkpoint_path):
        if not path.is_file():
            raise ConfigError(
                f"task.run={str(run_dir)!r} is not a finished training run: {path} is missing. "
                "Give the run dir of `python -m cnnlab.train` (it holds .hydra/ and checkpoints/), "
                "or run=null for a model with random weights."
            )
    cfg = OmegaConf.load(config_path)
    state = torch.load(checkpoint_path, map_location=map_location, weights_only=False)
    input_shape = tuple(int(v) for v in state["input_shape"])
    model = build_model(cfg.model, input_shape)
    model.load_state_dict(state["model"])
    model.eval()
    return TrainedRun(model, cfg, input_shape, state.get("epoch"))
