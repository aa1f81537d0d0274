"""Export entry point: `python -m cnnlab.export run=<run dir> format=onnx|torchscript` (`cnnlab-export`).

Hydra composes conf/export.yaml; `export_run` does the work and is what tests call.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from cnnlab.config.composition_errors import reports_composition_errors
from cnnlab.engine.model_export import FORMATS, export_model, max_difference
from cnnlab.engine.reopen import open_run
from cnnlab.engine.validate import CONF_DIR
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.evaluate import quote_run_dir


def export_run(
    run_dir: str | Path,
    fmt: str = "onnx",
    checkpoint: str = "last",
    out: str | Path | None = None,
    trusted_targets: Iterable[str] | str | None = None,
) -> dict[str, Any]:
    """Write the run's model with its preprocessing as `fmt` (default `<run dir>/export/<checkpoint>.<ext>`)
    and check it against the PyTorch model; returns the file, its description and the difference."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ConfigError(
            f"run={str(run_dir)!r} is not a directory. Give the run dir of a training run, the folder "
            "holding its checkpoints/ (e.g. run=outputs/runs/quickstart/latest)."
        )
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is not an export format; use one of {sorted(FORMATS)}.")
    trained = open_run(run_dir, checkpoint, trusted_targets=trusted_targets)
    raw = trained.raw_model()
    path = Path(out) if out else run_dir / "export" / f"{checkpoint}{FORMATS[fmt]}"
    export_model(raw, trained.inference, fmt, path)
    return {
        "path": str(path),
        "description": f"{path}.json",
        "epoch": trained.epoch,
        "max_difference": max_difference(raw, trained.inference, fmt, path),
        "inference": trained.inference,
    }


@reports_composition_errors("python -m cnnlab.export")
@hydra.main(config_path=str(CONF_DIR), config_name="export", version_base="1.3")
def main(cfg: DictConfig) -> None:
    """Composes the config and exports; user mistakes print one paragraph and exit 2."""
    try:
        if OmegaConf.is_missing(cfg, "run"):
            raise ConfigError(
                "no run given: name the run dir to export, e.g. "
                "cnnlab-export run=outputs/runs/quickstart/latest format=onnx"
            )
        result = export_run(cfg.run, cfg.format, cfg.checkpoint, cfg.out, cfg.trusted_targets)
    except CnnlabError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    record = result["inference"]
    shape = "x".join(str(n) for n in record.get("image_shape") or [record["input_shape"][0], "H", "W"])
    difference = result["max_difference"]
    checked = (
        f"its outputs differ from the PyTorch model's by at most {difference:.2e} on example images"
        if difference is not None
        else "not checked against the PyTorch model (pip install onnxruntime to check it)"
    )
    classes = record.get("class_names")
    gives = f"logits for the classes {classes}" if classes else "output images"
    print(
        f"wrote {result['path']} (epoch {result['epoch']}) and {result['description']}: it takes uint8 "
        f"images N x {shape} (0-255) and gives {gives}; {checked}."
    )


def cli() -> None:
    sys.argv[1:] = [quote_run_dir(argument) for argument in sys.argv[1:]]
    main()


if __name__ == "__main__":
    cli()
