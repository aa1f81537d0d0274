"""Gradient questions: dd2427 backprop checks and loss layers, keras7 e3, mainf6 ta, vu3a q1."""

from __future__ import annotations

import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from cnnlab.labs.blocks.conv_function import conv2d_autograd, conv_backward
from cnnlab.labs.blocks.keras7_grad import conv_grad_input, conv_grad_kernel, gradient_ascent
from cnnlab.labs.blocks.loop_conv import conv2d_loops, conv2d_single_loops
from cnnlab.labs.blocks.losses import l1_loss_backward, l1_loss_forward, l2_loss_backward, l2_loss_forward
from cnnlab.labs.blocks.mainf6_grad import maxpool2_grad_input, same_conv, same_conv_grad_weight
from cnnlab.labs.blocks.numcheck import DerivativeCheck, check_projected
from cnnlab.labs.blocks.unfold import conv2d_unfold, unfold_patches
from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.labs.exercises.images import load_photo, show
from cnnlab.labs.exercises.kernels import KERAS7_SOBEL_X

SOBEL_X = KERAS7_SOBEL_X.to(torch.float64)


def _check_figure(ctx: ExerciseContext, name: str, checks: dict[str, DerivativeCheck]) -> None:
    """Like the practical's figures: both derivatives per element, and their difference."""
    fig, axes = plt.subplots(2, len(checks), figsize=(4.5 * len(checks), 5), squeeze=False)
    for col, (label, check) in enumerate(checks.items()):
        index = range(check.numeric.numel())
        axes[0, col].plot(index, check.analytic.flatten(), "o", ms=3, label="backward mode")
        axes[0, col].plot(index, check.numeric.flatten(), "x", ms=3, label="finite differences")
        axes[0, col].set_title(label, fontsize=9)
        axes[0, col].legend(fontsize=7)
        axes[1, col].plot(index, (check.analytic - check.numeric).flatten(), ".", ms=3)
        axes[1, col].set_title(f"difference, max abs {check.max_abs_error:.2e}", fontsize=9)
        axes[1, col].set_xlabel("element")
    fig.tight_layout()
    ctx.save_figure(name, fig)


def _errors(checks: dict[str, DerivativeCheck]) -> dict:
    return {
        k: {"max_abs_error": c.max_abs_error, "max_rel_error": c.max_rel_error} for k, c in checks.items()
    }


def grad_check_dd2427(ctx: ExerciseContext, batch: int, channels: int, filters: int, size: int) -> dict:
    """t9-t12, q10b-q14: projected derivatives of a convolution and of conv+ReLU+conv, checked numerically."""
    g = torch.Generator().manual_seed(int(ctx.cfg.seed))
    x = torch.randn(batch, channels, size, size, generator=g, dtype=torch.float64)
    w = torch.randn(filters, channels, 3, 3, generator=g, dtype=torch.float64)
    w2 = torch.randn(1, filters, 3, 3, generator=g, dtype=torch.float64)
    y_shape = F.conv2d(x, w).shape
    p = torch.randn(y_shape, generator=g, dtype=torch.float64)
    first = torch.zeros(y_shape, dtype=torch.float64)
    first.view(-1)[0] = 1

    def of_x(z):
        return F.conv2d(z, w)

    def of_w(v):
        return F.conv2d(x, v)

    def two_layer(z):
        return F.conv2d(F.relu(F.conv2d(z, w)), w2)

    def two_layer_backward(z, proj):
        pre = F.conv2d(z, w)
        dzdx2, _, _ = conv_backward(F.relu(pre), w2, proj)
        dzdx1 = dzdx2 * (pre > 0)
        return conv_backward(z, w, dzdx1)[0]

    checks = {
        "t9 dz/dx, random p": check_projected(of_x, lambda z, q: conv_backward(z, w, q)[0], x, p),
        "t10 dy_1/dx (p one-hot)": check_projected(of_x, lambda z, q: conv_backward(z, w, q)[0], x, first),
        "t11 dz/dw": check_projected(of_w, lambda v, q: conv_backward(x, v, q)[1], w, p),
        "t12 conv-ReLU-conv dz/dx": check_projected(
            two_layer,
            two_layer_backward,
            x,
            torch.randn(two_layer(x).shape, generator=g, dtype=torch.float64),
        ),
    }
    _check_figure(ctx, "grad_check_dd2427", checks)
    return {
        **_backprop_questions(x, w, w2, p, g),
        "x_shape": list(x.shape),
        "w_shape": list(w.shape),
        "q10b_derivative_shapes_equal_parameter_shapes": list(checks["t11 dz/dw"].analytic.shape)
        == list(w.shape),
        "checks": _errors(checks),
        "all_pass": all(c.ok(1e-6) for c in checks.values()),
    }


def _backprop_questions(
    x: torch.Tensor, w: torch.Tensor, w2: torch.Tensor, p: torch.Tensor, g: torch.Generator
) -> dict:
    """q11-q14: what p_l is, the finite-difference check, why project, and why the conv gets dy."""
    y = F.conv2d(x, w)
    relu_out = F.relu(y).requires_grad_()
    z = F.conv2d(relu_out, w2)
    p2 = torch.randn(z.shape, generator=g, dtype=x.dtype)
    (autograd_p1,) = torch.autograd.grad((p2 * z).sum(), relu_out)
    backprop_p1 = conv_backward(F.relu(y), w2, p2)[0]

    def two_layer(v):
        return F.conv2d(F.relu(F.conv2d(v, w)), w2)

    def two_layer_backward(v, q):
        pre = F.conv2d(v, w)
        return conv_backward(v, w, conv_backward(F.relu(pre), w2, q)[0] * (pre > 0))[0]

    by_step = {
        f"{step:.0e}": check_projected(two_layer, two_layer_backward, x, p2, delta=step).max_abs_error
        for step in (1e-1, 1e-3, 1e-5, 1e-7)
    }
    jacobian = torch.autograd.functional.jacobian(lambda v: F.conv2d(v, w), x)
    projected = (p.reshape(p.numel(), 1) * jacobian.reshape(p.numel(), -1)).sum(0).view_as(x)

    def conv_relu(v):
        return F.relu(F.conv2d(v, w))

    with_dy = check_projected(conv_relu, lambda v, q: conv_backward(v, w, q * (F.conv2d(v, w) > 0))[0], x, p)
    with_p = check_projected(conv_relu, lambda v, q: conv_backward(v, w, q)[0], x, p)
    return {
        "q11_p1_vs_autograd_derivative_of_projected_output_max_abs_error": float(
            (backprop_p1 - autograd_p1).abs().max()
        ),
        "q11_p1_shape_equals_layer_output_shape": list(backprop_p1.shape) == list(y.shape),
        "q12_function_evaluations_per_check": 2 * x.numel(),
        "q12_conv_relu_conv_max_abs_error_by_step": by_step,
        "q13_projected_derivative_numel": x.numel(),
        "q13_full_jacobian_numel": jacobian.numel(),
        "q13_p_transpose_jacobian_vs_backward_max_abs_error": float(
            (projected - conv_backward(x, w, p)[0]).abs().max()
        ),
        "q14_conv_fed_dy_max_abs_error": with_dy.max_abs_error,
        "q14_conv_fed_p_max_abs_error": with_p.max_abs_error,
    }


def loss_layers(ctx: ExerciseContext, size: int, near_zero: float) -> dict:
    """t13, t14: hand-written L2 and L1 loss layers checked numerically, and L1's kink at x = r."""
    g = torch.Generator().manual_seed(int(ctx.cfg.seed))
    x = torch.randn(1, 1, size, size, generator=g, dtype=torch.float64)
    r = torch.randn(1, 1, size, size, generator=g, dtype=torch.float64)
    close = r + near_zero * torch.randn(1, 1, size, size, generator=g, dtype=torch.float64)
    delta = 1e-4
    checks = {
        "t13 L2 loss": check_projected(
            lambda z: l2_loss_forward(z, r), lambda z, q: l2_loss_backward(z, r, q), x, delta=delta
        ),
        "t14 L1 loss": check_projected(
            lambda z: l1_loss_forward(z, r), lambda z, q: l1_loss_backward(z, r, q), x, delta=delta
        ),
        f"t14 L1, |x - r| ~ {near_zero}": check_projected(
            lambda z: l1_loss_forward(z, r),
            lambda z, q: l1_loss_backward(z, r, q),
            close,
            delta=delta,
        ),
    }
    _check_figure(ctx, "loss_layers", checks)
    kinks = int(((close - r).abs() < delta).sum())
    return {
        "checks": _errors(checks),
        "finite_difference_step": delta,
        "t14_components_within_step_of_kink": kinks,
        "t14_note": "where |x - r| < step the central difference straddles the kink of |.| and "
        "reads a value between -1 and 1, while the backward gives sign(x - r)",
    }


def grad_keras7(ctx: ExerciseContext, image: str, crop: int, steps: int, lr: float, size: int) -> dict:
    """e3: the lab's dL/dK and dL/dX formulas for L = sum y^2, finite differences, gradient ascent."""
    photo = load_photo(image, 1.0, gray=True)[0].to(torch.float64)
    top, left = (photo.shape[0] - crop) // 2, (photo.shape[1] - crop) // 2
    img = photo[top : top + crop, left : left + crop]
    y = conv2d_single_loops(img, SOBEL_X)
    grad_x = conv_grad_input(2 * y, SOBEL_X)
    grad_k = conv_grad_kernel(img, 2 * y, SOBEL_X.shape)
    auto_x = img.clone().requires_grad_()
    auto_k = SOBEL_X.clone().requires_grad_()
    F.conv2d(auto_x[None, None], auto_k[None, None]).square().sum().backward()
    g = torch.Generator().manual_seed(int(ctx.cfg.seed))
    eps, pairs = 1e-6, []
    for _ in range(5):
        i, j = (int(v) for v in torch.randint(0, crop, (2,), generator=g))
        up, down = img.clone(), img.clone()
        up[i, j] += eps
        down[i, j] -= eps
        numeric = float(
            (conv2d_single_loops(up, SOBEL_X).square() - conv2d_single_loops(down, SOBEL_X).square()).sum()
        ) / (2 * eps)
        pairs.append({"pixel": [i, j], "finite_difference": numeric, "formula": float(grad_x[i, j])})
    maxim, losses = gradient_ascent(SOBEL_X, size=size, steps=steps, lr=lr, seed=int(ctx.cfg.seed))

    fig, axes = plt.subplots(1, 5, figsize=(18, 3.6))
    show(axes[0], img, f"crop of {image}")
    show(axes[1], y.abs(), "|G_x * I|")
    show(axes[2], grad_x, "dL/dX by the formula")
    axes[3].plot(range(1, steps + 1), losses)
    axes[3].set_xlabel("step")
    axes[3].set_ylabel("L = sum y^2")
    axes[3].set_yscale("log")
    axes[3].set_title("gradient ascent", fontsize=8)
    show(axes[4], maxim, f"image after {steps} steps")
    ctx.save_figure("grad_keras7", fig)
    # scaled first: after the ascent its values pass float32's range, which add_image would overflow
    ctx.add_image("keras7/maximising_image", (maxim / maxim.abs().max())[None])
    return {
        "max_abs_error_dX_vs_autograd": float((grad_x - auto_x.grad).abs().max()),
        "max_abs_error_dK_vs_autograd": float((grad_k - auto_k.grad).abs().max()),
        "dK": grad_k.tolist(),
        "finite_difference_checks": pairs,
        "max_abs_error_formula_vs_finite_difference": max(
            abs(pair["formula"] - pair["finite_difference"]) for pair in pairs
        ),
        "ascent_loss_first": losses[0],
        "ascent_loss_last": losses[-1],
        "ascent_growth_per_step": losses[-1] / losses[-2],
        **_ascent_limit(SOBEL_X, maxim, losses, lr),
        "ascent_note": "L has no maximum: each step multiplies the dominant pattern (rows of "
        "alternating sign that G_x answers most strongly to), so L grows geometrically",
        "ascent_image": maxim.tolist(),
    }


def _ascent_limit(kernel: torch.Tensor, image: torch.Tensor, losses: list[float], lr: float) -> dict:
    """What gradient ascent on L = |K * X|^2 converges to. L = x^T A x with A = M^T M (M the valid
    convolution as a matrix), so each step multiplies x by I + 2 lr A: x turns to A's top eigenvector
    and L grows by (1 + 2 lr lambda_max)^2 per step, without bound. lambda_max is at most the largest
    |K^|^2 over spatial frequencies."""
    size = image.shape[0]
    basis = torch.eye(size * size, dtype=torch.float64).view(-1, size, size)
    matrix = torch.stack([conv2d_single_loops(b, kernel).flatten() for b in basis], dim=1)
    values, vectors = torch.linalg.eigh(matrix.T @ matrix)
    top = vectors[:, -1]
    rows = image.mean(dim=1)
    return {
        "ascent_top_eigenvalue_of_A": float(values[-1]),
        "ascent_eigenvalue_from_growth": ((losses[-1] / losses[-2]) ** 0.5 - 1) / (2 * lr),
        "ascent_abs_cosine_to_top_eigenvector": float((image.flatten() @ top).abs() / image.norm()),
        "ascent_fourier_bound": float(torch.fft.fft2(kernel, s=(64, 64)).abs().square().max()),
        "ascent_row_mean_signs": [
            int(torch.sign(r)) if r.abs() > 1e-3 * rows.abs().max() else 0 for r in rows
        ],
    }


def grad_mainf6(ctx: ExerciseContext, n: int, kernel: int, stride: int) -> dict:
    """ta 1-3: closed forms for SAME conv w.r.t. w, 2x2 max pool w.r.t. x and strided conv, vs autograd."""
    g = torch.Generator().manual_seed(int(ctx.cfg.seed))
    x = torch.randn(n, n, generator=g, dtype=torch.float64)
    w = torch.randn(kernel, kernel, generator=g, dtype=torch.float64)
    m = kernel // 2
    results, panels = {}, []
    for label, gamma in (("ta1_same_conv_dE_dw", 1), ("ta3_strided_conv_dE_dw", stride)):
        target = torch.randn(-(-n // gamma), -(-n // gamma), generator=g, dtype=torch.float64)
        auto_w = w.clone().requires_grad_()
        o = F.conv2d(x[None, None], auto_w.flip(0, 1)[None, None], padding=m, stride=gamma)[0, 0]
        F.mse_loss(o, target).backward()
        closed = same_conv_grad_weight(x, w, target, gamma)
        forward_error = float((same_conv(x, w, gamma) - o.detach()).abs().max())
        results[label] = {
            "stride": gamma,
            "output_size": list(o.shape),
            "max_abs_error_vs_autograd": float((closed - auto_w.grad).abs().max()),
            "forward_max_abs_error_vs_conv2d": forward_error,
        }
        panels.append((label, closed, auto_w.grad))
    target = torch.randn(n // 2, n // 2, generator=g, dtype=torch.float64)
    auto_x = x.clone().requires_grad_()
    F.mse_loss(F.max_pool2d(auto_x[None, None], 2)[0, 0], target).backward()
    closed = maxpool2_grad_input(x, target)
    results["ta2_maxpool2_dE_dx"] = {
        "max_abs_error_vs_autograd": float((closed - auto_x.grad).abs().max()),
        "nonzero_per_window": 1,
        "nonzero_count": int((closed != 0).sum()),
    }
    panels.append(("ta2_maxpool2_dE_dx", closed, auto_x.grad))
    fig, axes = plt.subplots(2, 3, figsize=(10, 6.5))
    for col, (label, ours, theirs) in enumerate(panels):
        show(axes[0, col], ours, f"{label}\nclosed form", cmap="coolwarm")
        show(axes[1, col], theirs, "autograd", cmap="coolwarm")
    ctx.save_figure("grad_mainf6", fig)
    return results


def conv_unfold_vu3a(
    ctx: ExerciseContext,
    batch: int,
    channels: int,
    filters: int,
    size: int,
    kernel: int,
    stride: int,
    padding: int,
) -> dict:
    """q1.1-q1.6: loops, unfold + matmul and the autograd Function against conv2d, with gradcheck."""
    g = torch.Generator().manual_seed(int(ctx.cfg.seed))
    x = torch.randn(batch, channels, size, size, generator=g)
    w = torch.randn(filters, channels, kernel, kernel, generator=g)
    b = torch.randn(filters, generator=g)
    timings, outputs = {}, {}
    for label, fn in (
        ("library", F.conv2d),
        ("loops", conv2d_loops),
        ("unfold", conv2d_unfold),
        ("function", conv2d_autograd),
    ):
        start = time.perf_counter()
        outputs[label] = fn(x, w, b, stride, padding)
        timings[label] = time.perf_counter() - start
    reference = outputs["library"]
    ours = [t.clone().requires_grad_() for t in (x, w, b)]
    theirs = [t.clone().requires_grad_() for t in (x, w, b)]
    grad = torch.randn(reference.shape, generator=g)
    conv2d_autograd(*ours, stride, padding).backward(grad)
    F.conv2d(*theirs, stride=stride, padding=padding).backward(grad)
    small = [
        t[:2, :2].double().requires_grad_() if t.dim() > 1 else t[:2].double().requires_grad_()
        for t in (x[:, :, :7, :7], w, b)
    ]
    gradcheck = torch.autograd.gradcheck(
        lambda a, c, d: conv2d_autograd(a, c, d, stride, padding), small, raise_exception=False
    )
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, label in zip(axes, ("library", "loops", "unfold", "function"), strict=True):
        show(ax, outputs[label][0, 0], f"{label}: channel 1 of image 1")
    ctx.save_figure("conv_unfold_vu3a", fig)
    return {
        "input_shape": list(x.shape),
        "weight_shape": list(w.shape),
        "stride": stride,
        "padding": padding,
        "q1_2_output_size": f"(W - k + 2p) / s + 1 = {(size - kernel + 2 * padding) // stride + 1}",
        "output_shape": list(reference.shape),
        "q1_3_unfold_shape": list(unfold_patches(x, kernel, stride, padding).shape),
        "max_rel_error_vs_library": {
            k: float((v - reference).abs().max() / reference.abs().max())
            for k, v in outputs.items()
            if k != "library"
        },
        "q1_4_function_forward_max_abs_error_vs_library": float(
            (outputs["function"] - reference).abs().max()
        ),
        "q1_5_backward_max_abs_error_vs_library": {
            name: float((a.grad - c.grad).abs().max())
            for name, a, c in zip(("x", "w", "b"), ours, theirs, strict=True)
        },
        "q1_6_gradcheck_float64": bool(gradcheck),
        "q1_6_grad_max_rel_error_vs_library": {
            name: float((a.grad - c.grad).abs().max() / c.grad.abs().max())
            for name, a, c in zip(("x", "w", "b"), ours, theirs, strict=True)
        },
        "seconds": timings,
    }
