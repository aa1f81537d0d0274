"""Closed forms for conv/pool stacks: output sizes, receptive fields, weights and mul-adds."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnnlab.errors import ConfigError


def output_size(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """floor((n + 2p - d(k-1) - 1) / s) + 1, with PyTorch's ceil_mode rule for pooling."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    needed = dilation * (kernel - 1) + 1 - 2 * padding
    if span < 0:
        raise ConfigError(
            f"kernel={kernel} (dilation {dilation}) does not fit an input of size {size} with "
            f"padding {padding}; the input must be at least {needed}."
        )
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def receptive_step(rf: int, jump: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """One layer of r_l = r_(l-1) + (k_l - 1) d_l j_(l-1), j_l = j_(l-1) s_l."""
    return rf + (kernel - 1) * dilation * jump, jump * stride


def receptive_field_stack(kernels: list[int]) -> int:
    """mainf6 tb1: m stride-1 convolutions see 1 + sum_i (k_i - 1) pixels."""
    return 1 + sum(k - 1 for k in kernels)


def receptive_field_blocks(blocks: list[list[int]], pools: list[int]) -> int:
    """mainf6 tb2: 1 + sum_j (prod_{i<j} d_i)(sum_i (k_ji - 1) + d_j - 1) with d_j pools."""
    rf, jump = 1, 1
    for kernels, pool in zip(blocks, pools, strict=True):
        rf += jump * (sum(k - 1 for k in kernels) + pool - 1)
        jump *= pool
    return rf


def output_size_blocks(size: int, blocks: list[list[int]], pools: list[int]) -> int:
    """mainf6 tb3: under VALID padding n_j = floor((n_(j-1) - sum_i (k_ji - 1)) / d_j)."""
    for kernels, pool in zip(blocks, pools, strict=True):
        size = (size - sum(k - 1 for k in kernels)) // pool
    return size


def conv_weights(in_channels: int, out_channels: int, kernel: int, bias: bool = True) -> int:
    """C_out (C_in k^2 + 1): one k x k x C_in filter and one bias per output channel."""
    return out_channels * (in_channels * kernel * kernel + int(bias))


def conv_mul_adds(in_channels: int, out_channels: int, kernel: int, out_h: int, out_w: int) -> int:
    """One k x k x C_in dot product per output value: H' W' C_out C_in k^2 multiply-adds."""
    return out_h * out_w * out_channels * in_channels * kernel * kernel


def fc_equivalent_weights(in_shape: tuple[int, ...], out_shape: tuple[int, ...], bias: bool = True) -> int:
    """rdfia q1: a dense layer from every input value to every output value, plus one bias each."""
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    return n_in * n_out + (n_out if bias else 0)


@dataclass
class LayerSpec:
    """One layer of a network on paper: conv, maxpool, avgpool or fc, as the lab texts give them."""

    kind: str
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    ceil_mode: bool = False
    out_channels: int | None = None
    name: str = ""


def walk_specs(specs: list[LayerSpec], input_shape: tuple[int, int, int]) -> list[dict]:
    """Shape, weights, mul-adds, receptive field and jump after each layer of a paper network."""
    c, h, w = input_shape
    rf, jump = 1, 1
    rows = []
    for index, spec in enumerate(specs):
        name = spec.name or f"{spec.kind}{index + 1}"
        if spec.kind == "fc":
            n_in, n_out = c * h * w, spec.out_channels
            rows.append(
                dict(
                    name=name,
                    shape=(n_out, 1, 1),
                    weights=n_in * n_out + n_out,
                    mul_adds=n_in * n_out,
                    receptive_field=None,
                    jump=None,
                )
            )
            c, h, w, rf, jump = n_out, 1, 1, None, None
            continue
        h2 = output_size(h, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
        w2 = output_size(w, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
        if spec.kind == "conv":
            out_c = spec.out_channels
            weights = conv_weights(c, out_c, spec.kernel)
            mul_adds = conv_mul_adds(c, out_c, spec.kernel, h2, w2)
        elif spec.kind in ("maxpool", "avgpool"):
            out_c, weights, mul_adds = c, 0, 0
        else:
            raise ConfigError(f"layer kind={spec.kind!r} is unknown; use conv, maxpool, avgpool or fc.")
        if rf is not None:
            rf, jump = receptive_step(rf, jump, spec.kernel, spec.stride, spec.dilation)
        rows.append(
            dict(
                name=name,
                shape=(out_c, h2, w2),
                weights=weights,
                mul_adds=mul_adds,
                receptive_field=rf,
                jump=jump,
                fc_equivalent_weights=fc_equivalent_weights((c, h, w), (out_c, h2, w2)),
            )
        )
        c, h, w = out_c, h2, w2
    return rows
