"""The named interfaces hold: every configured source is a DataSource, both loaders are Loaders, and
a new kind of augmentation is one class that the config's keys reach without other edits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from cnnlab.build import build
from cnnlab.data import augment
from cnnlab.data.augment import Augmentation, Step
from cnnlab.data.datamodule import build_data
from cnnlab.data.protocols import DataSource, Loader
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
class VerticalFlip(Step):
    """A kind of augmentation written the way the module's docstring says: one class."""

    vflip: float = 0.0

    @property
    def active(self) -> bool:
        return self.vflip > 0

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        flip = torch.rand(x.shape[0], device=x.device, generator=generator) < self.vflip
        return torch.where(flip[:, None, None, None], x.flip(-2), x)

    def train_transform(self, size: int):
        from torchvision.transforms import v2

        return v2.RandomVerticalFlip(self.vflip)


def test_a_new_augmentation_is_one_class_reached_by_its_config_key(monkeypatch):
    monkeypatch.setattr(augment, "AUGMENTATIONS", (*augment.AUGMENTATIONS, VerticalFlip))
    x = torch.rand(4, 1, 6, 6)
    aug = Augmentation(vflip=1.0, crop_padding=0)
    torch.testing.assert_close(aug.apply(x), x.flip(-2))
    torch.testing.assert_close(aug.evaluate(x), x)
    assert [type(t).__name__ for t in aug.train_transforms(6)] == ["RandomVerticalFlip"]
    assert aug.pixel_moving_settings() == ["vflip"]


def test_an_unknown_augmentation_key_names_itself_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"augmentation\.vflip is not an augmentation setting.*hflip"):
        Augmentation(vflip=0.5)
