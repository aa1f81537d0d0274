"""Conv arithmetic questions: closed forms per layer, each checked against real torch layers."""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.labs.analysis.arithmetic import (
    LayerSpec,
    conv_weights,
    fc_equivalent_weights,
    output_size,
    output_size_blocks,
    receptive_field_blocks,
    receptive_field_stack,
    walk_specs,
)
from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.labs.exercises.images import load_photo


def specs_to_module(
    specs: list[LayerSpec], input_shape: tuple[int, int, int], width_divisor: int = 1
) -> nn.Sequential:
    """Real layers for a paper network, fc as a whole-map convolution, optionally narrowed to run fast."""
    layers: list[nn.Module] = []
    channels, h, w = input_shape
    for spec, row in zip(specs, walk_specs(specs, input_shape), strict=True):
        if spec.kind in ("conv", "fc"):
            out = max(1, spec.out_channels // width_divisor)
            kernel = (h, w) if spec.kind == "fc" else spec.kernel
            layers.append(nn.Conv2d(channels, out, kernel, spec.stride, spec.padding, spec.dilation))
            channels = out
        elif spec.kind == "maxpool":
            layers.append(nn.MaxPool2d(spec.kernel, spec.stride, spec.padding, ceil_mode=spec.ceil_mode))
        else:
            layers.append(nn.AvgPool2d(spec.kernel, spec.stride, spec.padding, ceil_mode=spec.ceil_mode))
        _, h, w = row["shape"]
    return nn.Sequential(*layers)


def _layer_shapes(model: nn.Sequential, input_shape: tuple[int, int, int]) -> list[list[int]]:
    shapes, x = [], torch.zeros(1, *input_shape)
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            shapes.append(list(x.shape[1:]))
    return shapes


def _write_table(ctx: ExerciseContext, name: str, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(ctx.out_dir / f"{name}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def _checked_walk(ctx: ExerciseContext, name: str, specs: list[LayerSpec], input_shape) -> dict:
    """walk_specs' table, each shape compared with the real layers' and the weights with theirs."""
    rows = walk_specs(specs, input_shape)
    real = specs_to_module(specs, input_shape)
    real_shapes = _layer_shapes(real, input_shape)
    for row, shape in zip(rows, real_shapes, strict=True):
        row["shape"] = list(row["shape"])
        row["real_shape"] = shape
    _write_table(ctx, name, rows)
    return {
        "layers": rows,
        "shapes_match_real_layers": all(r["shape"] == r["real_shape"] for r in rows),
        "weights_total": sum(r["weights"] for r in rows),
        "real_weights_total": sum(p.numel() for p in real.parameters()),
    }


def deblur_specs(first_kernel: int = 3, padding: bool = True) -> list[LayerSpec]:
    """dd2427's net: conv kxkx32, conv 3x3x32, conv 3x3x1 (ReLUs change no size, so they are left out)."""
    kernels = [first_kernel, 3, 3]
    widths = [32, 32, 1]
    return [
        LayerSpec("conv", k, 1, k // 2 if padding else 0, out_channels=c, name=f"conv{i + 1}")
        for i, (k, c) in enumerate(zip(kernels, widths, strict=True))
    ]


def _deblur_net_questions(image_size: int, seed: int, inits: int = 20) -> dict:
    """q17, q18, q20 on the real DeblurNet: what a last ReLU would cut, its layers, filter depths."""
    from cnnlab.models.deblur import DeblurNet

    image = torch.rand(1, 1, image_size, image_size, generator=torch.Generator().manual_seed(seed))
    below_zero = []
    for init in range(inits):
        torch.manual_seed(seed + init)
        net = DeblurNet(in_channels=1, depth=3, width=32, kernel_size=3, padding=1)
        with torch.no_grad():
            below_zero.append(float((net(image) < 0).float().mean()))
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    try:
        F.conv2d(torch.zeros(1, 32, 8, 8), torch.zeros(32, 16, 3, 3))
        mismatch = "ran (unexpected)"
    except RuntimeError as error:
        mismatch = str(error).splitlines()[0]
    return {
        "q17_output_pixels_below_zero_at_init_mean": statistics.mean(below_zero),
        "q17_output_pixels_below_zero_by_init": below_zero,
        "q17_note": f"{inits} random inits on one random image: a ReLU after the last conv would "
        "output 0 and pass no gradient at these pixels",
        "q18_layers": len(net),
        "q18_layer_types": [type(m).__name__ for m in net],
        "q18_layers_with_weights": len(convs),
        "q20_filter_shapes_out_in_h_w": [list(m.weight.shape) for m in convs],
        "q20_filter_depth_equals_input_channels": all(
            m.weight.shape[1] == c
            for m, c in zip(convs, [1] + [m.out_channels for m in convs[:-1]], strict=True)
        ),
        "q20_depth_16_filters_on_32_channels": mismatch,
    }


def conv_arith_dd2427(ctx: ExerciseContext, image_size: int) -> dict:
    """q1, q16-q22: sizes, mul-adds and receptive field of the deblur net; pad 0 and a 5x5 first layer."""
    shape = (1, image_size, image_size)
    base = _checked_walk(ctx, "deblur_pad1", deblur_specs(), shape)
    pad0 = _checked_walk(ctx, "deblur_pad0", deblur_specs(padding=False), shape)
    wide = _checked_walk(ctx, "deblur_first5x5", deblur_specs(5), shape)
    relu_ops = [image_size * image_size * 32] * 2
    return {
        **_deblur_net_questions(image_size, int(ctx.cfg.seed)),
        "q1_valid_output": f"{image_size - 2}x{image_size - 2} for a 3x3 filter on {image_size}x{image_size}",
        "q16_pad0_output_shapes": [r["shape"] for r in pad0["layers"]],
        "q19_tensor_shapes": [r["shape"] for r in base["layers"]],
        "q21_mul_adds_per_conv": [r["mul_adds"] for r in base["layers"]],
        "q21_flops_per_conv_lab_count": [2 * r["mul_adds"] for r in base["layers"]],
        "q21_relu_ops": relu_ops,
        "q22_receptive_field": base["layers"][-1]["receptive_field"],
        "q22_receptive_field_5x5_first": wide["layers"][-1]["receptive_field"],
        "q22_closed_form": [receptive_field_stack([3, 3, 3]), receptive_field_stack([5, 3, 3])],
        "weights": base["weights_total"],
        "shapes_match_real_layers": base["shapes_match_real_layers"]
        and pad0["shapes_match_real_layers"]
        and wide["shapes_match_real_layers"],
        "tables": base["layers"],
    }


def _valid_block_net(blocks: list[list[int]], pools: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for kernels, pool in zip(blocks, pools, strict=True):
        layers += [nn.Conv2d(1, 1, k) for k in kernels] + [nn.MaxPool2d(pool)]
    return nn.Sequential(*layers)


def _gradient_support(model: nn.Sequential, size: int) -> int:
    """Receptive field measured: rows of the input that reach one central output value."""
    for p in model.parameters():
        nn.init.constant_(p, 0.01)
    avg = nn.Sequential(*[nn.AvgPool2d(m.kernel_size) if isinstance(m, nn.MaxPool2d) else m for m in model])
    x = torch.ones(1, 1, size, size, requires_grad=True)
    y = avg(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    return int(rows.max() - rows.min() + 1)


def conv_arith_mainf6(ctx: ExerciseContext, size: int, examples: list[dict]) -> dict:
    """tb 1-3: receptive field of m convs and of m conv+pool blocks, VALID output size; real layers agree."""
    answers = []
    for example in examples:
        blocks, pools = example["blocks"], example["pools"]
        model = _valid_block_net(blocks, pools)
        out = model(torch.zeros(1, 1, size, size)).shape[-1]
        answers.append(
            {
                "blocks": blocks,
                "pools": pools,
                "receptive_field": receptive_field_blocks(blocks, pools),
                "receptive_field_measured": _gradient_support(model, 4 * size),
                "valid_output_size": output_size_blocks(size, blocks, pools),
                "valid_output_size_real": int(out),
                "receptive_field_convs_only": receptive_field_stack([k for b in blocks for k in b]),
            }
        )
    return {
        "tb1_formula": "r = 1 + sum_i (k_i - 1)",
        "tb2_formula": "r = 1 + sum_j (prod_{l<j} d_l) * (sum_i (k_ji - 1) + d_j - 1)",
        "tb3_formula": "n_j = floor((n_{j-1} - sum_i (k_ji - 1)) / d_j), n_0 = n",
        "input_size": size,
        "examples": answers,
        "all_match_real_layers": all(
            a["receptive_field"] == a["receptive_field_measured"]
            and a["valid_output_size"] == a["valid_output_size_real"]
            for a in answers
        ),
    }


def conv_arith_vu3a(
    ctx: ExerciseContext, sizes: list[list[int]], kernel: int, stride: int, padding: int
) -> dict:
    """q3.10 output sizes of big images through one strided conv; q3.11 global pooling shapes."""
    conv = nn.Conv2d(3, 1, kernel, stride, padding)
    outputs = {}
    for width, height in sizes:
        closed = [output_size(width, kernel, stride, padding), output_size(height, kernel, stride, padding)]
        with torch.no_grad():
            real = conv(torch.zeros(1, 3, height, width)).shape
        outputs[f"3x{width}x{height}"] = {"closed_form_WxH": closed, "real_WxH": [real[3], real[2]]}
    x = torch.randn(4, 16, 13, 9)
    pooled = {
        "global_max": list(nn.AdaptiveMaxPool2d(1)(x).shape),
        "global_avg": list(nn.AdaptiveAvgPool2d(1)(x).shape),
        "input": list(x.shape),
    }
    return {
        "q3_10_formula": "floor((n + 2p - k) / s) + 1",
        "q3_10_kernel_stride_padding": [kernel, stride, padding],
        "q3_10_outputs": outputs,
        "q3_11_global_pooling_shapes": pooled,
    }


def vgg16_specs(fc_as_conv: bool = True) -> list[LayerSpec]:
    """VGG16 (rdfia figure 2): 13 3x3 convs in 5 blocks with 2x2 pools, fc 4096-4096-1000 as convs."""
    specs: list[LayerSpec] = []
    for block, (width, repeat) in enumerate([(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)], start=1):
        specs += [
            LayerSpec("conv", 3, 1, 1, out_channels=width, name=f"conv{block}_{i + 1}") for i in range(repeat)
        ]
        specs.append(LayerSpec("maxpool", 2, 2, name=f"pool{block}"))
    specs += [
        LayerSpec("conv", 7, out_channels=4096, name="fc6"),
        LayerSpec("conv", 1, out_channels=4096, name="fc7"),
        LayerSpec("conv", 1, out_channels=1000, name="fc8"),
    ]
    return specs


def alexnet_style_specs(ceil_mode: bool = False) -> list[LayerSpec]:
    """rdfia 2.1: conv5x5x32, pool, conv5x5x64, pool, conv5x5x64, pool, fc1000, fc10; pad 2, pools 2/2."""
    specs = []
    for i, width in enumerate([32, 64, 64], start=1):
        specs.append(LayerSpec("conv", 5, 1, 2, out_channels=width, name=f"conv{i}"))
        specs.append(LayerSpec("maxpool", 2, 2, 0, ceil_mode=ceil_mode and i == 3, name=f"pool{i}"))
    return specs + [
        LayerSpec("fc", out_channels=1000, name="fc4"),
        LayerSpec("fc", out_channels=10, name="fc5"),
    ]


def _settings_for(
    kernel: int,
    want: Callable[[int], int],
    make_layer: Callable[[int, int, int], nn.Module],
    sizes: list[int],
) -> list[dict]:
    """Every (stride, padding) with stride <= kernel, padding <= kernel // 2 whose output size is
    want(n) for each n of `sizes`, by the closed form and by the real layer alike."""
    found = []
    for stride in range(1, kernel + 1):
        for padding in range(kernel // 2 + 1):
            closed = all(output_size(n, kernel, stride, padding) == want(n) for n in sizes)
            layer = make_layer(kernel, stride, padding)
            with torch.no_grad():
                real = all(layer(torch.zeros(1, 1, n, n)).shape[-1] == want(n) for n in sizes)
            if closed or real:
                found.append(
                    {
                        "kernel": kernel,
                        "stride": stride,
                        "padding": padding,
                        "real_layer_agrees": closed == real,
                    }
                )
    return found


def _conv_layer(kernel: int, stride: int, padding: int) -> nn.Conv2d:
    return nn.Conv2d(1, 1, kernel, stride, padding)


def _shift_change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean() / a.abs().mean())


def _convolution_vs_dense(example: dict, generator: torch.Generator) -> dict:
    """q2: weight sharing, translation equivariance (which a dense layer lacks), and the local view."""
    x, y, z = example["input"]
    k, c = example["kernel"], example["filters"]
    small = (z, x // 2, y // 2)
    conv = nn.Conv2d(z, c, k, padding=k // 2, padding_mode="circular", bias=False)
    dense = nn.Linear(math.prod(small), c * small[1] * small[2], bias=False)
    image = torch.randn(1, *small, generator=generator)
    shifted = image.roll(3, dims=-1)
    with torch.no_grad():
        conv_error = (conv(shifted) - conv(image).roll(3, dims=-1)).abs().max()
        dense_out = dense(image.flatten(1)).view(1, c, *small[1:])
        dense_shifted = dense(shifted.flatten(1)).view(1, c, *small[1:])
    conv_weights_count = sum(p.numel() for p in conv.parameters())
    dense_weights_count = sum(p.numel() for p in dense.parameters())
    return {
        "q2_input_for_layers": list(small),
        "q2_conv_weights": conv_weights_count,
        "q2_dense_weights_same_output": dense_weights_count,
        "q2_dense_over_conv_weights": dense_weights_count / conv_weights_count,
        "q2_conv_shift_equivariance_max_abs_error": float(conv_error),
        "q2_dense_shift_equivariance_relative_error": _shift_change(
            dense_out.roll(3, dims=-1), dense_shifted
        ),
        "q2_limit_one_conv_sees_pixels": [k, k],
        "q2_limit_input_pixels": [x, y],
    }


def _pooling_effects(image: str, generator: torch.Generator, total: int) -> dict:
    """q3: pooling shrinks the maps (and so fc4) and makes the features change less under a shift
    (random 5x5 filters on a photo, the photo moved by one pixel)."""
    photo = load_photo(image)
    photo = F.interpolate(photo[None], size=(128, 128), mode="bilinear", antialias=True)
    filters = torch.randn(16, 3, 5, 5, generator=generator)
    with torch.no_grad():
        features = [F.relu(F.conv2d(x, filters, padding=2)) for x in (photo, photo.roll(1, dims=-1))]
    changes = {"no_pool": _shift_change(*features)}
    for size in (2, 4, 8):
        changes[f"max_pool_{size}x{size}"] = _shift_change(*(F.max_pool2d(f, size) for f in features))
    kept = F.max_pool2d(features[0], 2).numel() / features[0].numel()
    no_pool = walk_specs([s for s in alexnet_style_specs() if s.kind != "maxpool"], (3, 32, 32))
    return {
        "q3_image": image,
        "q3_relative_feature_change_under_1px_shift": changes,
        "q3_values_kept_by_a_2x2_pool": kept,
        "q3_fc4_weights_with_pools": next(
            r["weights"] for r in walk_specs(alexnet_style_specs(), (3, 32, 32)) if r["name"] == "fc4"
        ),
        "q3_fc4_weights_without_pools": next(r["weights"] for r in no_pool if r["name"] == "fc4"),
        "q3_total_weights_without_pools": sum(r["weights"] for r in no_pool),
        "q3_total_weights_with_pools": total,
    }


def _real_alexnet_style_weights() -> list[int]:
    """Parameter counts of the trained model class's layers (conv and linear, in order)."""
    from cnnlab.models.alexnet_style import AlexNetStyle

    model = AlexNetStyle()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    return [sum(p.numel() for p in m.parameters()) for m in model if isinstance(m, nn.Conv2d | nn.Linear)]


def conv_arith_rdfia(
    ctx: ExerciseContext,
    example: dict,
    large_input: int,
    width_divisor: int,
    train_examples: int,
    image: str,
    bow: dict,
) -> dict:
    """q1-q12: sizes, weights, fc as convolution on a larger input, receptive fields, AlexNet-style table."""
    x, y, z = example["input"]
    k, s, p, c = example["kernel"], example["stride"], example["padding"], example["filters"]
    out = [output_size(x, k, s, p), output_size(y, k, s, p), c]
    q1 = {
        "formula": "x' = floor((x + 2p - k) / s) + 1, same for y; depth C",
        "example": example,
        "output_shape": out,
        "weights": conv_weights(z, c, k, bias=False),
        "weights_with_bias": conv_weights(z, c, k),
        "fc_equivalent_weights": fc_equivalent_weights((x, y, z), tuple(out), bias=False),
        "fc_equivalent_weights_with_bias": fc_equivalent_weights((x, y, z), tuple(out)),
    }

    vgg = vgg16_specs()
    vgg_rows = walk_specs(vgg[:-3], (3, 224, 224))
    vgg_conv_rows = walk_specs(vgg, (3, 224, 224))
    narrow = specs_to_module(vgg, (3, 224, 224), width_divisor)
    features = narrow[: len(vgg) - 3]
    with torch.no_grad():
        maps = {n: features(torch.zeros(1, 3, n, n)) for n in (224, large_input)}
        conv_out = list(narrow(torch.zeros(1, 3, large_input, large_input)).shape[1:])
        dense_fc6 = nn.Linear(maps[224].flatten(1).shape[1], 8)
        try:
            dense_fc6(maps[large_input].flatten(1))
            dense_error = None
        except RuntimeError as error:
            dense_error = str(error).splitlines()[0]
    feature_shapes = {n: list(m.shape[1:]) for n, m in maps.items()}
    large_rows = walk_specs(vgg, (3, large_input, large_input))
    q4_q6 = {
        "vgg16_conv_part_output_224": list(vgg_rows[-1]["shape"]),
        f"vgg16_conv_part_output_{large_input}": list(large_rows[-4]["shape"]),
        "q4_real_feature_shapes": feature_shapes,
        "q4_dense_fc6_on_larger_input": dense_error or "ran (unexpected)",
        "q5_fc6_as_conv_weights": vgg_conv_rows[-3]["weights"],
        "q5_fc6_dense_weights": 512 * 7 * 7 * 4096 + 4096,
        "q6_output_shape_fc_as_conv_224": list(vgg_conv_rows[-1]["shape"]),
        f"q6_output_shape_fc_as_conv_{large_input}": list(large_rows[-1]["shape"]),
        "q6_real_output_spatial_size": conv_out[1:],
        "vgg16_total_weights": sum(r["weights"] for r in vgg_conv_rows),
    }
    q7 = {
        "conv1_1": vgg_rows[0]["receptive_field"],
        "conv1_2": vgg_rows[1]["receptive_field"],
        "per_layer": {r["name"]: r["receptive_field"] for r in vgg_conv_rows},
    }

    alex = _checked_walk(ctx, "alexnet_style", alexnet_style_specs(), (3, 32, 32))
    alex_ceil = walk_specs(alexnet_style_specs(ceil_mode=True), (3, 28, 28))
    total = alex["weights_total"]
    fc4 = next(r for r in alex["layers"] if r["name"] == "fc4")
    real_weights = _real_alexnet_style_weights()
    sizes = list(range(8, 65))
    same_size = _settings_for(5, lambda n: n, _conv_layer, sizes)
    halving = _settings_for(2, lambda n: n // 2, nn.MaxPool2d, sizes[::2])
    words, dim, classes = bow["words"], bow["descriptor_dim"], bow["classes"]
    bow_total = words * dim + classes * (words + 1)
    generator = torch.Generator().manual_seed(int(ctx.cfg.seed))
    return {
        "q1": q1,
        "q4_q6": q4_q6,
        "q7_receptive_fields": q7,
        **_convolution_vs_dense(example, generator),
        **_pooling_effects(image, generator, total),
        "q8_conv_same_size": same_size[0],
        "q8_all_settings": same_size,
        "q9_pool_halving": halving[0],
        "q9_all_settings": halving,
        "q10_layers": [
            {
                "name": r["name"],
                "output_shape": r["shape"],
                "weights": r["weights"],
                "share_of_weights": r["weights"] / total,
            }
            for r in alex["layers"]
        ],
        "q10_shapes_match_real_layers": alex["shapes_match_real_layers"],
        "q10_weights_match_model_class": real_weights
        == [r["weights"] for r in alex["layers"] if r["weights"]],
        "q10_fc4_share_of_weights": fc4["weights"] / total,
        "q11_total_weights": total,
        "q11_real_total_weights": alex["real_weights_total"],
        "q11_model_class_total_weights": sum(real_weights),
        "q11_train_examples": train_examples,
        "q11_weights_per_example": total / train_examples,
        "q12_bow_svm_weights": {
            "assumption": f"{words} visual words of {dim}-d SIFT descriptors (k-means codebook) and "
            f"{classes} one-vs-rest linear SVMs on the {words}-bin histogram",
            "codebook": words * dim,
            "svm": classes * (words + 1),
            "total": bow_total,
        },
        "q12_net_over_bow_svm_weights": total / bow_total,
        "q22_pool3_ceil_mode_on_28": list(alex_ceil[5]["shape"]),
    }
