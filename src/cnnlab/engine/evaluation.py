"""A classification run looked at class by class: its confusion matrix, per-class precision and recall,
and the images it gets most confidently wrong, from one batched pass over a split.

`evaluate_split` writes them into `<run dir>/evaluation/<split>-<checkpoint>/` and TensorBoard; both
`python -m cnnlab.evaluate` and the end of every classification run (engine/fit.py) call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.data.datamodule import class_names
from cnnlab.engine.class_metrics import ClassEvaluation
from cnnlab.engine.loop import bf16_autocast
from cnnlab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from cnnlab.engine.reopen import TrainedRun
    from cnnlab.engine.run import RunModel

EVALUATION_DIR = "evaluation"
# The splits evaluated with eval-time loaders (train's loader shuffles and augments).
EVALUATED_SPLITS = ("test", "val")
MISTAKES_SHOWN = 25


@torch.no_grad()
def evaluate_classes(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    *,
    device: torch.device,
    amp: bool = False,
    keep: int = MISTAKES_SHOWN,
) -> ClassEvaluation:
    """One pass in eval mode, all on the device: the confusion matrix summed by bincount, and a running
    top-`keep` of the wrong predictions by confidence (merged batch by batch with topk, never per image)."""
    model.eval()
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.int64, device=device)
    kept: tuple[torch.Tensor, ...] | None = None
    for x, y in batches:
        with bf16_autocast(device, amp):
            output = model(x)
        confidence, pred = output.float().softmax(1).max(1)
        confusion += torch.bincount(y * num_classes + pred, minlength=num_classes * num_classes)
        # Right predictions score -1, so they sort below every mistake and are dropped at the end.
        score = confidence.masked_fill(pred == y, -1.0)
        top = score.topk(min(keep, len(score))).indices
        batch = (score[top], x[top].float(), y[top], pred[top])
        kept = batch if kept is None else _most_confident(kept, batch, keep)
    if kept is None:
        raise DataError(
            "the split to evaluate holds no images; check dataset.max_eval and trainer.limit_batches."
        )
    score, images, true, pred = kept
    wrong = score >= 0
    return ClassEvaluation(
        confusion=confusion.view(num_classes, num_classes).cpu(),
        mistakes=images[wrong].cpu(),
        mistake_true=true[wrong].cpu(),
        mistake_pred=pred[wrong].cpu(),
        mistake_confidence=score[wrong].cpu(),
    )


def _most_confident(kept: tuple[torch.Tensor, ...], batch: tuple[torch.Tensor, ...], keep: int) -> tuple:
    """The `keep` highest-scoring of both; a batch of another image size (size buckets) is resized to
    the kept images' size so that they stack."""
    images = batch[1]
    if images.shape[-2:] != kept[1].shape[-2:]:
        images = F.interpolate(images, size=kept[1].shape[-2:], mode="bilinear", antialias=True)
    merged = [torch.cat([a, b]) for a, b in zip(kept, (batch[0], images, *batch[2:]), strict=True)]
    top = merged[0].topk(min(keep, len(merged[0]))).indices
    return tuple(t[top] for t in merged)


def evaluate_split(
    run: RunModel | TrainedRun,
    run_dir: Path,
    split: str,
    checkpoint: str,
    epoch: int,
    keep: int = MISTAKES_SHOWN,
) -> dict[str, Any]:
    """Evaluate `run.model` (the weights of `checkpoint`, after `epoch` epochs) on `split`, and write
    the files and TensorBoard images; returns what evaluation.json holds."""
    from cnnlab.engine.evaluation_report import write_evaluation  # matplotlib: paid when evaluating

    loaders = run.data.loaders()
    loader = loaders.get(split) if split in EVALUATED_SPLITS else None
    if loader is None:
        why = {
            "train": "its loader shuffles and augments, so the net would be shown other images each time",
            "val": f"the run took no validation split (dataset.val_fraction={run.cfg.dataset.val_fraction})",
        }.get(split, f"the splits are {list(loaders)}")
        there = [s for s in EVALUATED_SPLITS if loaders[s] is not None]
        raise ConfigError(
            f"split={split!r} cannot be evaluated for the run in {run_dir}: {why}. "
            f"Use split={there[0]} (this run can be evaluated on: {', '.join(there)})."
        )
    result = evaluate_classes(
        run.model, loader, run.cfg.dataset.num_classes, device=run.device, amp=run.amp, keep=keep
    )
    result.mistakes = run.data.as_images(result.mistakes)
    out_dir = run_dir / EVALUATION_DIR / f"{split}-{checkpoint}"
    info = {"split": split, "checkpoint": checkpoint, "epoch": epoch, "run_dir": str(run_dir)}
    return write_evaluation(result, class_names(run.cfg), out_dir, run_dir, info)
