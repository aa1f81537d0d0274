"""The two interfaces the data path is built on, named: a data source and a loader.

Any class with these members plugs in; nothing inherits from them. A data set's YAML builds a
DataSource (its `source`); the data module turns what it loads into Loaders, one per split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from cnnlab.data.imageset import Buckets, ImageSet

if TYPE_CHECKING:
    from torch.utils.data import Dataset


@runtime_checkable
class DataSource(Protocol):
    """Where a data set's images come from (TorchvisionSource, DigitsSource, TextBlurSource, ...)."""

    # Everything that shapes the loaded images, so that the uint8 cache never serves stale data.
    cache_key: str
    # A classification source also names its labels with a `classes` list (label i is classes[i]),
    # which evaluation puts on its confusion matrix; optional, so not a member here.

    def load(self, split: str) -> ImageSet | Buckets:
        """Split "train" or "test" as uint8 N x C x H x W images and their targets, in one
        ImageSet or, for variable-resolution data, one per size."""
        ...

    def torch_dataset(self, split: str, transform: Callable | None) -> Dataset:
        """The classic path's map-style Dataset over the split, each image through `transform`."""
        ...


@runtime_checkable
class Loader(Protocol):
    """An epoch of (input, target) batches on the device: TensorLoader or ClassicLoader."""

    def set_epoch(self, epoch: int) -> None:
        """Fix the epoch whose order and augmentation draws the next iteration gives."""
        ...

    @property
    def num_samples(self) -> int:
        """Images in the split (without limit_batches)."""
        ...

    def __len__(self) -> int:
        """Batches per epoch."""
        ...

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...
