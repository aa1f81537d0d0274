"""What every lab exercise (a `python -m cnnlab.lab task=<name>`) gets: the composed config, its run dir,
figure saving and TensorBoard."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from PIL import Image  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402


class ExerciseContext:
    """Saves each figure as <run>/<name>.png and into TensorBoard, so both views show the same."""

    def __init__(self, cfg: DictConfig, out_dir: Path) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.writer = SummaryWriter(str(self.out_dir / "tb"))
        self.figures: list[str] = []

    def __enter__(self) -> ExerciseContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()

    def save_figure(self, name: str, fig: plt.Figure) -> Path:
        """Writes <name>.png and logs that same PNG to TensorBoard: the figure is drawn only once."""
        path = self.out_dir / f"{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
        with Image.open(path) as png:
            pixels = torch.from_numpy(np.asarray(png.convert("RGB")).copy())
        self.writer.add_image(name, pixels, dataformats="HWC")
        self.figures.append(path.name)
        return path

    def add_image(self, tag: str, image: torch.Tensor) -> None:
        """Logs a C x H x W image in [0, 1] (min-max scaled if it is not) to TensorBoard."""
        image = image.detach().float()
        low, high = image.min(), image.max()
        if low < 0 or high > 1:
            image = (image - low) / (high - low).clamp_min(1e-12)
        self.writer.add_image(tag, image.clamp(0, 1))
