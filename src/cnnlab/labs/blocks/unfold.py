"""Patch extraction (unfold) and its adjoint (fold), written with one loop over kernel taps."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnnlab.labs.blocks._pairs import Pair, out_size, pair


def unfold_patches(x: torch.Tensor, kernel: Pair, stride: Pair = 1, padding: Pair = 0) -> torch.Tensor:
    """N x C x H x W -> N x (C*kh*kw) x L columns, in torch.nn.functional.unfold's layout."""
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    n, c, h, w = x.shape
    h_out, w_out = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    padded = F.pad(x, (pw, pw, ph, ph))
    cols = x.new_empty(n, c, kh, kw, h_out, w_out)
    for u in range(kh):
        for v in range(kw):
            cols[:, :, u, v] = padded[:, :, u : u + sh * h_out : sh, v : v + sw * w_out : sw]
    return cols.reshape(n, c * kh * kw, h_out * w_out)


def fold_patches(
    cols: torch.Tensor,
    output_size: tuple[int, int],
    kernel: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
) -> torch.Tensor:
    """Adjoint of unfold_patches: adds every column entry back onto the pixel it was read from."""
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    h, w = output_size
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    h_out, w_out = out_size(h, kh, sh, ph), out_size(w, kw, sw, pw)
    cols = cols.reshape(n, c, kh, kw, h_out, w_out)
    padded = cols.new_zeros(n, c, h + 2 * ph, w + 2 * pw)
    for u in range(kh):
        for v in range(kw):
            padded[:, :, u : u + sh * h_out : sh, v : v + sw * w_out : sw] += cols[:, :, u, v]
    return padded[:, :, ph : ph + h, pw : pw + w]


def conv2d_unfold(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
) -> torch.Tensor:
    """vu3a q1.3: a convolution is one matrix product of the filters and the unfolded patches."""
    n, _, h, w = x.shape
    k_out, _, kh, kw = weight.shape
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    cols = unfold_patches(x, (kh, kw), (sh, sw), (ph, pw))
    y = weight.reshape(k_out, -1) @ cols
    if bias is not None:
        y = y + bias.view(1, -1, 1)
    return y.reshape(n, k_out, out_size(h, kh, sh, ph), out_size(w, kw, sw, pw))
