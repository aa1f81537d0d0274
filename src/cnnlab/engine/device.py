"""Pick the device a run trains on from `trainer.device`."""

from __future__ import annotations

import torch

from cnnlab.errors import ConfigError


def resolve_device(name: str, key: str = "trainer.device") -> torch.device:
    """`auto` prefers CUDA, then Apple's MPS, then the CPU; other names are checked to exist. `key` is the
    setting the name came from, as the errors name it (evaluate's is `device`)."""
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
            f"{key}={name!r} is not a device name; use auto, cpu, cuda, cuda:N or mps."
        ) from error
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(device.type, False):
        raise ConfigError(
            f"{key}={name!r} is not available on this machine; use {key}=auto to take the best one there is."
        )
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes bf16 in hardware, so that autocasting to it pays."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    return False


def resolve_amp(setting: bool | str, device: torch.device) -> bool:
    """`trainer.amp`: true or false as given; `auto` is bf16 autocast where the device has native bf16."""
    return native_bf16(device) if setting == "auto" else bool(setting)
