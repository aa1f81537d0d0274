"""A map-style Dataset over uint8 tensors for sources that torchvision has no class for."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2.functional import to_pil_image


class TensorImageDataset(Dataset):
    """Yields (PIL image, label) through `transform`, as torchvision's own data sets do."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: Callable | None) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: int):
        image = to_pil_image(self.x[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.y[index])
