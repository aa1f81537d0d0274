"""Evaluation entry point: `python -m cnnlab.evaluate run=<run dir> [split=test] [checkpoint=last|best]`.

Hydra composes conf/evaluate.yaml; `evaluate_run` does the work and is what tests call.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from cnnlab.analysis.checkpoint import REBUILT_GROUPS
from cnnlab.build import require_trusted_targets, trusted_prefixes
from cnnlab.composition_errors import reports_composition_errors
from cnnlab.conf_dir import CONF_DIR
from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.engine.device import resolve_device
from cnnlab.engine.evaluation import CHECKPOINTS, MISTAKES_SHOWN, evaluate_split
from cnnlab.engine.run import build_run_model
from cnnlab.engine.run_files import RESOLVED_CONFIG, read_resolved_config
from cnnlab.engine.tasks import TASKS
from cnnlab.errors import CheckpointError, CnnlabError, ConfigError, said
from cnnlab.overrides import quoted_value


def evaluate_run(
    run_dir: str | Path,
    split: str = "test",
    checkpoint: str = "last",
    *,
    mistakes: int = MISTAKES_SHOWN,
    device: str = "auto",
    trusted_targets: Iterable[str] | str | None = None,
) -> dict[str, Any]:
    """Rebuild a classification run from its config.yaml (trusted targets only: cnnlab's, torch.nn's and
    those of `trusted_targets` or $CNNLAB_TRUSTED_TARGETS), load the checkpoint's weights (weights-only)
    and evaluate them on `split`; returns what evaluation.json holds."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(
            f"run={str(run_dir)!r} is not a directory. Give the run dir of a training run, the folder "
            "holding its config.yaml and checkpoints/ "
            "(e.g. run=outputs/sweeps/demo/optimizer.lr=0.003,model=lenet)."
        )
    config_path = run_dir / RESOLVED_CONFIG
    if not config_path.is_file():
        raise ConfigError(
            f"run={str(run_dir)!r} has no {RESOLVED_CONFIG}, so the run cannot be rebuilt: it is not the run "
            "dir of `python -m cnnlab.train` (or it was written by a cnnlab older than config.yaml). "
            "Give a run dir that holds config.yaml and checkpoints/."
        )
    if isinstance(mistakes, bool) or not isinstance(mistakes, int) or mistakes < 1:
        raise ConfigError(
            f"mistakes={mistakes!r} is not allowed: it must be an integer >= 1 (images in the grid)."
        )
    if checkpoint not in CHECKPOINTS:
        raise ConfigError(
            f"checkpoint={checkpoint!r} is not a checkpoint name; use one of {list(CHECKPOINTS)}."
        )
    checkpoint_path = run_dir / "checkpoints" / f"{checkpoint}.pt"
    if not checkpoint_path.exists():
        present = sorted(p.stem for p in (run_dir / "checkpoints").glob("*.pt") if p.is_file())
        raise CheckpointError(
            f"checkpoint={checkpoint}: {checkpoint_path} does not exist; this run has "
            f"{', '.join(f'checkpoint={name}' for name in present) if present else 'no checkpoints'}. "
            "best.pt is written whenever trainer.monitor improves (runs older than best.pt, or whose "
            "monitored metric was never measured, have none); pick one that exists."
        )
    config = read_resolved_config(run_dir, required=(*REBUILT_GROUPS, "trainer", "paths"))
    trusted = trusted_prefixes(trusted_targets)
    for group in REBUILT_GROUPS:
        require_trusted_targets(config.get(group), str(config_path), group, trusted)
    cfg = OmegaConf.create(config)
    task = OmegaConf.select(cfg, "dataset.task")
    if task not in TASKS or not TASKS[task].has_classes:
        raise ConfigError(
            f"run={str(run_dir)!r} is a {task} run (dataset.task={task}, e.g. deblurring), and "
            "cnnlab.evaluate is for classification runs: a confusion matrix, per-class table and "
            "mistakes need classes. Compare regression runs by their PSNR (metrics.csv, cnnlab.report)."
        )
    cfg.trainer.device = device
    device_used = resolve_device(device, key="device")
    try:
        run = build_run_model(cfg, device_used)
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"{config_path} lacks a key the run is rebuilt from ({said(error)[:300]}): it is damaged or "
            "from another program. Put the run's own config.yaml back, or evaluate another run dir."
        ) from None
    state = load_checkpoint(checkpoint_path, run.device)
    try:
        run.model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(
            f"{checkpoint_path} does not hold weights for the model {config_path} builds "
            f"({type(error).__name__}: {str(error).splitlines()[0]}): the two come from different runs. "
            "Put the run dir's own checkpoint back, or evaluate the run dir that wrote this checkpoint."
        ) from None
    return evaluate_split(run, run_dir, split, checkpoint, int(state.get("epoch", 0)), keep=mistakes)


@reports_composition_errors("python -m cnnlab.evaluate")
@hydra.main(config_path=str(CONF_DIR), config_name="evaluate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Composes the config and evaluates; user mistakes print one paragraph and exit 2."""
    try:
        if OmegaConf.is_missing(cfg, "run"):
            raise ConfigError(
                "no run given: name the run dir to evaluate, e.g. "
                "python -m cnnlab.evaluate run=outputs/runs/digits-lenet/<timestamp>"
            )
        summary = evaluate_run(
            cfg.run,
            cfg.split,
            cfg.checkpoint,
            mistakes=cfg.mistakes,
            device=cfg.device,
            trusted_targets=cfg.trusted_targets,
        )
    except CnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    out_dir = Path(summary["dir"])
    print((out_dir / "per_class.md").read_text())
    print(
        f"accuracy {100 * summary['accuracy']:.2f}% ({summary['correct']}/{summary['images']} images); "
        f"the {summary['mistakes_shown']} most confident mistakes are in mistakes.png.\n"
        f"wrote {out_dir}/: confusion_matrix.png|csv, per_class.csv|md, mistakes.png|csv, evaluation.json; "
        f"TensorBoard: eval/{summary['split']}/{summary['checkpoint']}/* in {summary['run_dir']}"
    )


def quote_run_dir(argument: str) -> str:
    """`run=<dir>` quoted for Hydra's override parser, which would read the `=` and `,` of a sweep job's
    dir name (optimizer.lr=0.003,model=lenet) as syntax; other arguments and quoted values as given."""
    key, equals, value = argument.partition("=")
    if key != "run" or not equals or value[:1] in ("'", '"'):
        return argument
    return f"{key}={quoted_value(value)}"


def cli() -> None:
    sys.argv[1:] = [quote_run_dir(argument) for argument in sys.argv[1:]]
    main()


if __name__ == "__main__":
    cli()
