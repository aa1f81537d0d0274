"""Hand-written convolutions must agree with torch's conv2d, forward and backward."""

import pytest
import torch
import torch.nn.functional as F

from cnnlab.labs.blocks.conv_function import conv2d_autograd
from cnnlab.labs.blocks.loop_conv import conv2d_loops, conv2d_single_loops
from cnnlab.labs.blocks.unfold import conv2d_unfold, fold_patches, unfold_patches


def random_case(seed: int, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    n, c, k = (int(v) for v in torch.randint(1, 4, (3,), generator=g))
    kh, kw = (int(v) for v in torch.randint(1, 5, (2,), generator=g))
    stride = tuple(int(v) for v in torch.randint(1, 4, (2,), generator=g))
    padding = tuple(int(v) for v in torch.randint(0, 3, (2,), generator=g))
    h = kh + int(torch.randint(0, 8, (1,), generator=g))
    w = kw + int(torch.randint(0, 8, (1,), generator=g))
    x = torch.randn(n, c, h, w, generator=g, dtype=dtype)
    weight = torch.randn(k, c, kh, kw, generator=g, dtype=dtype)
    bias = torch.randn(k, generator=g, dtype=dtype)
    return x, weight, bias, stride, padding


@pytest.mark.parametrize("seed", range(20))
def test_loop_and_unfold_equal_conv2d(seed):
    x, weight, bias, stride, padding = random_case(seed)
    expected = F.conv2d(x, weight, bias, stride, padding)
    torch.testing.assert_close(conv2d_loops(x, weight, bias, stride, padding), expected)
    torch.testing.assert_close(conv2d_unfold(x, weight, bias, stride, padding), expected)
    torch.testing.assert_close(conv2d_loops(x, weight), F.conv2d(x, weight))


@pytest.mark.parametrize("seed", range(10))
def test_unfold_and_fold_equal_torch(seed):
    x, weight, _, stride, padding = random_case(seed)
    kernel = weight.shape[2:]
    cols = unfold_patches(x, tuple(kernel), stride, padding)
    torch.testing.assert_close(cols, F.unfold(x, tuple(kernel), padding=padding, stride=stride))
    folded = fold_patches(cols, tuple(x.shape[2:]), tuple(kernel), stride, padding)
    expected = F.fold(cols, tuple(x.shape[2:]), tuple(kernel), padding=padding, stride=stride)
    torch.testing.assert_close(folded, expected)


def test_single_image_loops_equal_conv2d():
    image, kernel = torch.randn(11, 13), torch.randn(3, 4)
    expected = F.conv2d(image[None, None], kernel[None, None])[0, 0]
    torch.testing.assert_close(conv2d_single_loops(image, kernel), expected)


@pytest.mark.parametrize("seed", range(6))
def test_conv_function_passes_gradcheck(seed):
    x, weight, bias, stride, padding = random_case(seed, torch.float64)
    inputs = (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_())
    assert torch.autograd.gradcheck(lambda a, b, c: conv2d_autograd(a, b, c, stride, padding), inputs)


@pytest.mark.parametrize("seed", range(10))
def test_conv_function_gradients_equal_conv2d(seed):
    x, weight, bias, stride, padding = random_case(seed)
    ours = [t.clone().requires_grad_() for t in (x, weight, bias)]
    theirs = [t.clone().requires_grad_() for t in (x, weight, bias)]
    y_ours = conv2d_autograd(*ours, stride, padding)
    y_theirs = F.conv2d(*theirs, stride, padding)
    torch.testing.assert_close(y_ours, y_theirs)
    grad = torch.randn_like(y_ours)
    y_ours.backward(grad)
    y_theirs.backward(grad)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a.grad, b.grad)
