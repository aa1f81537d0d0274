"""A trained model used on raw images, from its checkpoint alone: what the checkpoint carries for it
(normalisation, whitening, class names, shapes, task), one nn.Module that applies the run's own
eval-time preprocessing before the net, and predict() over uint8 or float images.

The same module is what `cnnlab-export` writes to TorchScript and ONNX, so an exported model and
predict() give the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from cnnlab.data.imageset import to_unit
from cnnlab.data.whitening import whiten

if TYPE_CHECKING:
    from cnnlab.data.augment import Augmentation
    from cnnlab.data.datamodule import DataModule

# The checkpoint key holding inference_record(...).
INFERENCE_KEY = "inference"


def inference_record(data: DataModule, task: str, class_names: list[str] | None) -> dict[str, Any]:
    """What a checkpoint carries so its model can be used without the data set: the task, the image
    shape the data had (None for several sizes) and the model's input shape, the per-channel mean and
    std, the ZCA whitening (tensors) and, for classification, each label's name."""
    zca = data.whitening
    return {
        "task": task,
        "image_shape": list(data.image_shape) if data.image_shape else None,
        "input_shape": list(data.input_shape),
        "mean": data.mean,
        "std": data.std,
        "zca": None if zca is None else {"mean": zca[0].cpu(), "matrix": zca[1].cpu()},
        "class_names": class_names,
    }


class RawImageModel(nn.Module):
    """Images in [0, 1] (`forward_unit`) or uint8 in [0, 255] (`forward`) -> the model's outputs, through
    the run's eval-time steps in training's order: whitening, the augmentation's evaluate (a centre
    crop), per-channel normalisation."""

    def __init__(self, model: nn.Module, record: dict[str, Any], augmentation: Augmentation) -> None:
        super().__init__()
        self.model = model
        self.augmentation = augmentation
        channels = int(record["input_shape"][0])
        for name in ("mean", "std"):
            value = record.get(name)
            self.register_buffer(name, None if value is None else torch.tensor(value).view(1, channels, 1, 1))
        zca = record.get("zca")
        self.register_buffer("zca_mean", None if zca is None else zca["mean"])
        self.register_buffer("zca_matrix", None if zca is None else zca["matrix"])

    def forward_unit(self, x: torch.Tensor) -> torch.Tensor:
        if self.zca_matrix is not None:
            x = whiten(x, self.zca_mean, self.zca_matrix)
        x = self.augmentation.evaluate(x)
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return self.model(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images, as image files decode: scaled as training scaled them (times 1/255)."""
        return self.forward_unit(images.to(torch.float32) * (1.0 / 255))


@dataclass
class Prediction:
    """predict()'s answer. `output`: logits (classification) or output images (regression); for a
    classifier also the softmax `probabilities`, the arg-max `labels` and their `names`."""

    output: torch.Tensor
    probabilities: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    names: list[str] | None = None


def as_batch(images: Any, record: dict[str, Any]) -> torch.Tensor:
    """Images as a float N x C x H x W batch in [0, 1]: uint8 (0-255) are scaled, floats must already be
    in [0, 1]; one C x H x W image (or H x W for one channel) becomes a batch of one."""
    x = torch.from_numpy(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    channels = int(record["input_shape"][0])
    if x.ndim == 2 and channels == 1:
        x = x[None]
    if x.ndim == 3:
        x = x[None] if x.shape[0] == channels else (x[:, None] if channels == 1 else x)
    expected = record.get("image_shape") or [channels, "H", "W"]
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(
            f"predict() takes images shaped N x C x H x W (or one C x H x W); got {tuple(x.shape)}, but this "
            f"model was trained on {'x'.join(map(str, expected))} images ({channels} channel(s))."
        )
    if record.get("image_shape") and list(x.shape[1:]) != list(record["image_shape"]):
        raise ValueError(
            f"predict() got {'x'.join(map(str, x.shape[1:]))} images, but this model was trained on "
            f"{'x'.join(map(str, expected))} images; resize them to that first."
        )
    if x.dtype == torch.uint8:
        return to_unit(x)
    if not x.is_floating_point():
        raise ValueError(
            f"predict() takes uint8 images (0-255) or float images in [0, 1]; got dtype {x.dtype}."
        )
    x = x.to(torch.float32)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"predict() got float images with values from {float(x.min()):g} to {float(x.max()):g}; float "
            "images must be in [0, 1] (divide 0-255 values by 255, or pass them as uint8)."
        )
    return x


@torch.no_grad()
def predict(raw: RawImageModel, record: dict[str, Any], images: Any, batch_size: int = 256) -> Prediction:
    """The model's outputs on `images` (uint8 or float in [0, 1]), in eval mode, batch by batch."""
    raw.eval()
    x = as_batch(images, record)
    device = next(raw.parameters()).device
    output = torch.cat([raw.forward_unit(chunk.to(device)).float().cpu() for chunk in x.split(batch_size)])
    if record.get("task") != "classification":
        return Prediction(output)
    labels = output.argmax(1)
    names = record.get("class_names") or [str(i) for i in range(output.shape[1])]
    return Prediction(output, output.softmax(1), labels, [names[i] for i in labels.tolist()])
