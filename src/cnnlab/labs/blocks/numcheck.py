"""dd2427 t9-t14: backward-mode derivatives against central differences, as in the lab."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class DerivativeCheck:
    """Both derivatives, element by element, and how far apart they are."""

    analytic: torch.Tensor
    numeric: torch.Tensor
    max_abs_error: float
    max_rel_error: float

    def ok(self, tol: float = 1e-4) -> bool:
        """True when the worst relative error is under `tol`."""
        return self.max_rel_error < tol


def numerical_derivative(
    f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, delta: float = 1e-4
) -> torch.Tensor:
    """df/dx_i = (f(x + delta e_i) - f(x - delta e_i)) / (2 delta), one element at a time."""
    x = x.detach().clone()
    flat = x.view(-1)
    grad = torch.empty_like(flat)
    for i in range(flat.numel()):
        saved = flat[i].item()
        flat[i] = saved + delta
        up = float(f(x))
        flat[i] = saved - delta
        down = float(f(x))
        flat[i] = saved
        grad[i] = (up - down) / (2 * delta)
    return grad.view_as(x)


def compare(analytic: torch.Tensor, numeric: torch.Tensor) -> DerivativeCheck:
    """Max abs error, and max abs error over the largest derivative so tolerances are scale-free."""
    diff = (analytic - numeric).abs().max().item()
    scale = max(analytic.abs().max().item(), numeric.abs().max().item(), 1e-12)
    return DerivativeCheck(analytic.detach(), numeric, diff, diff / scale)


def check_projected(
    forward: Callable[[torch.Tensor], torch.Tensor],
    backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    p: torch.Tensor | None = None,
    delta: float = 1e-4,
    generator: torch.Generator | None = None,
) -> DerivativeCheck:
    """Checks backward(x, p) = d<p, forward(x)>/dx for x an input or a closed-over parameter."""
    if p is None:
        shape = forward(x).shape
        p = torch.randn(shape, generator=generator, dtype=x.dtype)
    analytic = backward(x, p)
    numeric = numerical_derivative(lambda z: (p * forward(z)).sum(), x, delta)
    return compare(analytic, numeric)


def autograd_backward(
    forward: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Backward mode by torch autograd: the vector-Jacobian product p^T dy/dx."""

    def backward(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(forward(x), x, p)
        return grad

    return backward
