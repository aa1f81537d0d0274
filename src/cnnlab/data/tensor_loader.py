"""Batches drawn by indexing device-resident uint8 tensors with a seeded random permutation."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from cnnlab.data.imageset import Buckets, to_unit
from cnnlab.data.whitening import whiten

BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
TargetTransform = Callable[[torch.Tensor], torch.Tensor]


class TensorLoader:
    """An epoch of (input, target) batches with no per-sample Python and no PIL.

    Each epoch's order and augmentation draws depend only on (seed, epoch), so a resumed run
    sees exactly the batches an uninterrupted one would. Batches never mix size buckets.
    `chunk` images (whole batches) are indexed, augmented and normalised in one pass and then
    sliced into batches, so the per-call overhead of that work is paid once per chunk, not
    once per batch; 0 prepares batch by batch. Without augmentation the batches are the same.
    """

    def __init__(
        self,
        buckets: Buckets,
        batch_size: int,
        *,
        shuffle: bool,
        transform: BatchTransform | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        targets: TargetTransform | None = None,
        whitening: tuple[torch.Tensor, torch.Tensor] | None = None,
        seed: int = 0,
        limit_batches: int | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
        chunk: int = 0,
    ) -> None:
        self.buckets = buckets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.transform = transform
        self.targets = targets
        self.whitening = whitening
        self.seed = seed
        self.limit_batches = limit_batches
        self.memory_format = memory_format
        self.batches_per_pass = max(1, chunk // batch_size)
        self.epoch = 0
        device = buckets[0].x.device
        self.device = device
        self.mean = None if mean is None else torch.tensor(mean, device=device).view(1, -1, 1, 1)
        self.std = None if std is None else torch.tensor(std, device=device).view(1, -1, 1, 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def num_samples(self) -> int:
        return sum(len(b) for b in self.buckets)

    def __len__(self) -> int:
        full = sum(-(-len(b) // self.batch_size) for b in self.buckets)
        return full if self.limit_batches is None else min(full, self.limit_batches)

    def _seed_of_epoch(self) -> int:
        return self.seed * 1_000_003 + self.epoch

    def _generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self._seed_of_epoch())

    def _plan(self, generator: torch.Generator) -> list[tuple[int, torch.Tensor]]:
        plan = []
        for i, bucket in enumerate(self.buckets):
            n = len(bucket)
            if self.shuffle:
                order = torch.randperm(n, device=self.device, generator=generator)
            else:
                order = torch.arange(n, device=self.device)
            plan.extend((i, chunk) for chunk in order.split(self.batch_size))
        if self.shuffle and len(self.buckets) > 1:
            mix = torch.randperm(len(plan), generator=torch.Generator().manual_seed(self._seed_of_epoch()))
            plan = [plan[j] for j in mix.tolist()]
        return plan[: len(self)]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = self._generator()
        plan = self._plan(generator)
        start = 0
        while start < len(plan):
            bucket_id = plan[start][0]
            stop = start + 1
            while stop < min(len(plan), start + self.batches_per_pass) and plan[stop][0] == bucket_id:
                stop += 1
            indices = [index for _, index in plan[start:stop]]
            x, y = self._prepare(self.buckets[bucket_id], torch.cat(indices), generator)
            sizes = [len(index) for index in indices]
            yield from zip(x.split(sizes), y.split(sizes), strict=True)
            start = stop

    def _prepare(
        self, bucket, index: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather, scale to [0, 1], whiten, augment and normalise the images of one pass."""
        x = to_unit(bucket.x[index])
        if self.whitening is not None:
            x = whiten(x, *self.whitening)
        if self.transform is not None:
            x = self.transform(x, generator)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        y = bucket.y[index]
        if self.targets is not None:
            y = self.targets(y)
        return x.contiguous(memory_format=self.memory_format), y
