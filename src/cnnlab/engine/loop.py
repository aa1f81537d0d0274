"""One epoch of training and one pass of evaluation, with metrics kept on the device.

Nothing here reads a value back to the host per step: the running loss is looked at every
`log_every` steps (for the progress bar and the divergence check) and totals once per epoch.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import torch
from torch import nn
from tqdm import tqdm


class Diverged(RuntimeError):
    """The training loss became NaN or infinite."""


def bf16_autocast(device: torch.device, amp: bool):
    """bf16 autocast on `device` when `amp`, else a context that changes nothing."""
    if not amp:
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def train_step(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    device: torch.device,
    amp: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on one batch; returns the output and the loss, still on the device."""
    with bf16_autocast(device, amp):
        output = model(x)
        loss = loss_fn(output, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return output, loss


def train_epoch(
    model: nn.Module,
    loader,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    task,
    *,
    device: torch.device,
    step_scheduler=None,
    amp: bool = False,
    log_every: int,
    desc: str = "train",
) -> tuple[dict[str, float], int]:
    """Train for one epoch in train mode: mean loss and metric, and how many images it saw."""
    model.train()
    loss_sum = torch.zeros((), device=device)
    score_sum = torch.zeros((), device=device)
    seen = 0
    with tqdm(total=len(loader), desc=desc, leave=False, disable=None, unit="batch") as bar:
        for step, (x, y) in enumerate(loader, 1):
            output, loss = train_step(model, loss_fn, optimizer, x, y, device=device, amp=amp)
            if step_scheduler is not None:
                step_scheduler.step()
            n = y.shape[0]
            loss_sum += loss.detach() * n
            score_sum += task.score(output.detach(), y)
            seen += n
            if step % log_every == 0:
                running = (loss_sum / seen).item()
                if not math.isfinite(running):
                    raise Diverged(f"the training loss became {running} at step {step}")
                bar.set_postfix(loss=f"{running:.4f}")
            bar.update()
    loss_total, score_total = torch.stack([loss_sum, score_sum.float()]).tolist()
    if not math.isfinite(loss_total):
        raise Diverged(f"the training loss became {loss_total}")  # a non-finite sum's mean is itself
    return {"loss": loss_total / seen, task.metric: score_total / seen}, seen


@torch.no_grad()
def evaluate(
    model: nn.Module, loader, loss_fn: nn.Module, task, *, device: torch.device, amp: bool = False
) -> dict[str, float]:
    """Mean loss and metric in eval mode (dropout off, batch norm on running statistics)."""
    model.eval()
    loss_sum = torch.zeros((), device=device)
    score_sum = torch.zeros((), device=device)
    seen = 0
    for x, y in loader:
        with bf16_autocast(device, amp):
            output = model(x)
            loss = loss_fn(output, y)
        n = y.shape[0]
        loss_sum += loss.float() * n
        score_sum += task.score(output, y)
        seen += n
    loss_total, score_total = torch.stack([loss_sum, score_sum.float()]).tolist()
    return {"loss": loss_total / seen, task.metric: score_total / seen}


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate the next step will use (of the first parameter group)."""
    return optimizer.param_groups[0]["lr"]
