"""Activation capture, the summary table and run loading."""

import torch
from torch import nn

from cnnlab.labs.analysis.hooks import capture_activations, conv_activations
from cnnlab.labs.analysis.summary import format_table, layer_table, write_csv


def small_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Flatten(),
        nn.LazyLinear(10),
    )


def test_capture_every_leaf_in_order():
    model = small_net()
    x = torch.randn(2, 1, 12, 12)
    model(x)
    names = [name for name, _, _ in capture_activations(model, x)]
    assert names == ["0", "1", "2.0", "2.1", "2.2", "2.3", "3", "4"]


def test_conv_activations_are_after_relu():
    model = small_net().eval()
    x = torch.randn(1, 1, 12, 12)
    model(x)
    acts = conv_activations(model, x)
    assert list(acts) == ["0", "2.0"]
    assert acts["2.0"].shape == (1, 8, 8, 8)
    assert (acts["2.0"] >= 0).all() and (acts["0"] >= 0).all()


def test_summary_table_and_csv(tmp_path):
    model = small_net()
    model(torch.zeros(1, 1, 12, 12))
    rows = layer_table(model, (1, 12, 12))
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters())
    assert rows[-1]["receptive_field"] is None and rows[5]["receptive_field"] == 6
    write_csv(rows, tmp_path / "summary.csv")
    assert (tmp_path / "summary.csv").read_text().startswith("layer,type,output_shape")
    assert "total" in format_table(rows)
