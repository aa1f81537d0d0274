"""Per-layer table of an nn.Module: torchinfo shapes, params, mult-adds, plus receptive fields."""

from __future__ import annotations

import csv
from pathlib import Path

import torchinfo
from torch import nn

from cnnlab.labs.analysis.arithmetic import receptive_step

WINDOWED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool2d, nn.AvgPool2d)
GLOBAL = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Linear)
COLUMNS = ["layer", "type", "output_shape", "params", "mult_adds", "receptive_field", "jump"]


def _first(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else int(value[0])


def layer_table(model: nn.Module, input_shape: tuple[int, int, int]) -> list[dict]:
    """One row per leaf layer in call order; the receptive field assumes a chain of layers."""
    names = {module: name for name, module in model.named_modules()}
    stats = torchinfo.summary(model, input_size=(1, *input_shape), depth=100, verbose=0, device="cpu")
    rf, jump = 1, 1
    rows = []
    for info in stats.summary_list:
        module = info.module
        if not info.is_leaf_layer:
            continue
        if isinstance(module, WINDOWED) and rf is not None:
            rf, jump = receptive_step(
                rf,
                jump,
                _first(module.kernel_size),
                _first(module.stride),
                _first(getattr(module, "dilation", 1)),
            )
        elif isinstance(module, GLOBAL):
            rf, jump = None, None
        rows.append(
            {
                "layer": names.get(module, info.var_name),
                "type": info.class_name,
                "output_shape": "x".join(str(v) for v in info.output_size[1:]),
                "params": info.num_params,
                "mult_adds": info.macs,
                "receptive_field": rf,
                "jump": jump,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """Fixed-width text table; receptive field None reads 'all': the layer sees the whole input."""
    cells = [[str(r[c]) if r[c] is not None else "all" for c in COLUMNS] for r in rows]
    total = [
        "total",
        "",
        "",
        str(sum(r["params"] for r in rows)),
        str(sum(r["mult_adds"] for r in rows)),
        "",
        "",
    ]
    cells.append(total)
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def write_csv(rows: list[dict], path: Path) -> None:
    """The same table for spreadsheets and the report module."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
