"""Image regression: PSNR, and input / output / target grids logged while a run trains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from cnnlab.data.protocols import Loader

GRID_IMAGES = 8


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
    from torchvision.utils import make_grid  # lazily: classification runs never need torchvision

    rows = torch.cat([inputs, outputs, targets]).detach().float().cpu().clamp(0, 1)
    if invert:
        rows = 1 - rows
    return make_grid(rows, nrow=inputs.shape[0], padding=2, pad_value=0.5)


def first_images(loader: Loader, n: int = GRID_IMAGES) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n (input, target) pairs of the loader's epoch 0, the same on every call."""
    loader.set_epoch(0)
    inputs, targets = next(iter(loader))
    return inputs[:n], targets[:n]


class GridLogger:
    """Input / output / target grids of fixed images, to watch the output sharpen epoch by epoch.

    The images are the first of each split's epoch 0; each epoch's grids go to TensorBoard and
    overwrite images_<split>.png in the run dir.
    """

    def __init__(self, loaders: dict[str, Loader | None]) -> None:
        self.batches = {
            split: first_images(loader) for split, loader in loaders.items() if loader is not None
        }

    @torch.no_grad()
    def log(self, model: nn.Module, step: int, writer: Any, run_dir: Path) -> None:
        """Run the model on each split's fixed inputs in eval mode and write the grids."""
        from torchvision.utils import save_image

        was_training = model.training
        model.eval()
        for split, (inputs, targets) in self.batches.items():
            grid = image_grid(inputs, model(inputs), targets)
            writer.add_image(f"{split}/input_output_target", grid, step)
            save_image(grid, run_dir / f"images_{split}.png")
        writer.flush()
        model.train(was_training)
