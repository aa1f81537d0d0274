"""Closed-form conv arithmetic against real layers and the labs' known answers."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnlab.labs.analysis.arithmetic import (
    LayerSpec,
    output_size,
    output_size_blocks,
    receptive_field_blocks,
    receptive_field_stack,
    walk_specs,
)
from cnnlab.labs.analysis.summary import layer_table

layer = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["conv", "maxpool", "avgpool"]),
        "kernel": st.integers(1, 5),
        "stride": st.integers(1, 3),
        "pad_frac": st.integers(0, 2),
        "dilation": st.integers(1, 2),
        "ceil_mode": st.booleans(),
    }
)


def build(specs: list[dict], channels: int) -> tuple[nn.Sequential, list[LayerSpec]]:
    modules, paper = [], []
    for s in specs:
        kind, k, stride, d = s["kind"], s["kernel"], s["stride"], s["dilation"]
        pad = min(s["pad_frac"], k // 2)
        if kind == "conv":
            modules.append(nn.Conv2d(channels, channels, k, stride, pad, dilation=d))
            paper.append(LayerSpec("conv", k, stride, pad, d, out_channels=channels))
        elif kind == "maxpool":
            modules.append(nn.MaxPool2d(k, stride, pad, dilation=d, ceil_mode=s["ceil_mode"]))
            paper.append(LayerSpec("maxpool", k, stride, pad, d, s["ceil_mode"]))
        else:
            modules.append(nn.AvgPool2d(k, stride, pad, ceil_mode=s["ceil_mode"]))
            paper.append(LayerSpec("avgpool", k, stride, pad, 1, s["ceil_mode"]))
    return nn.Sequential(*modules), paper


def fits(paper: list[LayerSpec], size: int) -> bool:
    for spec in paper:
        if size + 2 * spec.padding < spec.dilation * (spec.kernel - 1) + 1:
            return False
        size = output_size(size, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.ceil_mode)
    return True


@settings(max_examples=60, deadline=None)
@given(st.lists(layer, min_size=1, max_size=5), st.integers(8, 40), st.integers(8, 40))
def test_arithmetic_matches_real_layers(specs, h, w):
    model, paper = build(specs, 2)
    if not (fits(paper, h) and fits(paper, w)):
        return
    y = model(torch.zeros(1, 2, h, w))
    rows = walk_specs(paper, (2, h, w))
    assert rows[-1]["shape"] == tuple(y.shape[1:])
    assert rows[-1]["weights"] + sum(r["weights"] for r in rows[:-1]) == sum(
        p.numel() for p in model.parameters()
    )


def test_receptive_field_matches_gradient_support():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, dilation=2))
    for p in model.parameters():
        nn.init.constant_(p, 0.1)
    x = torch.ones(1, 1, 40, 40, requires_grad=True)
    model(x)[0, 0, 5, 5].backward()
    rows_hit = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    support = int(rows_hit.max() - rows_hit.min() + 1)
    assert layer_table(model, (1, 40, 40))[-1]["receptive_field"] == support == 12


def test_vu3a_q3_10_known_answers():
    assert (output_size(768, 5, 2, 1), output_size(1024, 5, 2, 1)) == (383, 511)
    assert (output_size(1080, 5, 2, 1), output_size(1920, 5, 2, 1)) == (539, 959)


def test_deblur_receptive_fields():
    assert receptive_field_stack([3, 3, 3]) == 7
    assert receptive_field_stack([5, 3, 3]) == 9
    deblur = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 1, 3, padding=1),
    )
    rows = layer_table(deblur, (1, 64, 64))
    assert rows[-1]["receptive_field"] == 7
    assert [r["output_shape"] for r in rows if r["type"] == "Conv2d"] == ["32x64x64"] * 2 + ["1x64x64"]


def test_mainf6_block_formulas_match_real_layers():
    blocks, pools = [[3, 3], [3, 5, 3]], [2, 3]
    modules = []
    for kernels, pool in zip(blocks, pools, strict=True):
        modules += [nn.Conv2d(1, 1, k) for k in kernels] + [nn.MaxPool2d(pool)]
    model = nn.Sequential(*modules)
    assert layer_table(model, (1, 64, 64))[-1]["receptive_field"] == receptive_field_blocks(blocks, pools)
    assert model(torch.zeros(1, 1, 64, 64)).shape[-1] == output_size_blocks(64, blocks, pools)
