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

from cnnlab.config.composition_errors import reports_composition_errors
from cnnlab.config.overrides import quoted_value
from cnnlab.config.paths import CONF_DIR
from cnnlab.engine.evaluation import MISTAKES_SHOWN, evaluate_split
from cnnlab.engine.reopen import open_run
from cnnlab.errors import CnnlabError, ConfigError


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
    if isinstance(mistakes, bool) or not isinstance(mistakes, int) or mistakes < 1:
        raise ConfigError(
            f"mistakes={mistakes!r} is not allowed: it must be an integer >= 1 (images in the grid)."
        )
    trained = open_run(
        run_dir,
        checkpoint,
        with_data=True,
        device=device,
        trusted_targets=trusted_targets,
        needs_classes=(
            "cnnlab.evaluate is for classification runs: a confusion matrix, per-class table and "
            "mistakes need classes. Compare regression runs by their PSNR (metrics.csv, cnnlab.report)."
        ),
    )
    return evaluate_split(trained, Path(run_dir), split, checkpoint, int(trained.epoch or 0), keep=mistakes)


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
