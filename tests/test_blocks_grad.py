"""Hand-derived gradients (keras7 formulas, loss layers) and the numerical checker."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.labs.blocks.keras7_grad import conv_grad_input, conv_grad_kernel, gradient_ascent
from cnnlab.labs.blocks.loop_conv import conv2d_single_loops
from cnnlab.labs.blocks.losses import (
    L1Loss,
    L2Loss,
    l1_loss_backward,
    l1_loss_forward,
    l2_loss_backward,
    l2_loss_forward,
)
from cnnlab.labs.blocks.numcheck import autograd_backward, check_projected

SOBEL_X = torch.tensor([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]], dtype=torch.float64)


@pytest.mark.parametrize(("rows", "cols", "kr", "kc"), [(9, 9, 3, 3), (7, 10, 2, 4), (5, 6, 5, 1)])
def test_keras7_formulas_match_autograd(rows, cols, kr, kc):
    g = torch.Generator().manual_seed(rows * cols)
    image = torch.randn(rows, cols, generator=g, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(kr, kc, generator=g, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(image[None, None], kernel[None, None])[0, 0]
    y.square().sum().backward()
    dy = 2 * y.detach()
    torch.testing.assert_close(conv_grad_input(dy, kernel.detach()), image.grad)
    torch.testing.assert_close(conv_grad_kernel(image.detach(), dy, (kr, kc)), kernel.grad)


def test_gradient_ascent_increases_loss():
    image, losses = gradient_ascent(SOBEL_X, size=9, steps=30, lr=0.01)
    assert image.shape == (9, 9)
    assert all(b > a for a, b in zip(losses, losses[1:], strict=False))


@pytest.mark.parametrize(
    ("forward", "backward", "function"),
    [
        (l2_loss_forward, l2_loss_backward, L2Loss),
        (l1_loss_forward, l1_loss_backward, L1Loss),
    ],
)
def test_loss_backward_matches_autograd(forward, backward, function):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64)
    forward(x, target).mul(1.7).backward()
    torch.testing.assert_close(backward(x.detach(), target, 1.7), x.grad)
    assert torch.autograd.gradcheck(lambda a: function.apply(a, target), (x,))


def test_checker_accepts_right_and_flags_wrong_backward():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 6, 6, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)

    def forward(z):
        return F.conv2d(z, w)

    right = check_projected(forward, autograd_backward(forward), x, generator=g)
    assert right.ok() and right.max_abs_error < 1e-6

    def wrong(z, p):
        return F.conv_transpose2d(p, w.flip(-1, -2))

    bad = check_projected(forward, wrong, x, generator=g)
    assert not bad.ok()
    assert bad.max_rel_error > 1e-2


def test_checker_on_parameters():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, 6, 6, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)

    def of_w(v):
        return F.conv2d(x, v)

    assert check_projected(of_w, autograd_backward(of_w), w, generator=g).ok()


def test_single_loops_gradient_matches_formula():
    image = torch.rand(12, 12, dtype=torch.float64)
    y = conv2d_single_loops(image, SOBEL_X)
    grad = conv_grad_input(2 * y, SOBEL_X)
    i, j, eps = 4, 7, 1e-6
    up, down = image.clone(), image.clone()
    up[i, j] += eps
    down[i, j] -= eps
    numeric = (
        conv2d_single_loops(up, SOBEL_X).square().sum() - conv2d_single_loops(down, SOBEL_X).square().sum()
    ) / (2 * eps)
    assert abs(float(numeric) - float(grad[i, j])) < 1e-6
