"""Real photos for the visual tasks: scikit-learn's sample images (offline) or any image file."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from cnnlab.errors import ConfigError

SAMPLES = ("china.jpg", "flower.jpg")


def load_photo(name: str, scale: float = 1.0, gray: bool = False) -> torch.Tensor:
    """C x H x W float image in [0, 1]: a scikit-learn sample by name, else a path read by PIL."""
    if not 0 < scale <= 4:
        raise ConfigError(f"task.scale={scale!r} is out of range; use a factor in (0, 4].")
    if name in SAMPLES:
        from sklearn.datasets import load_sample_image

        array = load_sample_image(name)
    elif Path(name).is_file():
        import numpy as np
        from PIL import Image

        array = np.asarray(Image.open(name).convert("RGB"))
    else:
        raise ConfigError(
            f"task.image={name!r} is neither a sample image nor a file; use one of {SAMPLES} "
            "or a path to a PNG/JPEG."
        )
    image = torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255
    if scale != 1.0:
        image = F.interpolate(image[None], scale_factor=scale, mode="bilinear", antialias=True)[0]
    if gray:
        image = (image * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    return image.clamp(0, 1)


def fit_to(image: torch.Tensor, channels: int, size: tuple[int, int]) -> torch.Tensor:
    """Resizes and converts a photo so a model trained on C x H x W images can take it."""
    if channels == 1 and image.shape[0] == 3:
        image = (image * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
    elif channels == 3 and image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True)[0]


def show(ax, image: torch.Tensor, title: str = "", cmap: str = "gray", **kwargs) -> None:
    """imshow of a C x H x W or H x W tensor without axes."""
    image = image.detach().cpu()
    if image.dim() == 3 and image.shape[0] == 3:
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    else:
        ax.imshow(image.reshape(image.shape[-2:]).numpy(), cmap=cmap, **kwargs)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
