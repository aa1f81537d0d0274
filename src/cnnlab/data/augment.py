"""Augmentation of whole batches on the device, with an independent random draw per image.

Each kind of augmentation is one class below (a frozen dataclass whose fields are its config
keys): it augments a training batch on the tensor path, says what test images get, and builds
the equivalent torchvision.transforms.v2 step for the classic DataLoader path, so both paths
augment alike. To add one, write its class and list it in AUGMENTATIONS, in the order it applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError

if TYPE_CHECKING:
    from torchvision.transforms import v2


def _require(key: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"augmentation.{key}={value!r} is out of range; it must be {allowed}.")


class Step:
    """One kind of augmentation; the defaults are those of a step that changes nothing."""

    # Whether it moves pixels (so that an image target would no longer match the input).
    moves_pixels: ClassVar[bool] = True

    @property
    def active(self) -> bool:
        """Whether its settings switch it on (an inactive step is skipped on both paths)."""
        raise NotImplementedError

    def output_size(self, size: int) -> int:
        """The side of the images after this step, train and test alike."""
        return size

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A training batch (N x C x H x W floats in [0, 1]), each image with its own draw."""
        raise NotImplementedError

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """What test images get: one image or a batch (... x H x W)."""
        return x

    def train_transform(self, size: int) -> v2.Transform:
        """The classic path's per-image equivalent of `apply`."""
        raise NotImplementedError

    def eval_transform(self, size: int) -> v2.Transform | None:
        """The classic path's per-image equivalent of `evaluate`; None when it is the identity."""
        return None


@dataclass(frozen=True)
class RandomCrop(Step):
    """Pad by crop_padding and crop back to the size, or (crop_size smaller) crop to crop_size for
    training and take the centre crop at test time."""

    crop_size: int | None = None
    crop_padding: int = 0

    def __post_init__(self) -> None:
        _require("crop_padding", self.crop_padding, self.crop_padding >= 0, "an integer >= 0")
        _require(
            "crop_size", self.crop_size, self.crop_size is None or self.crop_size > 0, "null or a size > 0"
        )

    @property
    def active(self) -> bool:
        return self.crop_size is not None or self.crop_padding > 0

    def output_size(self, size: int) -> int:
        if self.crop_size is not None and self.crop_size > size + 2 * self.crop_padding:
            raise ConfigError(
                f"augmentation.crop_size={self.crop_size} is larger than the padded image "
                f"({size} + 2 x {self.crop_padding}); choose a crop_size <= {size + 2 * self.crop_padding}."
            )
        return self.crop_size or size

    def _window(self, x: torch.Tensor) -> tuple[int, int]:
        """The height and width of the crop: crop_size, or else the image's own (padding only)."""
        height, width = x.shape[-2:]
        return (self.crop_size, self.crop_size) if self.crop_size is not None else (height, width)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return random_crop(x, self._window(x), self.crop_padding, generator)

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        height, width = self._window(x)
        if (height, width) == x.shape[-2:]:
            return x
        return F.pad(x, (*_centred(x.shape[-1], width), *_centred(x.shape[-2], height)))

    def train_transform(self, size: int) -> v2.Transform:
        from torchvision.transforms import v2  # the tensor path never pays torchvision's import

        return v2.RandomCrop(self.output_size(size), padding=self.crop_padding or None)

    def eval_transform(self, size: int) -> v2.Transform | None:
        from torchvision.transforms import v2

        out = self.output_size(size)
        return v2.CenterCrop(out) if out != size else None


@dataclass(frozen=True)
class HorizontalFlip(Step):
    """Mirror each image left-right with probability hflip."""

    hflip: float = 0.0

    def __post_init__(self) -> None:
        _require("hflip", self.hflip, 0 <= self.hflip <= 1, "a probability in [0, 1]")

    @property
    def active(self) -> bool:
        return self.hflip > 0

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        flip = torch.rand(x.shape[0], device=x.device, generator=generator) < self.hflip
        return torch.where(flip[:, None, None, None], x.flip(-1), x)

    def train_transform(self, size: int) -> v2.Transform:
        from torchvision.transforms import v2

        return v2.RandomHorizontalFlip(self.hflip)


@dataclass(frozen=True)
class RandomRotateShift(Step):
    """Rotate by an angle in [-degrees, degrees] and shift by up to `translate` of the size, with
    one batched affine warp."""

    degrees: float = 0.0
    translate: float = 0.0

    def __post_init__(self) -> None:
        _require("degrees", self.degrees, 0 <= self.degrees <= 180, "an angle in [0, 180]")
        _require("translate", self.translate, 0 <= self.translate < 1, "a fraction of the size in [0, 1)")

    @property
    def active(self) -> bool:
        return self.degrees > 0 or self.translate > 0

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return random_affine(x, self.degrees, self.translate, generator)

    def train_transform(self, size: int) -> v2.Transform:
        from torchvision.transforms import v2

        return v2.RandomAffine(
            self.degrees,
            translate=(self.translate, self.translate) if self.translate else None,
            interpolation=v2.InterpolationMode.BILINEAR,
        )


# Every kind of augmentation, in the order they apply (the order of the random draws, too).
AUGMENTATIONS: tuple[type[Step], ...] = (RandomCrop, HorizontalFlip, RandomRotateShift)


class Augmentation:
    """The augmentation config (conf/augmentation/*.yaml): each key belongs to one kind in
    AUGMENTATIONS; the kinds whose keys switch them on apply in that order to float images in
    [0, 1], before normalisation."""

    def __init__(self, **settings: Any) -> None:
        owner = {f.name: kind for kind in AUGMENTATIONS for f in fields(kind)}
        unknown = sorted(set(settings) - set(owner))
        if unknown:
            named = ", ".join(f"augmentation.{key}" for key in unknown)
            raise ConfigError(
                f"{named}: not an augmentation setting; the settings are {sorted(owner)} "
                "(a new kind of augmentation is a class in src/cnnlab/data/augment.py)."
            )
        steps = [kind(**{k: v for k, v in settings.items() if owner[k] is kind}) for kind in AUGMENTATIONS]
        self.steps = [step for step in steps if step.active]

    def pixel_moving_settings(self) -> list[str]:
        """The keys that are set (not null or zero) of the steps that move pixels."""
        return sorted(
            f.name for step in self.steps if step.moves_pixels for f in fields(step) if getattr(step, f.name)
        )

    def output_size(self, size: int) -> int:
        """The side of the images the model sees, train and test alike."""
        for step in self.steps:
            size = step.output_size(size)
        return size

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a training batch (N x C x H x W floats); each image gets its own draw."""
        for step in self.steps:
            x = step.apply(x, generator)
        return x

    def evaluate(self, x: torch.Tensor) -> torch.Tensor:
        """What test images get: a centre crop when training crops to a smaller size."""
        for step in self.steps:
            x = step.evaluate(x)
        return x

    def train_transforms(self, size: int) -> list[v2.Transform]:
        """The classic path's per-image equivalent of `apply`."""
        transforms = []
        for step in self.steps:
            transforms.append(step.train_transform(size))
            size = step.output_size(size)
        return transforms

    def eval_transforms(self, size: int) -> list[v2.Transform]:
        """The classic path's per-image equivalent of `evaluate`."""
        transforms = []
        for step in self.steps:
            if (transform := step.eval_transform(size)) is not None:
                transforms.append(transform)
            size = step.output_size(size)
        return transforms


def random_crop(
    x: torch.Tensor, window: tuple[int, int], padding: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Crop every image to `window` (height, width) at its own random offset by one gather, after
    zero padding.

    The gather copies whole windows of an unfold view, a row of `width` contiguous values at a
    time, rather than one pixel per index.
    """
    if padding:
        x = F.pad(x, (padding,) * 4)
    n, _, height, width = x.shape
    top = torch.randint(0, height - window[0] + 1, (n,), device=x.device, generator=generator)
    left = torch.randint(0, width - window[1] + 1, (n,), device=x.device, generator=generator)
    windows = x.unfold(2, window[0], 1).unfold(3, window[1], 1)  # N x C x rows x cols x h x w
    return windows[torch.arange(n, device=x.device), :, top, left]


def _centred(side: int, size: int) -> tuple[int, int]:
    """The pixels F.pad adds before and after a side to make it `size` about its centre (negative:
    cut), as torchvision's CenterCrop does it: a cut's offset rounds half to even; a pad puts its
    odd pixel after."""
    before = -round((side - size) / 2) if size <= side else (size - side) // 2
    return before, size - side - before


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
