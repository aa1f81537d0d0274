"""Pick the device a run trains on from `trainer.device`."""

from __future__ import annotations

import torch

from cnnlab.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """`auto` prefers CUDA, then Apple's MPS, then the CPU; other names are checked to exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(
            f"trainer.device={name!r} is not a device name; use auto, cpu, cuda, cuda:N or mps."
        ) from error
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(device.type, False):
        raise ConfigError(
            f"trainer.device={name!r} is not available on this machine; use trainer.device=auto "
            f"to take the best one there is."
        )
    return device
