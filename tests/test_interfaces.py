"""The named interfaces hold: every configured source is a DataSource, both loaders are Loaders, and
a new kind of augmentation is one class that the config's keys reach without other edits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from omegaconf import OmegaConf

from cnnlab.config.build import build
from cnnlab.data import augment
from cnnlab.data.augment import Augmentation, Step
from cnnlab.data.datamodule import build_data
from cnnlab.data.protocols import DataSource, Loader
from cnnlab.engine.tasks import ImageRegression
from cnnlab.errors import ConfigError
from tests.conftest import fake_mnist, options

DATASETS = options("dataset")


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_configured_source_is_a_data_source(make_cfg, dataset):
    source = build(make_cfg(f"dataset={dataset}").dataset.source)
    assert isinstance(source, DataSource)
    assert isinstance(source.cache_key, str) and source.cache_key


@pytest.mark.parametrize("loader", ["tensor", "torch"])
@pytest.mark.parametrize("dataset", [["dataset=mnist"], ["dataset=mnist_varres", "dataset.resize_to=32"]])
def test_both_loaders_are_loaders(make_cfg, tmp_path, loader, dataset):
    fake_mnist(tmp_path / "data")
    data = build_data(make_cfg(*dataset, f"dataset.loader={loader}"), torch.device("cpu"))
    for split in (data.train, data.val, data.test):
        assert isinstance(split, Loader)
        assert len(split) == sum(1 for _ in split) > 0


@dataclass(frozen=True)
class Negative(Step):
    """A kind of augmentation written the way augment.py's docstring says: one class. It turns some
    images into their negative, which moves no pixel, so image targets stay aligned."""

    moves_pixels = False
    negative: float = 0.0

    @property
    def active(self) -> bool:
        return self.negative > 0

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        chosen = torch.rand(x.shape[0], device=x.device, generator=generator) < self.negative
        x = x.clone()
        x[chosen] = 1 - x[chosen]
        return x

    def train_transform(self, size: int):
        from torchvision.transforms import v2

        return v2.RandomInvert(self.negative)


def test_a_new_augmentation_is_one_class_reached_by_its_config_key(monkeypatch):
    monkeypatch.setattr(augment, "AUGMENTATIONS", (*augment.AUGMENTATIONS, Negative))
    x = torch.rand(4, 1, 6, 6)
    aug = Augmentation(negative=1.0, hflip=0.0)
    torch.testing.assert_close(aug.apply(x), 1 - x)
    torch.testing.assert_close(aug.evaluate(x), x)
    assert [type(t).__name__ for t in aug.train_transforms(6)] == ["RandomInvert"]
    # The regression task allows it, and still refuses it beside a crop.
    spec = {"_target_": "cnnlab.data.augment.Augmentation", "negative": 0.5}
    ImageRegression().check_augmentation(OmegaConf.create(spec), "textblur")
    with pytest.raises(ConfigError, match=r"\['crop_padding'\]"):
        ImageRegression().check_augmentation(OmegaConf.create({**spec, "crop_padding": 2}), "textblur")


def test_an_unknown_augmentation_key_names_itself_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"augmentation\.vflip: not an augmentation setting.*hflip"):
        Augmentation(vflip=0.5)
    with pytest.raises(ConfigError, match=r"augmentation\.rotate, augmentation\.vflip: not an augmentation"):
        Augmentation(vflip=0.5, hflip=0.5, rotate=10)


def test_the_startup_shape_names_every_side_of_variable_resolution_data(make_cfg, tmp_path):
    """input_shape is the first size bucket's; a log must not read as if every image had that size."""
    fake_mnist(tmp_path / "data")
    fixed = build_data(make_cfg("dataset=mnist"), torch.device("cpu"))
    assert fixed.shape_text() == "1x28x28" and fixed.sizes_px == (28,)
    varres = build_data(make_cfg("dataset=mnist_varres"), torch.device("cpu"))
    sides = sorted({int(x.shape[-1]) for x, _ in varres.train})
    assert len(sides) > 1 and varres.sizes_px == tuple(sides)
    assert (
        varres.shape_text()
        == f"1x{sides[0]}..{sides[-1]}x{sides[0]}..{sides[-1]} (variable resolution, {len(sides)} sides)"
    )
