"""Turn the dataset and augmentation configs into train, validation and test loaders."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch.utils.data import Subset

from cnnlab.config.build import build
from cnnlab.data.augment import Augmentation
from cnnlab.data.cache import cached_json, cached_split, cached_tensors
from cnnlab.data.imageset import (
    Buckets,
    batch_targets,
    channel_stats,
    split_indices,
    split_train_val,
    subsample,
)
from cnnlab.data.protocols import DataSource, Loader
from cnnlab.data.tensor_loader import TensorLoader
from cnnlab.data.whitening import WHITENINGS, zca_whitening
from cnnlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)

LOADERS = ("tensor", "torch")


@dataclass
class DataModule:
    """The loaders of one run and what the model and the loop need to know about the data."""

    train: Loader
    val: Loader | None
    test: Loader
    input_shape: tuple[int, int, int]
    mean: list[float] | None = None
    std: list[float] | None = None
    # ZCA's mean image and matrix (dataset.whitening=zca), on the loaders' device.
    whitening: tuple[torch.Tensor, torch.Tensor] | None = None
    # C x H x W of the stored images (before an eval-time crop); None when the data has several sizes.
    image_shape: tuple[int, int, int] | None = None
    # Set when validation and test are seeded samples because of trainer.limit_batches: says so.
    sample_note: str | None = None
    # The side of each training size bucket: one for most data, several for variable resolution.
    sizes_px: tuple[int, ...] = ()

    @property
    def whitened(self) -> bool:
        return self.whitening is not None

    def shape_text(self) -> str:
        """The model's input as C x H x W, or the range of sides where the data has several
        (`1 x 8..64 x 8..64 (variable resolution, 8 sides)`), since input_shape is only its first bucket's."""
        if len(self.sizes_px) <= 1:
            return "x".join(str(n) for n in self.input_shape)
        side = f"{self.sizes_px[0]}..{self.sizes_px[-1]}"
        return f"{self.input_shape[0]}x{side}x{side} (variable resolution, {len(self.sizes_px)} sides)"

    def sizes(self) -> dict[str, int]:
        """The images of each split this run trains and evaluates on (val: 0 without one)."""
        return {
            name: loader.num_samples if loader is not None else 0 for name, loader in self.loaders().items()
        }

    def loaders(self) -> dict[str, Loader | None]:
        """Every split's loader by name; val is None when no validation split is taken."""
        return {"train": self.train, "val": self.val, "test": self.test}

    def as_images(self, x: torch.Tensor) -> torch.Tensor:
        """A batch as the loaders give it, back in [0, 1] to be looked at: the per-channel
        normalisation undone; whitened images (no [0, 1] scale of their own) stretched per image."""
        x = x.detach().float()
        if self.mean is not None:
            x = x * x.new_tensor(self.std).view(1, -1, 1, 1) + x.new_tensor(self.mean).view(1, -1, 1, 1)
        if self.whitened:
            low = x.flatten(1).amin(1).view(-1, 1, 1, 1)
            high = x.flatten(1).amax(1).view(-1, 1, 1, 1)
            x = (x - low) / (high - low).clamp_min(1e-12)
        return x.clamp(0, 1)


def build_data(cfg: DictConfig, device: torch.device) -> DataModule:
    """Load (or read from cache) the splits, split validation off train, and build loaders."""
    ds, trainer = cfg.dataset, cfg.trainer
    if ds.loader not in LOADERS:
        raise ConfigError(f"dataset.loader={ds.loader!r} is not a loader; use one of {LOADERS}.")
    whitening = _whitening_method(ds)
    source: DataSource = build(ds.source, key="dataset.source")
    augmentation: Augmentation = build(cfg.augmentation, key="augmentation")
    cache_dir = Path(cfg.paths.cache_dir)
    full_train = cached_split(source, "train", cache_dir)
    test = cached_split(source, "test", cache_dir)
    train, val = split_train_val(full_train, ds.val_fraction, ds.split_seed)
    check_splits(ds, full_train, train, val, test)
    max_eval, sample_note = evaluated_images(cfg, val, test)
    val, test = subsample(val, max_eval, ds.split_seed), subsample(test, max_eval, ds.split_seed + 1)

    mean = std = None
    if ds.normalize:
        stats_path = cache_dir / f"{source.cache_key}-stats-v{ds.val_fraction}-s{ds.split_seed}.json"
        mean, std = cached_json(stats_path, lambda: channel_stats(train))
    zca = None
    if whitening == "zca":
        eps = float(ds.whitening_eps)
        zca_path = cache_dir / f"{source.cache_key}-zca-v{ds.val_fraction}-s{ds.split_seed}-e{eps}.pt"
        zca = cached_tensors(zca_path, lambda: zca_whitening(train, eps))
    channels, size = train[0].x.shape[1], train[0].x.shape[-1]
    input_shape = (channels, augmentation.output_size(size), augmentation.output_size(size))
    memory_format = torch.channels_last if trainer.channels_last else torch.contiguous_format
    zca_on_device = None if zca is None else (zca["mean"].to(device), zca["matrix"].to(device))
    common = dict(seed=trainer.seed, memory_format=memory_format)
    limit = dict(limit_batches=trainer.limit_batches)  # training only: evaluation takes seeded samples

    if ds.loader == "tensor":
        on_device = [[b.to(device) for b in split] for split in (train, val, test)]

        def tensor_loader(buckets: Buckets, training: bool) -> TensorLoader:
            return TensorLoader(
                buckets,
                trainer.batch_size if training else trainer.eval_batch_size,
                shuffle=training,
                transform=augmentation.apply if training else _evaluate(augmentation),
                mean=mean,
                std=std,
                targets=batch_targets,
                whitening=zca_on_device,
                chunk=trainer.get("prepare_chunk", 0) if training else 0,
                **common,
                **(limit if training else {}),
            )

        train_loader = tensor_loader(on_device[0], True)
        val_loader = tensor_loader(on_device[1], False) if on_device[1] else None
        test_loader = tensor_loader(on_device[2], False)
    else:
        from cnnlab.data.torch_loader import ClassicLoader, image_pipeline  # imports torchvision

        if len(full_train) > 1:
            raise ConfigError(
                f"dataset.loader=torch cannot batch variable-resolution data ({ds.name}); "
                f"use dataset.loader=tensor, which batches by size bucket."
            )
        train_tf = image_pipeline(augmentation.train_transforms(size), mean, std, zca)
        eval_tf = image_pipeline(augmentation.eval_transforms(size), mean, std, zca)
        train_idx, val_idx = split_indices(len(full_train[0]), ds.val_fraction, ds.split_seed)
        if max_eval and max_eval < len(val_idx):
            pick = torch.randperm(len(val_idx), generator=torch.Generator().manual_seed(ds.split_seed))
            val_idx = val_idx[pick[:max_eval]].sort().values

        def classic_loader(dataset, training: bool):
            return ClassicLoader(
                dataset,
                trainer.batch_size if training else trainer.eval_batch_size,
                shuffle=training,
                device=device,
                num_workers=ds.num_workers,
                **common,
                **(limit if training else {}),
            )

        train_loader = classic_loader(Subset(source.torch_dataset("train", train_tf), train_idx), True)
        val_loader = (
            classic_loader(Subset(source.torch_dataset("train", eval_tf), val_idx), False)
            if len(val_idx)
            else None
        )
        test_set = source.torch_dataset("test", eval_tf)
        if max_eval and max_eval < len(test_set):
            keep = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(ds.split_seed + 1))
            test_set = Subset(test_set, keep[:max_eval].sort().values.tolist())
        test_loader = classic_loader(test_set, False)

    image_shape = tuple(train[0].x.shape[1:]) if len(full_train) == 1 else None
    return DataModule(
        train_loader,
        val_loader,
        test_loader,
        input_shape,
        mean,
        std,
        zca_on_device,
        image_shape,
        sample_note,
        tuple(sorted({augmentation.output_size(int(b.x.shape[-1])) for b in full_train})),
    )


def evaluated_images(cfg: DictConfig, val: Buckets, test: Buckets) -> tuple[int | None, str | None]:
    """How many images validation and test each keep: all, or a seeded random sample of `dataset.max_eval`
    (short budgets) or of trainer.limit_batches x trainer.eval_batch_size, whichever is fewer. A sample,
    never the first batches in file order: those can hold one or two classes (a sorted image folder)."""
    caps = [cfg.dataset.get("max_eval")]
    if cfg.trainer.limit_batches:
        caps.append(cfg.trainer.limit_batches * cfg.trainer.eval_batch_size)
    cap = min((c for c in caps if c), default=None)
    n_val, n_test = (sum(len(b) for b in split) for split in (val, test))
    note = None
    if cap and cap < max(n_val, n_test) and cfg.trainer.limit_batches:
        note = (
            f"trainer.limit_batches={cfg.trainer.limit_batches}: validation and test are each a seeded "
            f"random "
            f"sample of at most {cap} images (of {n_val} and {n_test}), not their first batches; their "
            "metrics estimate the full splits'. Set trainer.limit_batches=null to evaluate every image."
        )
        log.warning("%s", note)
    return cap, note


def class_names(cfg: DictConfig) -> list[str]:
    """The name of each of dataset.num_classes labels, from the source's `classes` (cached beside its
    images, so a data set is not read again for it); label numbers where the source names none."""
    ds = cfg.dataset
    source = build(ds.source, key="dataset.source")
    names: list[str] = []
    if hasattr(type(source), "classes"):
        path = Path(cfg.paths.cache_dir) / f"{source.cache_key}-classes.json"
        try:
            names = [str(name) for name in cached_json(path, lambda: list(source.classes))]
        except DataError as error:
            log.warning("class names of %s unavailable, labels shown as numbers: %s", ds.name, error)
    return names[: ds.num_classes] + [str(i) for i in range(len(names), ds.num_classes)]


def _whitening_method(ds: DictConfig) -> str | None:
    """dataset.whitening, checked before any data is read (runs older than the option have none)."""
    whitening = ds.get("whitening")
    if whitening not in WHITENINGS:
        raise ConfigError(f"dataset.whitening={whitening!r} is not a whitening; use one of {WHITENINGS}.")
    if whitening and ds.normalize:
        raise ConfigError(
            f"dataset.whitening={whitening} already centres every pixel and rescales every direction; "
            "per-channel standardisation on top would undo that. Set dataset.normalize=false with it."
        )
    return whitening


def check_splits(ds: DictConfig, full_train: Buckets, train: Buckets, val: Buckets, test: Buckets) -> None:
    """ConfigError when the split leaves nothing to train on, a validation split asked for holds no image
    (its metrics would never be measured), or the labels overrun dataset.num_classes."""
    n_full, n_train = sum(len(b) for b in full_train), sum(len(b) for b in train)
    if n_train == 0:
        raise ConfigError(
            f"dataset.val_fraction={ds.val_fraction} leaves none of the {n_full} images of "
            f"{ds.name}'s train split to train on; use a smaller fraction, e.g. dataset.val_fraction=0.1."
        )
    if ds.val_fraction > 0 and not sum(len(b) for b in val):
        smallest = min(len(b) for b in full_train)
        raise ConfigError(
            f"dataset.val_fraction={ds.val_fraction} of {ds.name}'s {n_full} train images rounds to no "
            f"validation image at all, so no val_ metric would ever be measured; hold out at least one "
            f"(dataset.val_fraction >= {1 / smallest:.2g}), or none with dataset.val_fraction=0."
        )
    if ds.task == "classification":
        n_labels = 1 + max(int(b.y.max()) for b in full_train + test if len(b))
        if n_labels > ds.num_classes:
            raise ConfigError(
                f"dataset.num_classes={ds.num_classes}, but {ds.name}'s labels run from 0 to "
                f"{n_labels - 1}; set dataset.num_classes={n_labels} (the model's output size follows it)."
            )


def _evaluate(augmentation: Augmentation):
    """Eval-time transform with the loader's (x, generator) signature."""
    return lambda x, _generator: augmentation.evaluate(x)
