"""scikit-learn's 8x8 digits: real handwriting that ships with the package, so runs work offline."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from cnnlab.data.imageset import ImageSet


class DigitsSource:
    """The 1,797 digits upsampled to `size` x `size`, with a seeded held-out test split."""

    def __init__(self, size: int = 28, test_fraction: float = 0.2, seed: int = 0) -> None:
        self.size = size
        self.test_fraction = test_fraction
        self.seed = seed
        self.cache_key = f"digits-{size}-t{test_fraction}-s{seed}"

    @property
    def classes(self) -> list[str]:
        """Each label's name, as scikit-learn lists them: '0' to '9'."""
        from sklearn.datasets import load_digits

        return [str(name) for name in load_digits().target_names]

    def load(self, split: str) -> ImageSet:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", antialias=True)
        x = images.mul(255).round().clamp(0, 255).to(torch.uint8)
        y = torch.as_tensor(digits.target, dtype=torch.int64)
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(self.seed))
        n_test = round(len(y) * self.test_fraction)
        index = order[:n_test] if split == "test" else order[n_test:]
        return ImageSet(x[index.sort().values], y[index.sort().values])

    def torch_dataset(self, split: str, transform) -> Dataset:
        """The classic path's Dataset (PIL images through `transform`, as torchvision's own)."""
        from cnnlab.data.tensor_dataset import TensorImageDataset  # imports torchvision

        data = self.load(split)
        return TensorImageDataset(data.x, data.y, transform)
