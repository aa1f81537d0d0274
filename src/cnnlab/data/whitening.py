"""ZCA whitening (rdfia q21): decorrelate every pixel from every other with train-split statistics."""

from __future__ import annotations

import torch

from cnnlab.data.imageset import Buckets
from cnnlab.errors import ConfigError

WHITENINGS = (None, "zca")


def zca_whitening(buckets: Buckets, eps: float) -> dict[str, torch.Tensor]:
    """The mean image and W = U diag(1/sqrt(S + eps)) U^T of the covariance U S U^T of the
    flattened C*H*W pixel vectors in [0, 1]; (x - mean) W then has near-identity covariance."""
    if eps <= 0:
        raise ConfigError(
            f"dataset.whitening_eps={eps!r} must be > 0: it keeps 1/sqrt(S + eps) finite for the "
            "directions with no variance; 1e-2 suits pixels in [0, 1]."
        )
    if len(buckets) > 1:
        raise ConfigError(
            "dataset.whitening=zca needs images of one size (a single C*H*W covariance); this data "
            "set has several sizes. Use dataset.whitening=null or resize the data to one size."
        )
    x = buckets[0].x
    dim = x[0].numel()
    total = torch.zeros(dim, dtype=torch.float64)
    gram = torch.zeros(dim, dim, dtype=torch.float64)
    for chunk in x.split(4096):
        flat = chunk.reshape(len(chunk), -1).to(torch.float64).div_(255)
        total += flat.sum(0)
        gram.addmm_(flat.T, flat)
    mean = total / len(x)
    covariance = gram / len(x) - torch.outer(mean, mean)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    scale = (eigenvalues.clamp_min(0) + eps).rsqrt()
    matrix = (eigenvectors * scale) @ eigenvectors.T
    return {"mean": mean.float(), "matrix": ((matrix + matrix.T) / 2).float()}


def whiten(x: torch.Tensor, mean: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """(x - mean) W for a whole N x C x H x W batch in one matmul."""
    return ((x.flatten(1) - mean) @ matrix).view_as(x)
