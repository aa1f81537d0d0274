"""dd2427 q6: why train on mini-batches. Measured on the deblur net and the text data: how far a
mini-batch gradient lies from the whole set's (it shrinks as 1/B), and images per second per batch size."""

from __future__ import annotations

import math
import time

import matplotlib.pyplot as plt
import torch
from hydra.utils import instantiate
from torch import nn

from cnnlab.data.cache import cached_split
from cnnlab.data.imageset import to_unit
from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.models import build_model


def _gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The gradient of the mean squared error over these images, as one flat vector."""
    model.zero_grad(set_to_none=True)
    nn.functional.mse_loss(model(x), y).backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def _images_per_s(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, images: int) -> float:
    """Training throughput at one batch size: forward, backward and an SGD step over `images` images,
    per second of this process's CPU time on one thread, so that other jobs on the machine and the
    number of cores do not change it: what it measures is the cost of a call spread over a batch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    steps = max(1, images // batch)

    def step(i: int) -> None:
        start = (i * batch) % (len(x) - batch + 1)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x[start : start + batch]), y[start : start + batch]).backward()
        optimizer.step()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for i in range(2):
            step(i)
        began = time.process_time()
        for i in range(steps):
            step(i)
        return steps * batch / (time.process_time() - began)
    finally:
        torch.set_num_threads(threads)


def minibatch_dd2427(ctx: ExerciseContext, batch_sizes: list[int], draws: int, timed_images: int) -> dict:
    """Mini-batch gradients against the whole set's gradient at the net's initialisation, and the
    training throughput at each batch size (dd2427 q6)."""
    source = instantiate(ctx.cfg.dataset.source)
    bucket = cached_split(source, "train", ctx.cfg.paths.cache_dir)[0]
    x, y = to_unit(bucket.x), to_unit(bucket.y)
    model = build_model(ctx.cfg.model, tuple(x.shape[1:]))
    full = _gradient(model, x, y)
    generator = torch.Generator().manual_seed(int(ctx.cfg.seed))
    error, cosine, speed = {}, {}, {}
    for batch in batch_sizes:
        errors, cosines = [], []
        for _ in range(draws):
            index = torch.randperm(len(x), generator=generator)[:batch]
            g = _gradient(model, x[index], y[index])
            errors.append(float((g - full).square().sum() / full.square().sum()))
            cosines.append(float(nn.functional.cosine_similarity(g, full, dim=0)))
        error[str(batch)] = sum(errors) / draws
        cosine[str(batch)] = sum(cosines) / draws
        speed[str(batch)] = _images_per_s(model, x, y, batch, timed_images)
    small, large = str(min(batch_sizes)), str(max(batch_sizes))
    logs = [(math.log(b), math.log(error[str(b)])) for b in batch_sizes]
    mean_b, mean_e = (sum(v) / len(logs) for v in zip(*logs, strict=True))
    slope = sum((b - mean_b) * (e - mean_e) for b, e in logs) / sum((b - mean_b) ** 2 for b, _ in logs)
    _figure(ctx, batch_sizes, error, speed, len(x))
    return {
        "n_images": len(x),
        "draws": draws,
        "batch_sizes": batch_sizes,
        "gradient_relative_error": error,
        "gradient_cosine_to_full": cosine,
        "gradient_error_slope_loglog": slope,
        "gradient_error_smallest_over_largest_batch": error[small] / error[large],
        "images_per_s": speed,
        "images_per_s_fastest_batch": int(max(speed, key=speed.get)),
        "images_per_s_fastest_over_batch_1": max(speed.values()) / speed[small],
        "images_per_s_largest_over_smallest_batch": speed[large] / speed[small],
    }


def _figure(ctx: ExerciseContext, sizes: list[int], error: dict, speed: dict, n: int) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6))
    measured = [error[str(b)] for b in sizes]
    left.loglog(sizes, measured, "o-", label="measured")
    left.loglog(sizes, [measured[0] * sizes[0] / b for b in sizes], "k--", lw=1, label="1 / B")
    left.set(
        xlabel="batch size B", ylabel="|g_B - g|^2 / |g|^2", title=f"mini-batch gradient vs all {n} images"
    )
    left.legend(fontsize=8)
    right.semilogx(sizes, [speed[str(b)] for b in sizes], "o-")
    right.set(xlabel="batch size B", ylabel="images per CPU second", title="training throughput, one thread")
    for axis in (left, right):
        axis.set_xticks(sizes, [str(b) for b in sizes])
    fig.tight_layout()
    ctx.save_figure("minibatch", fig)
