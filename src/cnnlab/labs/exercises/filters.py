"""dd2427 1.1-1.2: filter banks, batches, activation functions and pooling on a real photo."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.labs.exercises.images import load_photo, show
from cnnlab.labs.exercises.kernels import SOBEL_X

LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
HORIZONTAL_EDGE = torch.tensor([[1.0, 0.0, -1.0]] * 3)


def structure_probes(size: int = 9) -> dict[str, torch.Tensor]:
    """Bright unit-contrast structures on a dark 1 x 1 x size x size field (dd2427 q2, q8)."""
    c = size // 2
    probes = {name: torch.zeros(1, 1, size, size) for name in ("dot", "bar", "edge", "corner", "flat")}
    probes["dot"][..., c, c] = 1
    probes["bar"][..., :, c] = 1
    probes["edge"][..., :, c:] = 1
    probes["corner"][..., c:, c:] = 1
    probes["flat"] += 1
    return probes


def _probe_responses(kernel: torch.Tensor, activation=torch.abs) -> dict[str, float]:
    """Largest activation(response) of a 3x3 filter over each probe (valid positions only)."""
    return {
        name: float(activation(F.conv2d(probe, kernel.view(1, 1, 3, 3))).max())
        for name, probe in structure_probes().items()
    }


def collapsed_kernel(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """The one k1+k2-1 filter equal to correlating with `first` then `second` (full convolution)."""
    k = second.shape[-1] - 1
    return F.conv2d(
        F.pad(first.view(1, 1, *first.shape), (k, k, k, k)), second.flip(-2, -1).view(1, 1, *second.shape)
    )[0, 0]


def filter_bank_weights(channels: int, sobel: bool) -> tuple[torch.Tensor, list[str]]:
    """The practical's bank as K x C x 3 x 3: each 2-D filter repeated over the C input channels."""
    filters = [LAPLACIAN, HORIZONTAL_EDGE, HORIZONTAL_EDGE.T]
    names = ["laplacian", "vertical edges d/dx", "horizontal edges d/dy"]
    if sobel:
        filters += [SOBEL_X, SOBEL_X.T]
        names += ["sobel d/dx", "sobel d/dy"]
    bank = torch.stack([f.expand(channels, 3, 3) for f in filters])
    return bank, names


def _channel_grid(ctx: ExerciseContext, name: str, rows: list[tuple[str, torch.Tensor]], names: list[str]):
    fig, axes = plt.subplots(len(rows), len(names) + 1, figsize=(2.4 * (len(names) + 1), 2 * len(rows)))
    axes = axes.reshape(len(rows), -1)
    for r, (label, (image, response)) in enumerate(rows):
        show(axes[r, 0], image, label)
        for k, channel_name in enumerate(names):
            show(axes[r, k + 1], response[k], f"channel {k + 1}: {channel_name}")
            ctx.add_image(f"{name}/{label}/channel{k + 1}", response[k : k + 1])
    ctx.save_figure(name, fig)


def filter_bank(ctx: ExerciseContext, image: str, second_image: str, scale: float) -> dict:
    """q1, t1, q2-q5, t2-t4: valid vs padded size, one image per channel, a Sobel channel, a batch."""
    x = load_photo(image, scale)[None]
    c, h, w = x.shape[1:]
    laplacian = LAPLACIAN.expand(1, c, 3, 3)
    valid, same = F.conv2d(x, laplacian), F.conv2d(x, laplacian, padding=1)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    show(axes[0], x[0], f"input {h}x{w}")
    show(axes[1], valid[0], f"Laplacian, valid: {valid.shape[2]}x{valid.shape[3]}")
    show(axes[2], same[0], f"Laplacian, pad 1: {same.shape[2]}x{same.shape[3]}")
    ctx.save_figure("laplacian_valid_vs_pad", fig)

    bank3, names3 = filter_bank_weights(c, sobel=False)
    y3 = F.conv2d(x, bank3, padding=1)
    _channel_grid(ctx, "filter_bank", [(image, (x[0], y3[0]))], names3)
    bank5, names5 = filter_bank_weights(c, sobel=True)
    y5 = F.conv2d(x, bank5, padding=1)
    _channel_grid(ctx, "filter_bank_sobel", [(image, (x[0], y5[0]))], names5)

    second = load_photo(second_image, scale)
    second = F.interpolate(second[None], size=(h, w), mode="bilinear", antialias=True)
    batch = torch.cat([x, second])
    y_batch = F.conv2d(batch, bank5)
    _channel_grid(
        ctx,
        "filter_bank_batch",
        [(image, (batch[0], y_batch[0])), (second_image, (batch[1], y_batch[1]))],
        names5,
    )
    prewitt, sobel = y5[0, 1].abs(), y5[0, 3].abs()
    laplacian_probes = _probe_responses(LAPLACIAN)
    probes = structure_probes()
    edges = {"vertical edge": probes["edge"], "horizontal edge": probes["edge"].transpose(-2, -1)}
    edges["flat"] = probes["flat"]
    by_filter = {
        name: {
            probe: float(F.conv2d(image, f.view(1, 1, 3, 3)).abs().max()) for probe, image in edges.items()
        }
        for name, f in zip(names3, bank3[:, 0], strict=True)
    }
    print(f"batch output N x K x H x W = {' x '.join(map(str, y_batch.shape))}")
    return {
        "q2_laplacian_max_abs_response_by_structure": laplacian_probes,
        "q2_strongest_structure": max(laplacian_probes, key=laplacian_probes.get),
        "q2_photo_99th_percentile_over_median_abs_response": float(
            same.abs().flatten().quantile(0.99) / same.abs().flatten().median().clamp_min(1e-12)
        ),
        "input_shape_CxHxW": [c, h, w],
        "q1_valid_output_HxW": list(valid.shape[2:]),
        "q1_formula": "H'' = H - H' + 1, W'' = W - W' + 1",
        "t1_padding_for_same_size": 1,
        "t1_padded_output_HxW": list(same.shape[2:]),
        "t2_max_abs_response_by_filter": by_filter,
        "q3_feature_channels_K": y3.shape[1],
        "q4_filter_depth": bank3.shape[1],
        "t3_channels_with_sobel": y5.shape[1],
        "t3_sobel_over_prewitt_mean_abs_response": float(sobel.mean() / prewitt.mean()),
        "t3_sobel_minus_prewitt_mean_abs": float((sobel - prewitt).abs().mean()),
        "t4_batch_output_NxKxHxW": list(y_batch.shape),
        "t4_each_image_filtered_alone_equals_batch": bool(
            torch.allclose(F.conv2d(batch[1:], bank5), y_batch[1:], atol=1e-5)
        ),
    }


def activation_functions(ctx: ExerciseContext, image: str, scale: float, bias: float) -> dict:
    """t5-t7, q7-q10: negated Laplacian then ReLU, sigmoid, tanh and ReLU with a negative bias."""
    x = load_photo(image, scale, gray=True)[None]
    y = F.conv2d(x, -LAPLACIAN.view(1, 1, 3, 3), padding=1)
    outputs = {
        "relu": F.relu(y),
        "sigmoid": torch.sigmoid(y),
        "tanh": torch.tanh(y),
        f"relu, bias {bias}": F.relu(y + bias),
    }
    fig, axes = plt.subplots(2, len(outputs) + 2, figsize=(3 * (len(outputs) + 2), 5.5))
    show(axes[0, 0], x[0], "input")
    axes[1, 0].axis("off")
    show(axes[0, 1], y[0], "negated Laplacian y")
    axes[1, 1].hist(y.flatten().numpy(), bins=100, log=True)
    axes[1, 1].set_title("values of y", fontsize=8)
    stats = {}
    for col, (label, z) in enumerate(outputs.items(), start=2):
        show(axes[0, col], z[0], label)
        axes[1, col].hist(z.flatten().numpy(), bins=100, log=True)
        axes[1, col].set_title(f"values of {label}", fontsize=8)
        ctx.add_image(f"activations/{label}", z[0])
        stats[label] = {
            "mean": float(z.mean()),
            "std": float(z.std()),
            "min": float(z.min()),
            "max": float(z.max()),
        }
    ctx.save_figure("activation_functions", fig)
    active = float((y > 0).float().mean())
    active_bias = float((y + bias > 0).float().mean())
    preferred = _probe_responses(-LAPLACIAN, F.relu)
    sobel = SOBEL_X.view(1, 1, 3, 3)
    linear_pair = F.conv2d(F.conv2d(x, LAPLACIAN.view(1, 1, 3, 3)), sobel)
    one_layer = F.conv2d(x, collapsed_kernel(LAPLACIAN, SOBEL_X).view(1, 1, 5, 5))
    with_relu = F.conv2d(F.relu(F.conv2d(x, LAPLACIAN.view(1, 1, 3, 3))), sobel)
    dot = structure_probes()["dot"]
    c, laplacian = dot.shape[-1] // 2, LAPLACIAN.view(1, 1, 3, 3)
    return {
        "q7_two_linear_convs_vs_one_5x5_conv_max_abs_error": float((linear_pair - one_layer).abs().max()),
        "q7_with_relu_between_vs_one_5x5_conv_max_abs_error": float((with_relu - one_layer).abs().max()),
        "q7_output_max_abs": float(linear_pair.abs().max()),
        "q8_relu_negated_laplacian_max_response_by_structure": preferred,
        "q8_preferred_structure": max(preferred, key=preferred.get),
        "q9_at_a_bright_dot_relu_laplacian": float(F.relu(F.conv2d(dot, laplacian, padding=1))[..., c, c]),
        "q9_at_a_bright_dot_relu_negated_laplacian": float(
            F.relu(F.conv2d(dot, -laplacian, padding=1))[..., c, c]
        ),
        "q9_active_fraction_relu_laplacian": float((y < 0).float().mean()),
        "q9_active_fraction_relu_negated_laplacian": active,
        "activation_stats": stats,
        "q10_active_fraction_relu": active,
        "q10_active_fraction_relu_bias": active_bias,
        "bias": bias,
        "q10_more_selective_with_bias": active_bias < active,
    }


def pooling(ctx: ExerciseContext, image: str, scale: float, sizes: list[int]) -> dict:
    """t8: max and average pooling at several window sizes, on the photo and on its filtered version,
    with what each keeps: the mean, the peak, and how much a 1-pixel shift of the input moves the output."""
    x = load_photo(image, scale, gray=True)[None]
    filtered = F.relu(F.conv2d(x, -LAPLACIAN.view(1, 1, 3, 3), padding=1))
    shapes, stats = {}, {}
    for label, source in (("image", x), ("filtered", filtered)):
        fig, axes = plt.subplots(2, len(sizes) + 1, figsize=(3 * (len(sizes) + 1), 5))
        show(axes[0, 0], source[0], label)
        axes[1, 0].axis("off")
        stats[label] = {"unpooled": {"shift_change": _shift_change(source, lambda t: t)}}
        for col, size in enumerate(sizes, start=1):
            pooled_max = F.max_pool2d(source, size)
            pooled_avg = F.avg_pool2d(source, size)
            show(axes[0, col], pooled_max[0], f"max {size}x{size}: {tuple(pooled_max.shape[2:])}")
            show(axes[1, col], pooled_avg[0], f"avg {size}x{size}")
            ctx.add_image(f"pooling/{label}/max{size}", pooled_max[0])
            ctx.add_image(f"pooling/{label}/avg{size}", pooled_avg[0])
            shapes[f"{size}x{size}"] = list(pooled_max.shape[2:])
            kept = source[..., : pooled_max.shape[2] * size, : pooled_max.shape[3] * size]
            for kind, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
                pooled = pool(source, size)
                stats[label][f"{kind}{size}"] = {
                    "mean_over_input_mean": float(pooled.mean() / kept.mean()),
                    "peak_over_input_peak": float(pooled.max() / kept.max()),
                    "shift_change": _shift_change(source, lambda t, pool=pool, size=size: pool(t, size)),
                }
        ctx.save_figure(f"pooling_{label}", fig)
    return {"input_HxW": list(x.shape[2:]), "pooled_HxW": shapes, "sizes": sizes, "stats": stats}


def _shift_change(x: torch.Tensor, op) -> float:
    """How much op's output moves, relative to its size, when the input shifts by one pixel to the right."""
    base, shifted = op(x[..., 1:]), op(x[..., :-1])
    return float((base - shifted).norm() / base.norm())
