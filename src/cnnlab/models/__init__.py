"""Model families, one per module, built from `conf/model/*.yaml` with hydra.utils.instantiate."""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from cnnlab.config.build import build
from cnnlab.errors import ConfigError


def build_model(cfg: DictConfig, input_shape: tuple[int, ...]) -> nn.Module:
    """Instantiate a model config and materialise its lazy layers with one dummy forward.

    Flatten sizes are never written down: the first dense layer is an nn.LazyLinear that
    learns its input size from this forward at the data's real input shape.
    """
    spec = OmegaConf.to_container(cfg, resolve=True)
    spec.pop("name", None)
    model = build(spec, key="model")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    except RuntimeError as error:
        shape = "x".join(str(n) for n in input_shape)
        raise ConfigError(
            f"model={cfg.get('name', spec['_target_'])} cannot take {shape} inputs "
            f"({str(error).splitlines()[0]}): its layers shrink images this small to nothing, or expect "
            "other channels. Give it the image size and channels it is built for (the data's images, "
            "augmentation.crop_size, dataset.channels) or choose another model."
        ) from None
    model.train(was_training)
    return model


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, the figure the labs quote."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
