"""The tensor path and the classic torchvision path agree, and augmentation is per sample."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnlab.data.augment import Augmentation, affine_grid, random_affine, random_crop
from cnnlab.data.datamodule import build_data
from cnnlab.errors import DataError
from tests.conftest import fake_image_folder, fake_mnist


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_tensor_and_torch_paths_give_the_same_normalised_batches(make_cfg, tmp_path, dataset):
    if dataset == "mnist":
        fake_mnist(tmp_path / "data")
        extra = []
    else:
        fake_image_folder(tmp_path / "cifar")
        extra = [f"dataset.image_folder={tmp_path / 'cifar'}"]
    common = [f"dataset={dataset}", *extra, "trainer.batch_size=16", "trainer.eval_batch_size=16"]
    tensor = build_data(make_cfg(*common, "dataset.loader=tensor"), torch.device("cpu"))
    classic = build_data(make_cfg(*common, "dataset.loader=torch"), torch.device("cpu"))
    assert tensor.mean == classic.mean and tensor.std == classic.std
    for split in ("train", "val", "test"):
        a, b = getattr(tensor, split), getattr(classic, split)
        a.set_epoch(3)
        b.set_epoch(3)
        batches_a, batches_b = list(a), list(b)
        assert len(batches_a) == len(batches_b) > 0
        for (xa, ya), (xb, yb) in zip(batches_a, batches_b, strict=True):
            torch.testing.assert_close(xa, xb, rtol=0, atol=1e-5)
            assert torch.equal(ya, yb)


def test_normalisation_uses_train_split_statistics_only(make_cfg, tmp_path):
    fake_mnist(tmp_path / "data")
    data = build_data(make_cfg("dataset=mnist"), torch.device("cpu"))
    train_x = torch.cat([x for x, _ in data.train])
    assert train_x.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert train_x.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-3)
    test_x = torch.cat([x for x, _ in data.test])
    assert abs(test_x.mean().item()) > 1e-3


def test_flip_and_crop_draw_independently_for_each_image():
    x = torch.arange(8 * 8, dtype=torch.float32).view(1, 1, 8, 8).repeat(64, 1, 1, 1)
    out = Augmentation(hflip=0.5, crop_padding=2).apply(x, torch.Generator().manual_seed(0))
    distinct = {tuple(img.flatten().tolist()) for img in out}
    assert len(distinct) > 10


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_random_crop_matches_slicing_the_padded_image(memory_format):
    x = torch.randn(5, 3, 10, 12).contiguous(memory_format=memory_format)
    generator = torch.Generator().manual_seed(1)
    out = random_crop(x, (8, 9), 2, generator)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))  # 14 x 16
    replay = torch.Generator().manual_seed(1)
    top = torch.randint(0, 7, (5,), generator=replay)
    left = torch.randint(0, 8, (5,), generator=replay)
    for i in range(5):
        torch.testing.assert_close(out[i], padded[i, :, top[i] : top[i] + 8, left[i] : left[i] + 9])


def test_padding_alone_crops_a_non_square_batch_back_to_its_own_height_and_width():
    x = torch.randn(5, 2, 6, 10)
    out = Augmentation(crop_padding=3).apply(x, torch.Generator().manual_seed(2))
    padded = torch.nn.functional.pad(x, (3, 3, 3, 3))  # 12 x 16
    replay = torch.Generator().manual_seed(2)
    top = torch.randint(0, 7, (5,), generator=replay)
    left = torch.randint(0, 7, (5,), generator=replay)
    for i in range(5):
        torch.testing.assert_close(out[i], padded[i, :, top[i] : top[i] + 6, left[i] : left[i] + 10])


def test_affine_with_zero_range_is_the_identity_and_rotations_differ_per_image():
    x = torch.rand(6, 1, 16, 16)
    torch.testing.assert_close(random_affine(x, 0.0, 0.0, None), x, atol=1e-5, rtol=0)
    same = x[:1].repeat(32, 1, 1, 1)
    out = random_affine(same, 30.0, 0.1, torch.Generator().manual_seed(0))
    assert len({round(v, 4) for v in out.sum((1, 2, 3)).tolist()}) > 20


@pytest.mark.parametrize("size", [(28, 28), (24, 32), (7, 5)])
def test_affine_grid_matches_torchs_affine_grid(size):
    theta = torch.randn(6, 2, 3, generator=torch.Generator().manual_seed(0))
    expected = F.affine_grid(theta, [6, 1, *size], align_corners=False)
    torch.testing.assert_close(affine_grid(theta, *size), expected)


def test_centre_crop_at_test_time_when_training_crops_smaller():
    aug = Augmentation(hflip=0.5, crop_size=28)
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(aug.evaluate(x), x[..., 2:30, 2:30])
    assert aug.apply(x, torch.Generator().manual_seed(0)).shape == (2, 3, 28, 28)


def test_missing_data_offline_names_the_path_and_both_fixes(make_cfg, tmp_path):
    cfg = make_cfg("dataset=mnist", "dataset.source.download=false")
    with pytest.raises(DataError) as error:
        build_data(cfg, torch.device("cpu"))
    message = str(error.value)
    assert str((tmp_path / "data").resolve()) in message
    assert "internet" in message and "dataset.source.root" in message


def test_bucket_order_depends_on_the_seed_as_well_as_the_epoch():
    from cnnlab.data.imageset import ImageSet
    from cnnlab.data.tensor_loader import TensorLoader

    buckets = [ImageSet(torch.zeros(40, 1, s, s, dtype=torch.uint8), torch.zeros(40)) for s in (8, 12, 16)]

    def sizes(seed: int) -> list[int]:
        return [x.shape[-1] for x, _ in TensorLoader(buckets, 4, shuffle=True, seed=seed)]

    assert sizes(0) == sizes(0)
    assert sizes(0) != sizes(1)


def test_a_second_image_folder_is_not_served_the_first_ones_cache(make_cfg, tmp_path):
    first = fake_image_folder(tmp_path / "a", n_per_class=2, size=8)
    second = fake_image_folder(tmp_path / "b", n_per_class=3, size=8)

    def train_count(folder) -> int:
        cfg = make_cfg("dataset=cifar10", f"dataset.image_folder={folder}", "dataset.val_fraction=0")
        return sum(len(y) for _, y in build_data(cfg, torch.device("cpu")).train)

    assert train_count(first) == 20
    assert train_count(second) == 30
    (first / "train" / "class0" / "0000.png").unlink()  # the same folder, changed: decoded afresh
    assert train_count(first) == 19


def test_a_truncated_archive_leaves_nothing_half_unpacked_and_a_good_one_then_unpacks(tmp_path):
    import tarfile

    from cnnlab.data.torchvision_source import TorchvisionSource

    folder = fake_image_folder(tmp_path / "tree", n_per_class=1, size=8)
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar")
    good = archive.read_bytes()
    archive.write_bytes(good[: len(good) // 2])
    source = TorchvisionSource("CIFAR10", str(tmp_path / "root"), image_folder=str(archive))
    with pytest.raises(DataError, match="truncated"):
        source.load("train")
    assert list((tmp_path / "root").iterdir()) == []
    archive.write_bytes(good)
    source = TorchvisionSource("CIFAR10", str(tmp_path / "root"), image_folder=str(archive))
    assert len(source.load("test")) == 10
    assert [p.name.startswith("cifar-") for p in (tmp_path / "root").iterdir()] == [True]
