"""The Sobel kernel, defined once for the lab tasks that apply it (conv2d cross-correlates)."""

import torch

# Sobel's derivative along x (across columns): responds to vertical edges (dd2427's "sobel d/dx").
SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
# keras7's `sobel_x`, R's matrix(c(-1, 0, 1, -2, 0, 2, -1, 0, 1), nrow = 3) filled by column: Sobel's
# derivative along y (down the rows), which that lab calls G_x ("detects horizontal edges").
KERAS7_SOBEL_X = SOBEL_X.T.flip(0).contiguous()  # = -SOBEL_X.T without negative zeros
