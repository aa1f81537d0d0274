"""The classic path: a torchvision Dataset, a transforms.v2 pipeline per image, a DataLoader.

The labs teach it and the benchmark measures the tensor path against it.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torchvision.transforms import v2

from cnnlab.errors import CnnlabError


def image_pipeline(
    augment: list[v2.Transform],
    mean: list[float] | None,
    std: list[float] | None,
    whitening: dict[str, torch.Tensor] | None = None,
) -> v2.Compose:
    """PIL or tensor image -> float in [0, 1] -> whitening -> augmentation -> normalisation."""
    steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if whitening is not None:
        steps.append(v2.LinearTransformation(whitening["matrix"], whitening["mean"]))
    steps += augment
    if mean is not None:
        steps.append(v2.Normalize(mean, std))
    return v2.Compose(steps)


class ClassicLoader:
    """A DataLoader whose shuffle order is seeded by (seed, epoch), moved to the device."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        shuffle: bool,
        device: torch.device,
        num_workers: int = 0,
        seed: int = 0,
        limit_batches: int | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        self.generator = torch.Generator()
        sampler = RandomSampler(dataset, generator=self.generator) if shuffle else SequentialSampler(dataset)
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
            persistent_workers=num_workers > 0,
        )
        self.device = device
        self.seed = seed
        self.epoch = 0
        self.limit_batches = limit_batches
        self.memory_format = memory_format

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def num_samples(self) -> int:
        return len(self.loader.dataset)

    def __len__(self) -> int:
        full = len(self.loader)
        return full if self.limit_batches is None else min(full, self.limit_batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        try:
            for step, (x, y) in enumerate(self.loader):
                if step == len(self):
                    return
                x = x.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
                yield x, y.to(self.device, non_blocking=True)
        except CnnlabError as error:
            raise without_worker_traceback(error) from None


def without_worker_traceback(error: CnnlabError) -> CnnlabError:
    """A DataLoader worker's exception comes back with the worker's traceback as its message; a cnnlab
    error is one paragraph for the user, so keep only its own message (the traceback's last line)."""
    prefix = f"{type(error).__module__}.{type(error).__qualname__}: "
    last = str(error).rstrip().splitlines()[-1] if str(error).strip() else ""
    return type(error)(last.removeprefix(prefix)) if last.startswith(prefix) else error
