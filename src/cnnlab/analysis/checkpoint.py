"""Rebuild a trained model from a run dir (checkpoints/last.pt, which holds the run's config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from torch import nn

from cnnlab.build import require_trusted_targets
from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.errors import ConfigError

# The config groups that analysis rebuilds from a run (optimisers and schedulers are never rebuilt).
REBUILT_GROUPS = ("model", "dataset", "augmentation", "loss")


@dataclass
class TrainedRun:
    """A run's model in eval mode, its composed config and the C x H x W it was trained on."""

    model: nn.Module
    cfg: DictConfig
    input_shape: tuple[int, int, int]
    epoch: int | None


def load_run(run_dir: str | Path, map_location: str = "cpu", checkpoint: str = "last") -> TrainedRun:
    """Loads a checkpoint of a training run so analysis tasks can look inside it. Both files are
    untrusted: the checkpoint loads weights-only and its model may name only cnnlab/torch.nn classes."""
    from cnnlab.models import build_model

    run_dir = Path(run_dir)
    checkpoint_path = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not checkpoint_path.exists():
        raise ConfigError(
            f"The run dir {str(run_dir)!r} is not a finished training run: {checkpoint_path} is missing. "
            "Give the run dir of `python -m cnnlab.train` (it holds checkpoints/), "
            "or run=null for a model with random weights."
        )
    state = load_checkpoint(checkpoint_path, map_location, required=("model", "config", "input_shape"))
    config = state.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ConfigError(
            f"{checkpoint_path} holds no model config, so the net cannot be rebuilt: "
            "use a checkpoint written by `python -m cnnlab.train`."
        )
    for group in REBUILT_GROUPS:
        require_trusted_targets(config.get(group), str(checkpoint_path), group)
    cfg = OmegaConf.create(config)
    input_shape = tuple(int(v) for v in state["input_shape"])
    model = build_model(cfg.model, input_shape)
    model.load_state_dict(state["model"])
    model.eval()
    return TrainedRun(model, cfg, input_shape, state.get("epoch"))
