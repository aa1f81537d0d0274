"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's own classes, or from an image folder."""

from __future__ import annotations

import gzip
import shutil
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from cnnlab.data.imageset import ImageSet
from cnnlab.errors import DataError

RAW_FOLDERS = {"MNIST": "MNIST", "FashionMNIST": "FashionMNIST", "CIFAR10": "cifar-10-batches-py"}


class TorchvisionSource:
    """A torchvision data set: downloaded into `root` when online, read from `root` when not.

    For CIFAR-10, `image_folder` (a tree train/<class>/*, test/<class>/* or a .tar.gz of one)
    replaces the download.
    """

    def __init__(
        self,
        dataset: str,
        root: str,
        download: bool = True,
        image_folder: str | None = None,
    ) -> None:
        if dataset not in RAW_FOLDERS:
            raise DataError(
                f"dataset.source.dataset={dataset!r} is not one cnnlab reads through torchvision; "
                f"use one of {sorted(RAW_FOLDERS)}."
            )
        self.dataset = dataset
        self.root = Path(root)
        self.download = download
        self.image_folder = Path(image_folder) if image_folder else None
        self.cache_key = dataset.lower() if self.image_folder is None else f"{dataset.lower()}-folder"

    def load(self, split: str) -> ImageSet:
        if self.image_folder is not None:
            return _load_image_folder(self._folder_root() / split)
        data = self._torchvision(split, transform=None)
        images = data.data
        if isinstance(images, np.ndarray):
            images = torch.from_numpy(images)
        x = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
        y = torch.as_tensor(data.targets, dtype=torch.int64)
        return ImageSet(x.contiguous(), y)

    def torch_dataset(self, split: str, transform) -> Dataset:
        import torchvision  # imported when a split is decoded, not when it is read from the cache

        if self.image_folder is not None:
            return torchvision.datasets.ImageFolder(self._folder_root() / split, transform=transform)
        return self._torchvision(split, transform=transform)

    def _torchvision(self, split: str, transform) -> Dataset:
        import torchvision

        cls = getattr(torchvision.datasets, self.dataset)
        self._unpack_gzipped_raw()
        try:
            return cls(str(self.root), train=split == "train", transform=transform, download=self.download)
        except (RuntimeError, OSError) as error:
            raise DataError(
                f"{self.dataset} was not found under {self.root.resolve()}/{RAW_FOLDERS[self.dataset]} "
                f"and could not be downloaded ({error}). Either connect to the internet so "
                f"torchvision can download it, or give the folder that already holds it with "
                f"dataset.source.root=/path (or paths.data_root=/path)."
            ) from error

    def _unpack_gzipped_raw(self) -> None:
        """torchvision reads MNIST's IDX files uncompressed; unpack .gz copies found beside them."""
        raw = self.root / self.dataset / "raw"
        if self.dataset == "CIFAR10" or not raw.is_dir():
            return
        for packed in raw.glob("*.gz"):
            unpacked = packed.with_suffix("")
            if not unpacked.exists():
                try:
                    with gzip.open(packed) as src, open(unpacked, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except OSError as error:
                    raise DataError(
                        f"{packed} is gzipped and its folder is not writable ({error}); copy "
                        f"{self.root / self.dataset} to a writable folder and give that as "
                        f"paths.data_root."
                    ) from error

    def _folder_root(self) -> Path:
        """The image-folder tree, unpacking a .tar.gz once into `root`."""
        folder = self.image_folder
        if folder.name.endswith((".tar.gz", ".tgz")) and folder.is_file():
            target = self.root / folder.name.split(".")[0]
            if not (target / "train").is_dir():
                with tarfile.open(folder) as archive:
                    archive.extractall(target, filter="data")
            folder = target
            inner = [p for p in folder.iterdir() if p.is_dir()]
            if not (folder / "train").is_dir() and len(inner) == 1:
                folder = inner[0]
        if not (folder / "train").is_dir() or not (folder / "test").is_dir():
            raise DataError(
                f"dataset.image_folder={str(self.image_folder)!r} has no train/ and test/ folders "
                f"of class subfolders (looked in {folder.resolve()}). Give a folder laid out as "
                f"train/<class>/*.jpg and test/<class>/*.jpg, or a .tar.gz of one."
            )
        return folder


def _load_image_folder(folder: Path) -> ImageSet:
    """Decode every image of an ImageFolder tree once, in ImageFolder's own order."""
    import torchvision
    from torchvision.io import ImageReadMode, decode_image, read_file

    index = torchvision.datasets.ImageFolder(folder)
    images = [
        decode_image(read_file(path), mode=ImageReadMode.RGB)
        for path, _ in tqdm(index.samples, desc=f"decoding {folder}", unit="img", mininterval=2)
    ]
    return ImageSet(torch.stack(images), torch.as_tensor(index.targets, dtype=torch.int64))
