"""keras7 e3: gradients of a valid convolution by the lab's index formulas, and gradient ascent."""

from __future__ import annotations

import torch

from cnnlab.labs.blocks.loop_conv import conv2d_single_loops


def conv_grad_kernel(
    image: torch.Tensor, grad_y: torch.Tensor, kernel_shape: tuple[int, int]
) -> torch.Tensor:
    """Eq. 5: dL/dk_kl = sum_ij dL/dy_ij x_(i+k-1, j+l-1), written element by element."""
    rows_y, cols_y = grad_y.shape
    x, dy = image.tolist(), grad_y.tolist()
    grad = [
        [
            sum(dy[i][j] * x[i + k][j + m] for i in range(rows_y) for j in range(cols_y))
            for m in range(kernel_shape[1])
        ]
        for k in range(kernel_shape[0])
    ]
    return torch.tensor(grad, dtype=image.dtype)


def conv_grad_input(grad_y: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Eqs. 6-12: dL/dx_ij = sum_{k=L_k..U_k, l=L_l..U_l} dL/dy_(i-k+1,j-l+1) k_kl (bounded)."""
    rows_k, cols_k = kernel.shape
    rows_x, cols_x = grad_y.shape[0] + rows_k - 1, grad_y.shape[1] + cols_k - 1
    dy, kern = grad_y.tolist(), kernel.tolist()
    grad = [[0.0] * cols_x for _ in range(rows_x)]
    for i in range(1, rows_x + 1):
        for j in range(1, cols_x + 1):
            lower_k, lower_l = max(1, i - rows_x + rows_k), max(1, j - cols_x + cols_k)
            upper_k, upper_l = min(rows_k, i), min(cols_k, j)
            grad[i - 1][j - 1] = sum(
                dy[i - k][j - m] * kern[k - 1][m - 1]
                for k in range(lower_k, upper_k + 1)
                for m in range(lower_l, upper_l + 1)
            )
    return torch.tensor(grad, dtype=grad_y.dtype)


def gradient_ascent(
    kernel: torch.Tensor, size: int = 9, steps: int = 250, lr: float = 0.01, seed: int = 0
) -> tuple[torch.Tensor, list[float]]:
    """e3's last step: climb L = sum y^2 from a random image by the hand-derived gradient."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(size, size, generator=generator, dtype=torch.float64)
    kernel = kernel.to(torch.float64)
    losses = []
    for _ in range(steps):
        y = conv2d_single_loops(image, kernel)
        losses.append(float(y.square().sum()))
        image = image + lr * conv_grad_input(2 * y, kernel)
    return image, losses
