"""mainf6 ta: closed-form gradients of a SAME convolution, 2x2 max pooling and a strided convolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _shifted(x: torch.Tensor, s: int, t: int, m: int, stride: int, size: int) -> torch.Tensor:
    """x_(stride*i - s, stride*j - t) for i, j < size, zero outside the image (0-based indices)."""
    padded = F.pad(x, (m, m, m, m))
    return padded[m - s : m - s + stride * size : stride, m - t : m - t + stride * size : stride]


def same_conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """o_ij = sum_{k,l=-m..m} w_kl x_(stride*i - k, stride*j - l): the sheet's true convolution."""
    m = w.shape[0] // 2
    size = -(-x.shape[0] // stride)
    return sum(
        w[s + m, t + m] * _shifted(x, s, t, m, stride, size)
        for s in range(-m, m + 1)
        for t in range(-m, m + 1)
    )


def same_conv_grad_weight(
    x: torch.Tensor, w: torch.Tensor, target: torch.Tensor, stride: int = 1
) -> torch.Tensor:
    """dE/dw_st = 2/|o| sum_ij (o_ij - y_ij) x_(stride*i - s, stride*j - t) for the MSE E."""
    m = w.shape[0] // 2
    o = same_conv(x, w, stride)
    residual = 2 * (o - target) / o.numel()
    grad = torch.empty_like(w)
    for s in range(-m, m + 1):
        for t in range(-m, m + 1):
            grad[s + m, t + m] = (residual * _shifted(x, s, t, m, stride, o.shape[0])).sum()
    return grad


def maxpool2_grad_input(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """dE/dx_ij = 2/|o'| (o'_ab - y'_ab) where x_ij is its window's maximum, 0 elsewhere."""
    n = x.shape[0]
    windows = x.reshape(n // 2, 2, n // 2, 2).permute(0, 2, 1, 3).reshape(n // 2, n // 2, 4)
    pooled, argmax = windows.max(-1)
    residual = 2 * (pooled - target) / pooled.numel()
    grad = F.one_hot(argmax, 4).to(x.dtype) * residual[..., None]
    return grad.reshape(n // 2, n // 2, 2, 2).permute(0, 2, 1, 3).reshape(n, n)
