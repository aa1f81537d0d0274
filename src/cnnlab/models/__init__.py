"""Model families, one per module, built from `conf/model/*.yaml` with hydra.utils.instantiate."""

from __future__ import annotations

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from cnnlab.build import build


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
    with torch.no_grad():
        model(torch.zeros(1, *input_shape))
    model.train(was_training)
    return model


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, the figure the labs quote."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
