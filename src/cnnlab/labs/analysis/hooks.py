"""Forward-hook capture of every layer's output, and of each convolution after its activation."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.ReLU6)


def capture_activations(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Runs x once and returns (name, module, output) of every leaf call, in call order."""
    records: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = []
    for name, module in model.named_modules():
        if next(module.children(), None) is None:
            hook = _recorder(records, name)
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return records


def _recorder(records: list, name: str):
    def hook(module: nn.Module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            records.append((name, module, output.detach().clone()))

    return hook


def conv_activations(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """mainf6 c: each Conv2d's output after the activation that follows it (or raw if none does)."""
    result: dict[str, torch.Tensor] = {}
    current = None
    for name, module, output in capture_activations(model, x):
        if isinstance(module, nn.Conv2d):
            current = name
            result[name] = output
        elif current is not None and isinstance(module, ACTIVATIONS):
            result[current] = output
            current = None
        elif current is not None and not isinstance(module, (nn.BatchNorm2d, nn.Dropout, nn.Dropout2d)):
            current = None
    return result
