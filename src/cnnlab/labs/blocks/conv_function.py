"""vu3a q1.4-q1.6: a convolution autograd Function with a hand-written backward."""

from __future__ import annotations

import torch
from torch.autograd.function import FunctionCtx

from cnnlab.labs.blocks._pairs import Pair, out_size, pair
from cnnlab.labs.blocks.unfold import fold_patches, unfold_patches


class Conv2dFunction(torch.autograd.Function):
    """Forward: unfold + matmul; backward: dW = dY U^T, dU = W^T dY, then fold dU onto the input."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        stride: tuple[int, int],
        padding: tuple[int, int],
    ) -> torch.Tensor:
        n, _, h, w = x.shape
        k_out, _, kh, kw = weight.shape
        cols = unfold_patches(x, (kh, kw), stride, padding)
        y = weight.reshape(k_out, -1) @ cols
        if bias is not None:
            y = y + bias.view(1, -1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.geometry = ((h, w), stride, padding, bias is not None)
        h_out, w_out = (
            out_size(h, kh, stride[0], padding[0]),
            out_size(w, kw, stride[1], padding[1]),
        )
        return y.reshape(n, k_out, h_out, w_out)

    @staticmethod
    def backward(ctx: FunctionCtx, grad_y: torch.Tensor):
        cols, weight = ctx.saved_tensors
        (h, w), stride, padding, has_bias = ctx.geometry
        grad_x, grad_w, grad_b = conv_backward_cols(cols, weight, grad_y, (h, w), stride, padding)
        return grad_x, grad_w, grad_b if has_bias else None, None, None


def conv_backward_cols(
    cols: torch.Tensor,
    weight: torch.Tensor,
    grad_y: torch.Tensor,
    input_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dL/dx = fold(W^T dY), dL/dW = sum_n dY U^T, dL/db = sum dY, given the unfolded input U."""
    k_out, _, kh, kw = weight.shape
    grad_y = grad_y.reshape(grad_y.shape[0], k_out, -1)
    grad_cols = weight.reshape(k_out, -1).T @ grad_y
    grad_x = fold_patches(grad_cols, input_size, (kh, kw), stride, padding)
    grad_w = (grad_y @ cols.transpose(1, 2)).sum(0).reshape(weight.shape)
    return grad_x, grad_w, grad_y.sum((0, 2))


def conv_backward(
    x: torch.Tensor, weight: torch.Tensor, grad_y: torch.Tensor, stride: Pair = 1, padding: Pair = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """vl_nnconv(x, w, b, dzdy) of dd2427: the projected derivatives w.r.t. input, filters and bias."""
    cols = unfold_patches(x, tuple(weight.shape[2:]), pair(stride), pair(padding))
    return conv_backward_cols(cols, weight, grad_y, tuple(x.shape[2:]), pair(stride), pair(padding))


def conv2d_autograd(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
) -> torch.Tensor:
    """Calls Conv2dFunction with conv2d's argument conventions."""
    return Conv2dFunction.apply(x, weight, bias, pair(stride), pair(padding))
