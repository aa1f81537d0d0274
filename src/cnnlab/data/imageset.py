"""The in-memory form of a data split: uint8 images and their targets, in size buckets."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ImageSet:
    """Images as uint8 N x C x H x W and targets (int64 labels or uint8 target images).

    Every image of one ImageSet has the same size; variable-resolution data is a list of them.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]

    def subset(self, index: torch.Tensor) -> ImageSet:
        return ImageSet(self.x[index], self.y[index])

    def to(self, device: torch.device | str) -> ImageSet:
        return ImageSet(self.x.to(device), self.y.to(device))


Buckets = list[ImageSet]


def batch_targets(y: torch.Tensor) -> torch.Tensor:
    """A batch's targets as the loss takes them: image targets (image regression), stored as uint8 in
    [0, 255], in [0, 1]; class labels as stored. The data decides by what it stores, so it never needs
    to know which task learns from it."""
    return to_unit(y) if y.dtype == torch.uint8 and y.dim() > 1 else y


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 images as float32 in [0, 1], computed as torchvision's v2.ToDtype(scale=True) does
    (times 1/255), so the tensor and classic paths give the same bits without importing torchvision."""
    return x.to(torch.float32).mul_(1.0 / 255)


def as_buckets(data: ImageSet | Buckets) -> Buckets:
    """Sources return one ImageSet or a list of size buckets; the rest of cnnlab sees lists."""
    return [data] if isinstance(data, ImageSet) else list(data)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded, sorted train and validation indices of a split of n items."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = round(n * val_fraction)
    return order[n_val:].sort().values, order[:n_val].sort().values


def split_train_val(buckets: Buckets, val_fraction: float, seed: int) -> tuple[Buckets, Buckets]:
    """A seeded validation split of every bucket (the test set stays apart)."""
    train, val = [], []
    for i, bucket in enumerate(buckets):
        train_idx, val_idx = split_indices(len(bucket), val_fraction, seed + i)
        train.append(bucket.subset(train_idx))
        if len(val_idx):
            val.append(bucket.subset(val_idx))
    return train, val


def subsample(buckets: Buckets, n: int | None, seed: int) -> Buckets:
    """A seeded random subset of about n images, drawn from every bucket in proportion (quick runs)."""
    total = sum(len(b) for b in buckets)
    if not n or n >= total:
        return buckets
    generator = torch.Generator().manual_seed(seed)
    kept = []
    for bucket in buckets:
        take = max(1, round(len(bucket) * n / total))
        kept.append(bucket.subset(torch.randperm(len(bucket), generator=generator)[:take].sort().values))
    return kept


def channel_stats(buckets: Buckets) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of pixel values in [0, 1], over every image of the buckets."""
    channels = buckets[0].x.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    count = 0
    for bucket in buckets:
        for chunk in bucket.x.split(4096):
            values = chunk.to(torch.float64).div_(255).transpose(0, 1).reshape(channels, -1)
            total += values.sum(1)
            total_sq += values.square().sum(1)
            count += values.shape[1]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()
