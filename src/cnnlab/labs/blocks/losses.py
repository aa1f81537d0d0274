"""dd2427 t13/t14: L2 and L1 loss layers with hand-written forward and backward."""

from __future__ import annotations

import torch
from torch.autograd.function import FunctionCtx


def l2_loss_forward(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """y = sum (x - r)^2, the practical's l2LossForward."""
    return (x - target).square().sum()


def l2_loss_backward(x: torch.Tensor, target: torch.Tensor, dzdy: torch.Tensor | float) -> torch.Tensor:
    """dz/dx = dz/dy * 2 (x - r)."""
    return dzdy * 2 * (x - target)


def l1_loss_forward(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """y = sum |x - r|, the practical's l1LossForward."""
    return (x - target).abs().sum()


def l1_loss_backward(x: torch.Tensor, target: torch.Tensor, dzdy: torch.Tensor | float) -> torch.Tensor:
    """dz/dx = dz/dy * sign(x - r): undefined at x = r, where finite differences disagree."""
    return dzdy * torch.sign(x - target)


class L2Loss(torch.autograd.Function):
    """Puts l2_loss_forward/backward into autograd so a net can train on them."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, target)
        return l2_loss_forward(x, target)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: torch.Tensor):
        x, target = ctx.saved_tensors
        return l2_loss_backward(x, target, grad), None


class L1Loss(torch.autograd.Function):
    """Puts l1_loss_forward/backward into autograd so a net can train on them."""

    @staticmethod
    def forward(ctx: FunctionCtx, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, target)
        return l1_loss_forward(x, target)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: torch.Tensor):
        x, target = ctx.saved_tensors
        return l1_loss_backward(x, target, grad), None
