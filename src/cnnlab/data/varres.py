"""Variable-resolution MNIST (vu3a q3.12-q3.17): each image rescaled to its own size, in size buckets."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from cnnlab.data.imageset import Buckets, ImageSet
from cnnlab.data.torchvision_source import TorchvisionSource
from cnnlab.errors import ConfigError

SPLIT_OFFSETS = {"train": 0, "test": 1}


def resize_uint8(x: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Bilinear (antialiased when shrinking) resize of uint8 N x C x H x W images, chunk by chunk."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x.clone()
    out = torch.empty(*x.shape[:2], size, size, dtype=torch.uint8)
    for start in range(0, x.shape[0], chunk):
        part = x[start : start + chunk].float()
        resized = F.interpolate(part, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + chunk] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out


class VariableResolutionSource:
    """A torchvision data set whose images each get a size drawn from `sizes`, seeded per split.
    Sizes below the data's own (MNIST's 28) are reached by antialiased downsampling and lose detail;
    larger ones by bilinear upsampling and keep it.

    Returns one ImageSet per size (the loader batches within a bucket), or, with `resize_to`,
    every image brought on to that one size after its own rescaling: the lab's baseline that
    resizes everything to the smallest resolution. `max_train` / `max_test` keep a seeded subset
    of a split (the short budget of vu3a uses them).
    """

    def __init__(
        self,
        root: str,
        sizes: Sequence[int] = (8, 16, 32, 48, 64),
        seed: int = 0,
        resize_to: int | None = None,
        dataset: str = "MNIST",
        download: bool = True,
        max_train: int | None = None,
        max_test: int | None = None,
    ) -> None:
        sizes = [int(s) for s in sizes]
        if not sizes or any(s < 4 for s in sizes) or len(set(sizes)) != len(sizes):
            raise ConfigError(
                f"dataset.source.sizes={sizes} must be a non-empty list of distinct sizes >= 4, "
                "e.g. [8, 16, 32, 48, 64]."
            )
        if resize_to is not None and resize_to < 4:
            raise ConfigError(f"dataset.source.resize_to={resize_to} must be null or a size >= 4.")
        self.base = TorchvisionSource(dataset, root, download=download)
        self.sizes = sizes
        self.seed = seed
        self.resize_to = resize_to
        self.max_images = {"train": max_train, "test": max_test}
        key = f"{self.base.cache_key}-varres-{'-'.join(map(str, sizes))}-s{seed}"
        key += "".join(f"-{s}{n}" for s, n in self.max_images.items() if n)
        self.cache_key = key if resize_to is None else f"{key}-to{resize_to}"

    @property
    def classes(self) -> list[str]:
        """The labels' names: those of the data set the images are rescaled from."""
        return self.base.classes

    def draw_sizes(self, n: int, split: str) -> torch.Tensor:
        """The index into `sizes` of each of n images: the same for every run with this seed."""
        generator = torch.Generator().manual_seed(self.seed * 2 + SPLIT_OFFSETS.get(split, 2))
        return torch.randint(len(self.sizes), (n,), generator=generator)

    def load(self, split: str) -> Buckets | ImageSet:
        base = self.base.load(split)
        cap = self.max_images.get(split)
        if cap and cap < len(base):
            keep = torch.randperm(len(base), generator=torch.Generator().manual_seed(self.seed))[:cap]
            base = base.subset(keep.sort().values)
        choice = self.draw_sizes(len(base), split)
        if self.resize_to is not None:
            x = torch.empty(len(base), base.x.shape[1], self.resize_to, self.resize_to, dtype=torch.uint8)
        buckets = []
        for i, size in enumerate(self.sizes):
            index = (choice == i).nonzero().squeeze(1)
            if not len(index):
                continue
            rescaled = resize_uint8(base.x[index], size)
            if self.resize_to is None:
                buckets.append(ImageSet(rescaled, base.y[index]))
            else:
                x[index] = resize_uint8(rescaled, self.resize_to)
        return buckets if self.resize_to is None else ImageSet(x, base.y.clone())

    def torch_dataset(self, split: str, transform) -> Dataset:
        """The classic path's Dataset, which needs every image at one size: with `resize_to` only."""
        data = self.load(split)
        if not isinstance(data, ImageSet):
            raise ConfigError(
                "dataset.loader=torch cannot batch variable-resolution data; set dataset.resize_to "
                "or use dataset.loader=tensor, which batches by size bucket."
            )
        from cnnlab.data.tensor_dataset import TensorImageDataset  # imports torchvision

        return TensorImageDataset(data.x, data.y, transform)
