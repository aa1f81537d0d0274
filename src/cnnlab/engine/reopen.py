"""Reopen a trained run from its run dir, one way for everyone: evaluation, export, the lab exercises,
analysis and `cnnlab.load_run`. Both files are untrusted: the checkpoint loads weights-only, and the
config it is rebuilt from may name only cnnlab and torch targets, plus the prefixes a user trusts on
purpose (`trusted_targets`, $CNNLAB_TRUSTED_TARGETS)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from cnnlab.config.build import build, require_trusted_targets, trusted_prefixes
from cnnlab.engine.checkpoint import CHECKPOINTS, load_checkpoint
from cnnlab.engine.inference import INFERENCE_KEY, Prediction, RawImageModel, predict
from cnnlab.errors import CheckpointError, ConfigError, quoted
from cnnlab.rundir.files import RESOLVED_CONFIG, read_resolved_config

if TYPE_CHECKING:
    from cnnlab.data.datamodule import DataModule

# The config groups a run is rebuilt from (optimisers and schedulers are never rebuilt).
REBUILT_GROUPS = ("model", "dataset", "augmentation", "loss")
# The weights a run ended with: best.pt when early stopping restored its best epoch, else last.pt.
FINAL = "final"


@dataclass
class TrainedRun:
    """A run's model in eval mode, its composed config and the C x H x W it was trained on; with its data
    (loaders built as in training, on `device`) when it was opened with_data."""

    model: nn.Module
    cfg: DictConfig
    input_shape: tuple[int, int, int]
    epoch: int | None
    # What inference needs (engine/inference.py's inference_record); None in checkpoints older than it.
    inference: dict[str, Any] | None = None
    data: DataModule | None = None
    device: torch.device = torch.device("cpu")
    amp: bool = False

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


def open_run(
    run_dir: str | Path,
    checkpoint: str = FINAL,
    *,
    with_data: bool = False,
    device: str = "cpu",
    trusted_targets: Iterable[str] | str | None = None,
    paths: Any = None,
    needs_classes: str | None = None,
) -> TrainedRun:
    """The run in run_dir with the weights of checkpoints/<checkpoint>.pt: last, best, or final, the
    weights the run ended with (its best epoch's when early stopping restored them, as its summary's
    final scores are).

    Without data the net is rebuilt from the config the checkpoint holds, on the CPU (`device` is where
    the weights are mapped). with_data rebuilds it from the run dir's config.yaml, as training built it,
    with its loaders on `device` (auto, cpu, cuda, ...); `paths` replaces the run's paths (the data
    cache of the one asking). `needs_classes` says who needs a classifier; another task is a ConfigError.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(
            f"run={str(run_dir)!r} is not a directory. Give the run dir of a training run, the folder "
            "holding its config.yaml and checkpoints/ "
            "(e.g. run=outputs/sweeps/demo/optimizer.lr=0.003,model=lenet)."
        )
    config_path = run_dir / RESOLVED_CONFIG
    if with_data and not config_path.is_file():
        raise ConfigError(
            f"run={str(run_dir)!r} has no {RESOLVED_CONFIG}, so the run cannot be rebuilt: it is not the run "
            "dir of `python -m cnnlab.train` (or it was written by a cnnlab older than config.yaml). "
            "Give a run dir that holds config.yaml and checkpoints/."
        )
    checkpoint_path = _checkpoint_path(run_dir, checkpoint)
    if with_data:
        config = read_resolved_config(run_dir, required=(*REBUILT_GROUPS, "trainer", "paths"))
        state: dict[str, Any] | None = None
    else:
        config_path = checkpoint_path
        state = load_checkpoint(checkpoint_path, device, required=("model", "config", "input_shape"))
        config = state.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
            raise ConfigError(
                f"{checkpoint_path} holds no model config, so the net cannot be rebuilt: "
                "use a checkpoint written by `python -m cnnlab.train`."
            )
    trusted = trusted_prefixes(trusted_targets)
    for group in REBUILT_GROUPS:
        require_trusted_targets(config.get(group), str(config_path), group, trusted)
    cfg = OmegaConf.create(config)
    if checkpoint == FINAL and _restored_best(cfg) and (run_dir / "checkpoints" / "best.pt").is_file():
        return open_run(
            run_dir,
            "best",
            with_data=with_data,
            device=device,
            trusted_targets=trusted_targets,
            paths=paths,
            needs_classes=needs_classes,
        )
    if needs_classes:
        _require_classes(cfg, run_dir, needs_classes)
    if paths is not None:
        cfg = OmegaConf.merge(cfg, {"paths": paths})
    try:
        if with_data:
            trained = _with_data(cfg, device)
            state = load_checkpoint(checkpoint_path, trained.device)
        else:
            assert state is not None
            trained = _model_only(cfg, state)
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"{config_path} lacks a key the run is rebuilt from ({quoted(error)}): it is damaged or "
            "from another program. Put the run's own config.yaml back, or use another run dir."
        ) from None
    try:
        trained.model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(
            f"{checkpoint_path} does not hold weights for the model {config_path} builds "
            f"({type(error).__name__}: {str(error).splitlines()[0]}): the two come from different runs. "
            "Put the run dir's own checkpoint back, or use the run dir that wrote this checkpoint."
        ) from None
    trained.model.eval()
    trained.epoch = state.get("epoch")
    trained.inference = state.get(INFERENCE_KEY, trained.inference)
    return trained


def load_run(
    run_dir: str | Path,
    map_location: str = "cpu",
    checkpoint: str = FINAL,
    trusted_targets: Iterable[str] | str | None = None,
) -> TrainedRun:
    """`cnnlab.load_run`: open_run without data, the trained net to look inside or predict with."""
    return open_run(run_dir, checkpoint, device=map_location, trusted_targets=trusted_targets)


def _checkpoint_path(run_dir: Path, checkpoint: str) -> Path:
    if checkpoint not in (*CHECKPOINTS, FINAL):
        raise ConfigError(
            f"checkpoint={checkpoint!r} is not a checkpoint name; use one of {[*CHECKPOINTS, FINAL]}."
        )
    path = run_dir / "checkpoints" / f"{'last' if checkpoint == FINAL else checkpoint}.pt"
    if path.exists():
        return path
    present = sorted(p.stem for p in (run_dir / "checkpoints").glob("*.pt") if p.is_file())
    if not present:
        raise ConfigError(
            f"The run dir {str(run_dir)!r} is not a finished training run: {path} is missing. "
            "Give the run dir of `python -m cnnlab.train` (it holds checkpoints/), "
            "or run=null for a model with random weights (lab exercises)."
        )
    raise CheckpointError(
        f"checkpoint={checkpoint}: {path} does not exist; this run has "
        f"{', '.join(f'checkpoint={name}' for name in present)}. "
        "best.pt is written whenever trainer.monitor improves (runs older than best.pt, or whose "
        "monitored metric was never measured, have none); pick one that exists."
    )


def _require_classes(cfg: DictConfig, run_dir: Path, needs_classes: str) -> None:
    from cnnlab.engine.tasks import TASKS

    task = OmegaConf.select(cfg, "dataset.task")
    if task not in TASKS or not TASKS[task].has_classes:
        raise ConfigError(
            f"run={str(run_dir)!r} is a {task} run (dataset.task={task}, e.g. deblurring), and "
            f"{needs_classes}"
        )


def _with_data(cfg: DictConfig, device: str) -> TrainedRun:
    from cnnlab.engine.device import resolve_device
    from cnnlab.engine.run import build_run_model

    cfg.trainer.device = device
    run = build_run_model(cfg, resolve_device(device, key="device"))
    return TrainedRun(
        run.model, cfg, run.data.input_shape, None, data=run.data, device=run.device, amp=run.amp
    )


def _model_only(cfg: DictConfig, state: dict[str, Any]) -> TrainedRun:
    from cnnlab.models import build_model

    input_shape = tuple(int(v) for v in state["input_shape"])
    return TrainedRun(build_model(cfg.model, input_shape), cfg, input_shape, None)


def _restored_best(cfg: DictConfig) -> bool:
    """Whether the run ended on its best epoch's weights (trainer.early_stopping.restore_best)."""
    stopping = OmegaConf.select(cfg, "trainer.early_stopping") or {}
    return bool(stopping.get("enabled") and stopping.get("restore_best"))
