"""Augmentation of whole batches on the device, with an independent random draw per image.

The same parameters also build the equivalent torchvision.transforms.v2 pipeline for the
classic DataLoader path, so both paths augment alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError

if TYPE_CHECKING:
    from torchvision.transforms import v2


class Augmentation:
    """Random crop (with padding, or to a smaller size), horizontal flip, rotation and shift.

    Applied in that order to float images in [0, 1], before normalisation.
    """

    def __init__(
        self,
        hflip: float = 0.0,
        crop_size: int | None = None,
        crop_padding: int = 0,
        degrees: float = 0.0,
        translate: float = 0.0,
    ) -> None:
        checks = {
            "hflip": (hflip, 0 <= hflip <= 1, "a probability in [0, 1]"),
            "crop_padding": (crop_padding, crop_padding >= 0, "an integer >= 0"),
            "degrees": (degrees, 0 <= degrees <= 180, "an angle in [0, 180]"),
            "translate": (translate, 0 <= translate < 1, "a fraction of the size in [0, 1)"),
            "crop_size": (crop_size, crop_size is None or crop_size > 0, "null or a size > 0"),
        }
        for key, (value, ok, allowed) in checks.items():
            if not ok:
                raise ConfigError(f"augmentation.{key}={value!r} is out of range; it must be {allowed}.")
        self.hflip = hflip
        self.crop_size = crop_size
        self.crop_padding = crop_padding
        self.degrees = degrees
        self.translate = translate

    @property
    def crops(self) -> bool:
        return self.crop_size is not None or self.crop_padding > 0

    @property
    def warps(self) -> bool:
        return self.degrees > 0 or self.translate > 0

    def output_size(self, size: int) -> int:
        """The side of the images the model sees, train and test alike."""
        if self.crop_size is not None and self.crop_size > size + 2 * self.crop_padding:
            raise ConfigError(
                f"augmentation.crop_size={self.crop_size} is larger than the padded image "
                f"({size} + 2 x {self.crop_padding}); choose a crop_size <= {size + 2 * self.crop_padding}."
            )
        return self.crop_size or size

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a training batch (N x C x H x W floats); each image gets its own draw."""
        if self.crops:
            x = random_crop(x, self.output_size(x.shape[-1]), self.crop_padding, generator)
        if self.hflip > 0:
            flip = torch.rand(x.shape[0], device=x.device, generator=generator) < self.hflip
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        if self.warps:
            x = random_affine(x, self.degrees, self.translate, generator)
        return x

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """What test images get: a centre crop when training crops to a smaller size."""
        size = self.output_size(x.shape[-1])
        if size == x.shape[-1]:
            return x
        top, left = (x.shape[-2] - size) // 2, (x.shape[-1] - size) // 2
        return x[..., top : top + size, left : left + size]

    def train_transforms(self, size: int) -> list[v2.Transform]:
        """The classic path's per-image equivalent of `apply`."""
        from torchvision.transforms import v2  # the tensor path never pays torchvision's import

        steps: list[v2.Transform] = []
        if self.crops:
            steps.append(v2.RandomCrop(self.output_size(size), padding=self.crop_padding or None))
        if self.hflip > 0:
            steps.append(v2.RandomHorizontalFlip(self.hflip))
        if self.warps:
            steps.append(
                v2.RandomAffine(
                    self.degrees,
                    translate=(self.translate, self.translate) if self.translate else None,
                    interpolation=v2.InterpolationMode.BILINEAR,
                )
            )
        return steps

    def eval_transforms(self, size: int) -> list[v2.Transform]:
        """The classic path's per-image equivalent of `evaluate`."""
        from torchvision.transforms import v2

        out = self.output_size(size)
        return [v2.CenterCrop(out)] if out != size else []


def random_crop(x: torch.Tensor, size: int, padding: int, generator: torch.Generator | None) -> torch.Tensor:
    """Crop every image at its own random offset by one gather, after zero padding.

    The gather copies whole windows of an unfold view, a row of `size` contiguous values at a
    time, rather than one pixel per index.
    """
    if padding:
        x = F.pad(x, (padding,) * 4)
    n, _, height, width = x.shape
    top = torch.randint(0, height - size + 1, (n,), device=x.device, generator=generator)
    left = torch.randint(0, width - size + 1, (n,), device=x.device, generator=generator)
    windows = x.unfold(2, size, 1).unfold(3, size, 1)  # N x C x rows x cols x size x size
    return windows[torch.arange(n, device=x.device), :, top, left]


def random_affine(
    x: torch.Tensor, degrees: float, translate: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Rotate and shift every image by its own random draw with one batched affine warp."""
    n = x.shape[0]
    uniform = torch.rand(n, 3, device=x.device, generator=generator) * 2 - 1
    angle = uniform[:, 0] * math.radians(degrees)
    shift = uniform[:, 1:] * (2 * translate)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = affine_grid(theta.to(x.dtype), x.shape[-2], x.shape[-1])
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """F.affine_grid(theta, (N, C, height, width), align_corners=False) by broadcasting.

    torch's version is a batched matmul of N tiny matrices, 3x slower on a CPU for 1,024 MNIST
    images; here each output coordinate is two multiply-adds over the pixel centres.
    """
    xs = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1
    columns = theta.transpose(1, 2)[:, None, None]  # N x 1 x 1 x 3 x 2: the x, y and shift columns
    return columns[..., 0, :] * xs[:, None] + (columns[..., 1, :] * ys[:, None, None] + columns[..., 2, :])
