"""Image-regression metrics and pictures: PSNR, and input / output / target grids."""

from __future__ import annotations

import torch
from torchvision.utils import make_grid


def psnr(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean over the batch of per-image PSNR in dB, left on the device so the loop never syncs.

    Per image rather than over the pooled MSE, as deblurring papers report it; an exact
    match (MSE 0) is capped at the PSNR of an MSE of 1e-10 instead of being infinite.
    """
    mse = (output.detach().float() - target.float()).square().flatten(1).mean(1)
    return (10 * torch.log10(data_range**2 / mse.clamp_min(1e-10))).mean()


def image_grid(
    inputs: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor, invert: bool = True
) -> torch.Tensor:
    """One 3 x H' x W' float grid in [0, 1]: a row of inputs, a row of outputs, a row of targets.

    `invert` shows 1 - x, so text stored as white-0 / ink-1 reads as dark ink on white paper.
    """
    rows = torch.cat([inputs, outputs, targets]).detach().float().cpu().clamp(0, 1)
    if invert:
        rows = 1 - rows
    return make_grid(rows, nrow=inputs.shape[0], padding=2, pad_value=0.5)
