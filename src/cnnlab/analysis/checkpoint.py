"""Rebuild a trained model from a run dir (checkpoints/last.pt, which holds the run's config)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import nn

from cnnlab.build import build, require_trusted_targets, trusted_prefixes
from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.engine.inference import INFERENCE_KEY, Prediction, RawImageModel, predict
from cnnlab.errors import CheckpointError, ConfigError

# The config groups that analysis rebuilds from a run (optimisers and schedulers are never rebuilt).
REBUILT_GROUPS = ("model", "dataset", "augmentation", "loss")
FINAL = "final"


@dataclass
class TrainedRun:
    """A run's model in eval mode, its composed config and the C x H x W it was trained on."""

    model: nn.Module
    cfg: DictConfig
    input_shape: tuple[int, int, int]
    epoch: int | None
    # What inference needs (engine/inference.py's inference_record); None in checkpoints older than it.
    inference: dict[str, Any] | None = None

    def raw_model(self) -> RawImageModel:
        """The model behind the run's own eval-time preprocessing: raw images in, outputs out."""
        if self.inference is None:
            raise CheckpointError(
                "this checkpoint was written by a cnnlab older than the inference record (normalisation, "
                "class names, input shape), so its model cannot take raw images; retrain the run, or resume "
                "it for one more epoch (trainer.resume=true) to write a checkpoint that holds it."
            )
        return RawImageModel(self.model, self.inference, build(self.cfg.augmentation, key="augmentation"))

    def predict(self, images: Any, batch_size: int = 256) -> Prediction:
        """The model on `images`: uint8 (0-255) or float in [0, 1], N x C x H x W or one C x H x W image,
        as a tensor or a NumPy array; normalised as in training. Logits, probabilities, labels and class
        names for a classifier, output images for regression."""
        return predict(self.raw_model(), self.inference, images, batch_size)


def load_run(
    run_dir: str | Path,
    map_location: str = "cpu",
    checkpoint: str = FINAL,
    trusted_targets: Iterable[str] | str | None = None,
) -> TrainedRun:
    """Loads a checkpoint of a training run so analysis tasks can look inside it: `last`, `best`, or
    `final`, the weights the run ended with (its best epoch's when early stopping restored them, as its
    summary's final scores are). Both files are untrusted: the checkpoint loads weights-only and its model
    may name only cnnlab/torch.nn classes, plus the prefixes a user trusts on purpose (`trusted_targets`,
    $CNNLAB_TRUSTED_TARGETS)."""
    from cnnlab.models import build_model

    run_dir = Path(run_dir)
    checkpoint_path = run_dir / "checkpoints" / f"{'last' if checkpoint == FINAL else checkpoint}.pt"
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
    trusted = trusted_prefixes(trusted_targets)
    for group in REBUILT_GROUPS:
        require_trusted_targets(config.get(group), str(checkpoint_path), group, trusted)
    cfg = OmegaConf.create(config)
    if checkpoint == FINAL and _restored_best(cfg) and (run_dir / "checkpoints" / "best.pt").is_file():
        return load_run(run_dir, map_location, "best", trusted_targets)
    input_shape = tuple(int(v) for v in state["input_shape"])
    model = build_model(cfg.model, input_shape)
    model.load_state_dict(state["model"])
    model.eval()
    return TrainedRun(model, cfg, input_shape, state.get("epoch"), state.get(INFERENCE_KEY))


def _restored_best(cfg: DictConfig) -> bool:
    """Whether the run ended on its best epoch's weights (trainer.early_stopping.restore_best)."""
    stopping = OmegaConf.select(cfg, "trainer.early_stopping") or {}
    return bool(stopping.get("enabled") and stopping.get("restore_best"))
