"""Tasks that look at a model: the layer table, activation grids, augmentation previews, Sobel edges."""

from __future__ import annotations

import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig

from cnnlab.config.composition_errors import group_options, unknown_option
from cnnlab.data.datamodule import class_names
from cnnlab.data.imageset import ImageSet, as_buckets
from cnnlab.engine.reopen import open_run
from cnnlab.errors import ConfigError, DataError
from cnnlab.labs.analysis.hooks import conv_activations
from cnnlab.labs.analysis.summary import format_table, layer_table, write_csv
from cnnlab.labs.blocks.loop_conv import conv2d_single_loops
from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.labs.exercises.images import fit_to, load_photo, show
from cnnlab.labs.exercises.kernels import KERAS7_SOBEL_X


def missing_group(key: str) -> ConfigError:
    """The error for a config group the task needs but that is not composed: a name with no file
    behind it (`model=lenett`; the lab's groups are optional, so Hydra lets it pass) or none given."""
    options = group_options(key)
    chosen = HydraConfig.get().runtime.choices.get(key) if HydraConfig.initialized() else None
    if chosen:
        return unknown_option(key, str(chosen), options)
    return ConfigError(
        f"this task needs a `{key}` config but none is composed; add {key}=<one of {options}>."
    )


def _input_shape(cfg: DictConfig, input_size: int | None = None) -> tuple[int, int, int]:
    """C x H x W of the model's input: the data set's image size, or `input_size` when given."""
    for key in ("model", "dataset"):
        if key not in cfg:
            raise missing_group(key)
    size = input_size or cfg.dataset.image_size
    if size is None:
        raise ConfigError(
            f"dataset={cfg.dataset.name} has images of several sizes (image_size: null), so this task "
            "needs one: add dataset.image_size=<pixels> (task=summary also takes task.input_size=<pixels>)."
        )
    return int(cfg.dataset.channels), int(size), int(size)


def summary(ctx: ExerciseContext, input_size: int | None) -> dict:
    """Per layer: output shape, params, mult-adds, receptive field and jump of any model config."""
    from cnnlab.models import build_model

    shape = _input_shape(ctx.cfg, input_size)
    model = build_model(ctx.cfg.model, shape)
    rows = layer_table(model, shape)
    print(format_table(rows))
    write_csv(rows, ctx.out_dir / "summary.csv")
    (ctx.out_dir / "summary.txt").write_text(format_table(rows) + "\n")
    spatial = [r["receptive_field"] for r in rows if r["receptive_field"] is not None]
    return {
        "model": ctx.cfg.model.get("name", ctx.cfg.model._target_),
        "input_shape": list(shape),
        "params": sum(p.numel() for p in model.parameters()),
        "mult_adds": sum(r["mult_adds"] for r in rows),
        "last_spatial_receptive_field": spatial[-1] if spatial else None,
        "layers": rows,
    }


def _dataset_images(cfg: DictConfig, split: str, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `count` images of a split as floats in [0, 1], and their targets."""
    bucket = _first_bucket(cfg, split)
    return bucket.x[:count].float() / 255, bucket.y[:count]


def _first_bucket(cfg: DictConfig, split: str) -> ImageSet:
    """A split of the composed data set (its first bucket of one image size)."""
    return as_buckets(instantiate(cfg.dataset.source).load(split))[0]


def _one_image_per_class(cfg: DictConfig, split: str, count: int) -> tuple[torch.Tensor, list[str]]:
    """The first image of each of the first `count` classes and the class names: a folder sorted by
    class would otherwise give `count` images of one class. Image targets (deblurring) have no
    classes, so there it is the first `count` images."""
    bucket = _first_bucket(cfg, split)
    if bucket.y.dim() != 1:
        return bucket.x[:count].float() / 255, [f"{split} image {i}" for i in range(len(bucket.x[:count]))]
    first = torch.stack([(bucket.y == c).nonzero()[0, 0] for c in bucket.y.unique()[:count]])
    names = class_names(cfg)
    return bucket.x[first].float() / 255, [names[int(t)] for t in bucket.y[first]]


def _normalise(cfg: DictConfig, x: torch.Tensor) -> torch.Tensor:
    """The per-channel standardisation training used, from the same train split statistics."""
    if not cfg.dataset.get("normalize", False):
        return x
    from cnnlab.data.imageset import channel_stats, split_train_val

    source = instantiate(cfg.dataset.source)
    train = split_train_val(
        as_buckets(source.load("train")), cfg.dataset.val_fraction, cfg.dataset.split_seed
    )[0]
    mean, std = channel_stats(train)
    return (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)


def activation_grid(
    ctx: ExerciseContext, run: str | None, image: str | None, index: int, columns: int
) -> dict:
    """mainf6 c: every convolution's activation after ReLU for one image, 8 per row, one colour scale."""
    from cnnlab.models import build_model

    if run:
        trained = open_run(run, trusted_targets=ctx.cfg.get("trusted_targets"))
        model, cfg, shape = trained.model, trained.cfg, trained.input_shape
    else:
        cfg = ctx.cfg
        shape = _input_shape(cfg)
        model = build_model(cfg.model, shape).eval()
    if image:
        x = fit_to(load_photo(image), shape[0], shape[1:])[None]
        label = image
    else:
        images, targets = _dataset_images(cfg, "test", index + 1)
        x = F.interpolate(images[index : index + 1], size=shape[1:], mode="bilinear", antialias=True)
        target = int(targets[index])
        label = f"{cfg.dataset.name} test image {index} (label {target}, {class_names(cfg)[target]})"
    try:
        normalised, normalisation = _normalise(cfg, x), "the data set's train-split statistics"
    except DataError:
        if not image:
            raise
        mean, std = x.mean((0, 2, 3), keepdim=True), x.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        normalised, normalisation = (x - mean) / std, "the image's own statistics (data set not found)"
    acts = conv_activations(model, normalised)
    if not acts:
        raise ConfigError(
            f"model {cfg.model.get('name', '?')!r} has no Conv2d layer to show; pick a CNN model."
        )
    vmax = max(float(a.max()) for a in acts.values())
    vmin = min(float(a.min()) for a in acts.values())
    fig, ax = plt.subplots(figsize=(3, 3))
    show(ax, x[0], label)
    ctx.save_figure("activation_input", fig)
    layers = {}
    for number, (name, act) in enumerate(acts.items(), start=1):
        channels = act.shape[1]
        rows = math.ceil(channels / columns)
        fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.6 * rows + 0.6), squeeze=False)
        for c, ax in enumerate(axes.flat):
            ax.axis("off")
            if c < channels:
                im = ax.imshow(act[0, c].numpy(), cmap="viridis", vmin=vmin, vmax=vmax)
                ax.set_title(str(c), fontsize=7)
        fig.suptitle(f"conv layer {number} ({name}): {channels} channels after activation")
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8)
        ctx.save_figure(f"activations_conv{number}", fig)
        layers[f"conv{number}"] = {
            "module": name,
            "shape": list(act.shape[1:]),
            "mean": float(act.mean()),
            "fraction_active": float((act > 0).float().mean()),
            "dead_channels": int((act.flatten(2).amax(-1) <= 0).sum()),
        }
    return {
        "run": run,
        "image": label,
        "normalisation": normalisation,
        "colour_scale": [vmin, vmax],
        "layers": layers,
    }


def augment_preview(
    ctx: ExerciseContext, images: list[str] | None, count: int, draws: int, scale: float
) -> dict:
    """mainf6 b1-b2 / rdfia q22: each image next to several random draws of the augmentation config."""
    if "augmentation" not in ctx.cfg:
        raise missing_group("augmentation")
    augmentation = instantiate(ctx.cfg.augmentation)
    if images:
        photos = [load_photo(name, scale) for name in images]
        size = min(min(p.shape[1:]) for p in photos)
        x = torch.stack(
            [F.interpolate(p[None], size=(size, size), antialias=True, mode="bilinear")[0] for p in photos]
        )
        labels = list(images)
    else:
        x, labels = _one_image_per_class(ctx.cfg, "train", count)
    generator = torch.Generator().manual_seed(int(ctx.cfg.seed))
    augmented = [augmentation.apply(x.clone(), generator) for _ in range(draws)]
    fig, axes = plt.subplots(len(x), draws + 1, figsize=(1.8 * (draws + 1), 1.8 * len(x)), squeeze=False)
    for row in range(len(x)):
        show(axes[row, 0], x[row], f"original: {labels[row]}" if row == 0 else labels[row])
        for col, batch in enumerate(augmented, start=1):
            show(axes[row, col], batch[row], f"draw {col}" if row == 0 else "")
    ctx.save_figure("augment_preview", fig)
    ctx.writer.add_images("augment_preview/draw1", augmented[0].clamp(0, 1).expand(-1, 3, -1, -1))
    return {
        "augmentation": {k: v for k, v in ctx.cfg.augmentation.items() if k != "_target_" and v is not None},
        "input_shape": list(x.shape),
        "images": labels,
        "draws": draws,
        "output_shape": list(augmented[0].shape),
        "mean_abs_change": float(torch.stack([(a - x).abs().mean() for a in augmented]).mean())
        if augmented[0].shape == x.shape
        else None,
    }


def sobel_keras7(ctx: ExerciseContext, image: str, scale: float) -> dict:
    """e2: edge magnitude sqrt(Gx^2 + Gy^2)/max with the loop convolution and the library's."""
    gray = load_photo(image, scale, gray=True)[0]
    start = time.perf_counter()
    kernels = (KERAS7_SOBEL_X, KERAS7_SOBEL_X.T)
    ours = [conv2d_single_loops(gray, k) for k in kernels]
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    theirs = [F.conv2d(gray[None, None], k[None, None])[0, 0] for k in kernels]
    theirs_s = time.perf_counter() - start
    edges = []
    for gx, gy in (ours, theirs):
        magnitude = (gx.square() + gy.square()).sqrt()
        edges.append(magnitude / magnitude.max())
    fig, axes = plt.subplots(1, 4, figsize=(18, 3.8))
    show(axes[0], gray, f"{image} ({gray.shape[0]}x{gray.shape[1]})")
    show(axes[1], edges[0], f"loops: {tuple(edges[0].shape)}")
    show(axes[2], edges[1], "torch conv2d")
    show(
        axes[3],
        (edges[0] - edges[1]).abs(),
        f"|difference|, max {float((edges[0] - edges[1]).abs().max()):.1e}",
    )
    ctx.save_figure("sobel_keras7", fig)
    ctx.add_image("sobel/loops", edges[0][None])
    ctx.add_image("sobel/library", edges[1][None])
    return {
        "input_HxW": list(gray.shape),
        "output_HxW": list(edges[0].shape),
        "max_abs_difference": float((edges[0] - edges[1]).abs().max()),
        "seconds_loops": ours_s,
        "seconds_library": theirs_s,
        **_sobel_probes(kernels),
    }


def _sobel_probes(kernels: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Why G_x and G_y find edges: their responses to a flat patch and to unit steps across rows and
    across columns, and how much better than a plain central difference they tell a step from noise."""
    step = torch.zeros(9, 9)
    step[4:] = 1
    probes = {"flat": torch.ones(9, 9), "step across rows": step, "step across columns": step.T}
    responses = {
        name: {
            g: float(conv2d_single_loops(probe, k).abs().max())
            for g, k in zip(("G_x", "G_y"), kernels, strict=True)
        }
        for name, probe in probes.items()
    }
    noise = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    central = torch.tensor([[-1.0], [0.0], [1.0]])

    def step_over_noise(kernel: torch.Tensor) -> float:
        signal = F.conv2d(step[None, None], kernel[None, None]).abs().max()
        return float(signal / F.conv2d(noise[None, None], kernel[None, None]).std())

    return {
        "probe_max_abs_response": responses,
        "step_over_noise_sobel_over_central_difference": step_over_noise(kernels[0])
        / step_over_noise(central),
    }
