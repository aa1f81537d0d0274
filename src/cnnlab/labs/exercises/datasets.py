"""dd2427 t15/q15: what the text deblurring data set holds, measured from the generated images."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from hydra.utils import instantiate

from cnnlab.data.cache import cached_split
from cnnlab.data.imageset import to_unit
from cnnlab.engine.regression import psnr
from cnnlab.labs.exercises.context import ExerciseContext


def textblur_stats(ctx: ExerciseContext, examples: int) -> dict:
    """Counts, image size and intensity range of both splits, a few pairs, and the inputs' PSNR."""
    source = instantiate(ctx.cfg.dataset.source)
    results: dict = {}
    for split, label in (("train", "train"), ("test", "val")):
        bucket = cached_split(source, split, ctx.cfg.paths.cache_dir)[0]
        x, y = to_unit(bucket.x), to_unit(bucket.y)
        results[f"n_{label}"] = len(bucket)
        results[f"{label}_input_psnr_db"] = float(psnr(x, y))
        if split == "train":
            results["image_size"] = list(bucket.x.shape[1:])
            results["target_value_range"] = [float(y.min()), float(y.max())]
            results["target_mean"] = float(y.mean())
            results["paper_fraction_target_below_0.1"] = float((y < 0.1).float().mean())
            pairs = torch.stack([x[:examples], y[:examples]])
    fig, axes = plt.subplots(2, examples, figsize=(1.6 * examples, 3.6))
    for row, (title, images) in enumerate(zip(("blurred input", "sharp target"), pairs, strict=True)):
        for col, image in enumerate(images):
            axes[row, col].imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
            axes[row, col].set_axis_off()
        axes[row, 0].set_title(title, loc="left", fontsize=9)
    fig.suptitle("textblur pairs (0 = white paper, 1 = ink; drawn dark on white)", fontsize=10)
    ctx.save_figure("textblur_pairs", fig)
    return results
