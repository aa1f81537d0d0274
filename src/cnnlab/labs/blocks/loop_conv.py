"""Convolution by explicit loops over output positions: the definition the labs start from."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnlab.labs.blocks._pairs import Pair, out_size, pair


def conv2d_loops(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
) -> torch.Tensor:
    """Cross-correlation y[n,k,i,j] = sum w[k,c,u,v] x[n,c,i*s+u,j*s+v], one position at a time."""
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    n, _, h, w = x.shape
    k_out, _, kh, kw = weight.shape
    padded = F.pad(x, (pw, pw, ph, ph))
    h_out, w_out = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    flat_weight = weight.reshape(k_out, -1)
    y = x.new_zeros(n, k_out, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw].reshape(n, -1)
            y[:, :, i, j] = patch @ flat_weight.T
    if bias is not None:
        y += bias.view(1, -1, 1, 1)
    return y


def conv2d_single_loops(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """keras7 e2 eq. 3 on one 2-D image (valid, stride 1), loops over kernel taps (fast)."""
    rows_k, cols_k = kernel.shape
    rows_y, cols_y = image.shape[0] - rows_k + 1, image.shape[1] - cols_k + 1
    y = image.new_zeros(rows_y, cols_y)
    for k in range(rows_k):
        for m in range(cols_k):
            y += image[k : k + rows_y, m : m + cols_y] * kernel[k, m]
    return y
