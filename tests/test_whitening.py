"""ZCA whitening (rdfia q21): identity covariance on the train split, train statistics for test."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnlab.data.datamodule import build_data
from cnnlab.data.imageset import ImageSet, split_train_val
from cnnlab.data.tensor_loader import TensorLoader
from cnnlab.data.whitening import whiten, zca_whitening
from cnnlab.errors import ConfigError
from tests.conftest import fake_image_folder, fake_mnist

CPU = torch.device("cpu")


def _correlated_images(n: int, seed: int = 0) -> ImageSet:
    """uint8 2x3x3 images whose pixels share a few random factors, so they are strongly correlated."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 4)) @ rng.normal(size=(4, 18)) + 0.3 * rng.normal(size=(n, 18))
    pixels = np.clip(128 + 30 * factors, 0, 255).astype(np.uint8)
    return ImageSet(torch.from_numpy(pixels.reshape(n, 2, 3, 3)), torch.zeros(n, dtype=torch.long))


def _numpy_zca(flat: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    mean = flat.mean(0)
    values, vectors = np.linalg.eigh(np.cov(flat, rowvar=False, bias=True))
    return mean, vectors @ np.diag(1 / np.sqrt(np.clip(values, 0, None) + eps)) @ vectors.T


def test_whitened_train_data_has_identity_covariance_and_w_is_symmetric():
    images = _correlated_images(2000)
    zca = zca_whitening([images], eps=1e-9)
    white = whiten(images.x.float() / 255, zca["mean"], zca["matrix"])
    covariance = np.cov(white.flatten(1).double().numpy(), rowvar=False, bias=True)
    before = np.cov(images.x.flatten(1).double().numpy() / 255, rowvar=False, bias=True)
    assert np.abs(before - np.diag(np.diag(before))).max() > 1e-3
    np.testing.assert_allclose(covariance, np.eye(18), atol=2e-3)
    torch.testing.assert_close(zca["matrix"], zca["matrix"].T, rtol=0, atol=0)


def test_eps_shrinks_each_direction_by_s_over_s_plus_eps_as_numpy_computes_it():
    images = _correlated_images(500, seed=1)
    eps = 1e-2
    zca = zca_whitening([images], eps=eps)
    flat = images.x.flatten(1).double().numpy() / 255
    mean, matrix = _numpy_zca(flat, eps)
    np.testing.assert_allclose(zca["matrix"].double().numpy(), matrix, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(zca["mean"].double().numpy(), mean, atol=1e-6)
    values, vectors = np.linalg.eigh(np.cov(flat, rowvar=False, bias=True))
    expected = vectors @ np.diag(values / (values + eps)) @ vectors.T
    white = whiten(images.x.float() / 255, zca["mean"], zca["matrix"]).flatten(1).double().numpy()
    np.testing.assert_allclose(np.cov(white, rowvar=False, bias=True), expected, atol=1e-4)


def test_bad_eps_and_variable_sizes_are_config_errors():
    images = _correlated_images(10)
    with pytest.raises(ConfigError, match="whitening_eps=0"):
        zca_whitening([images], eps=0)
    other = ImageSet(torch.zeros(3, 2, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigError, match="one size"):
        zca_whitening([images, other], eps=1e-2)


def _whitened_cifar(tmp_path, n_per_class: int, size: int, batch: int) -> list[str]:
    """Overrides for a tiny CIFAR-like image folder of size x size images, whitened by ZCA."""
    fake_image_folder(tmp_path / "cifar", n_per_class=n_per_class, size=size)
    return [
        "dataset=cifar10",
        f"dataset.image_folder={tmp_path / 'cifar'}",
        f"dataset.image_size={size}",
        "dataset.normalize=false",
        "dataset.whitening=zca",
        f"trainer.batch_size={batch}",
        f"trainer.eval_batch_size={batch}",
    ]


def test_loaders_whiten_with_the_train_split_statistics_on_both_paths(make_cfg, tmp_path):
    common = _whitened_cifar(tmp_path, n_per_class=6, size=8, batch=16)
    cfg = make_cfg(*common)
    tensor = build_data(cfg, CPU)
    classic = build_data(make_cfg(*common, "dataset.loader=torch"), CPU)
    assert list((tmp_path / "cache").glob("*-zca-*.pt"))

    from hydra.utils import instantiate

    source = instantiate(cfg.dataset.source)
    train, _ = split_train_val([source.load("train")], cfg.dataset.val_fraction, cfg.dataset.split_seed)
    mean, matrix = _numpy_zca(train[0].x.flatten(1).double().numpy() / 255, cfg.dataset.whitening_eps)
    test_raw = source.load("test").x.flatten(1).double().numpy() / 255
    expected = (test_raw - mean) @ matrix
    for data in (tensor, classic):
        test_x = torch.cat([x for x, _ in data.test]).flatten(1).double().numpy()
        np.testing.assert_allclose(test_x, expected, rtol=1e-3, atol=2e-3)
    train_x = torch.cat([x for x, _ in tensor.train]).flatten(1).double().numpy()
    assert np.abs(train_x.mean(0)).max() < 1e-4
    assert np.abs(test_x.mean(0)).max() > 1e-2


def test_shuffled_batches_are_the_whitened_images_of_the_same_draw_in_every_epoch():
    """Whitening acts on the seeded draw, not before it: each shuffled batch equals whitening the
    unwhitened loader's batch of the same seed and epoch."""
    images = _correlated_images(50)
    stats = zca_whitening([images], eps=1e-2)
    whitening = (stats["mean"], stats["matrix"])
    kwargs = {"shuffle": True, "seed": 3, "chunk": 16}
    whitened = TensorLoader([images], 8, whitening=whitening, **kwargs)
    plain = TensorLoader([images], 8, **kwargs)
    for epoch in (0, 1):
        whitened.set_epoch(epoch)
        plain.set_epoch(epoch)
        for (xw, yw), (xp, yp) in zip(whitened, plain, strict=True):
            torch.testing.assert_close(xw, whiten(xp, *whitening), rtol=1e-5, atol=1e-5)
            assert torch.equal(yw, yp)


def test_whitening_with_standardisation_or_unknown_name_is_refused(make_cfg, tmp_path):
    fake_mnist(tmp_path / "data")
    with pytest.raises(ConfigError, match="dataset.normalize=false"):
        build_data(make_cfg("dataset=mnist", "dataset.whitening=zca"), CPU)
    with pytest.raises(ConfigError, match="'pca' is not a whitening"):
        build_data(make_cfg("dataset=mnist", "dataset.normalize=false", "dataset.whitening=pca"), CPU)


def test_whitening_comes_before_the_crop_on_both_paths(make_cfg, tmp_path):
    """A 12x12 crop of a whitened 16x16 image: the centre-cropped test batches agree across paths."""
    common = [
        *_whitened_cifar(tmp_path, n_per_class=2, size=16, batch=8),
        "augmentation=flip_crop",
        "augmentation.crop_size=12",
    ]
    tensor = build_data(make_cfg(*common), CPU)
    classic = build_data(make_cfg(*common, "dataset.loader=torch"), CPU)
    for data in (tensor, classic):
        x, _ = next(iter(data.train))
        assert x.shape[1:] == (3, 12, 12)
    for (xa, _), (xb, _) in zip(tensor.test, classic.test, strict=True):
        torch.testing.assert_close(xa, xb, rtol=1e-4, atol=1e-4)
