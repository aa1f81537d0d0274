"""Learning-rate schedules torch has no single class for, built from config like torch's own."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR


def warmup_cosine(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float = 1.0,
    start_factor: float = 0.01,
    eta_min: float = 0.0,
) -> SequentialLR:
    """Per batch: a linear warm-up from start_factor x lr over warmup_epochs, then a cosine decay to
    eta_min. The warm-up keeps a large lr with momentum from diverging in the first steps."""
    total = epochs * steps_per_epoch
    warmup = max(1, round(warmup_epochs * steps_per_epoch))
    if warmup >= total:
        raise ValueError(
            f"warmup_epochs={warmup_epochs} is {warmup} steps, not fewer than the run's {total}; "
            "lower scheduler.build.warmup_epochs"
        )
    phases = [
        LinearLR(optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup),
        CosineAnnealingLR(optimizer, T_max=total - warmup, eta_min=eta_min),
    ]
    return SequentialLR(optimizer, phases, milestones=[warmup])
