"""Entry point for the lab questions that are not training runs: python -m cnnlab.lab task=<name>."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from cnnlab.config.build import build
from cnnlab.config.composition_errors import reports_composition_errors
from cnnlab.config.paths import CONF_DIR
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.labs.exercises.context import ExerciseContext


def run_task(cfg: DictConfig) -> dict:
    """Runs cfg.task's function in its run dir and returns the numbers it wrote to results.json."""
    spec = OmegaConf.to_container(cfg.task, resolve=True)
    name = spec.pop("name", None)
    if "_target_" not in spec:
        raise ConfigError(
            f"task={name!r} has no _target_: a conf/task/<name>.yaml must name the function "
            "that runs it, e.g. `_target_: cnnlab.labs.exercises.filters.filter_bank`."
        )
    out_dir = task_dir(cfg)
    torch.manual_seed(cfg.seed)
    with ExerciseContext(cfg, out_dir) as ctx:
        results = build(spec, key=f"task={name}", ctx=ctx, _convert_="all") or {}
        payload = {"task": name, **results}
        (out_dir / "results.json").write_text(json.dumps(payload, indent=2, default=_jsonable))
    return payload


def task_dir(cfg: DictConfig) -> Path:
    """Where a task writes: output_dir when given, else Hydra's run dir (outputs/lab/<task>/<time>)."""
    return Path(cfg.output_dir) if cfg.output_dir else Path(HydraConfig.get().runtime.output_dir)


def _jsonable(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, tuple | set):
        return list(value)
    return str(value)


@reports_composition_errors("python -m cnnlab.lab")
@hydra.main(config_path=str(CONF_DIR), config_name="lab", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Composes the config and runs one task; user mistakes print one paragraph and exit 2."""
    try:
        results = run_task(cfg)
    except CnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(results, indent=2, default=_jsonable))
    out_dir = task_dir(cfg)
    figures = sorted(path.name for path in out_dir.glob("*.png"))
    print(
        f"results in {out_dir}: results.json, {len(figures)} figures ({', '.join(figures) or 'none'}); "
        f"tensorboard --logdir {out_dir / 'tb'}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
