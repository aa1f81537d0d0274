"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision's own classes, or from an image folder."""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import shutil
import struct
import tarfile
import zlib
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from cnnlab.data.image_folder import FolderDataset, class_folders, index_split
from cnnlab.data.imageset import ImageSet
from cnnlab.errors import DataError, quoted, said

log = logging.getLogger(__name__)

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

    @cached_property
    def cache_key(self) -> str:
        """The data set's name; for an image folder also its fingerprint, so another folder (or the same
        folder with files added, removed or changed) is decoded afresh instead of read from the cache."""
        if self.image_folder is None:
            return self.dataset.lower()
        return f"{self.dataset.lower()}-folder-{fingerprint(self.image_folder)}"

    @property
    def classes(self) -> list[str]:
        """Each label's name: the image folder's class folders in ImageFolder's (label) order, else
        torchvision's own list for the data set (CIFAR-10's from its batches.meta)."""
        if self.image_folder is not None:
            return class_folders(self._folder_root() / "train")
        return list(self._torchvision("test", transform=None).classes)

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
        if self.image_folder is not None:
            return FolderDataset(index_split(self._folder_root() / split), read_image_file, transform)
        return self._torchvision(split, transform=transform)

    def _torchvision(self, split: str, transform) -> Dataset:
        import torchvision

        cls = getattr(torchvision.datasets, self.dataset)
        self._prepare_raw()
        try:
            return cls(str(self.root), train=split == "train", transform=transform, download=self.download)
        except (RuntimeError, OSError) as error:
            # torchvision's message spans lines (one per mirror tried); one paragraph keeps it.
            why = f"could not be downloaded ({' '.join(str(error).split())})"
            if not self.download:
                why = "dataset.source.download=false forbids downloading it"
            raise DataError(
                f"{self.dataset} was not found under {self.root.resolve()}/{RAW_FOLDERS[self.dataset]} "
                f"and {why}. Either connect to the internet so torchvision can download it (with "
                f"dataset.source.download=true), or give the folder that already holds "
                f"{RAW_FOLDERS[self.dataset]}/ with paths.data_root=/path (or dataset.source.root=/path)."
            ) from error

    def _prepare_raw(self) -> None:
        """torchvision reads MNIST's IDX files uncompressed: unpack .gz copies found beside them, and
        check every IDX file's length against its header, so a truncated file is named as such."""
        raw = self.root / self.dataset / "raw"
        if self.dataset == "CIFAR10" or not raw.is_dir():
            return
        for packed in raw.glob("*.gz"):
            unpacked = packed.with_suffix("")
            if not unpacked.exists():
                _gunzip(packed, unpacked, self.root / self.dataset)
        shapes = {idx.name: check_idx(idx) for idx in raw.glob("*-ubyte")}
        for prefix in ("train", "t10k"):
            images, labels = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
            if images in shapes and labels in shapes:
                check_idx_pair(raw / images, shapes[images], raw / labels, shapes[labels])

    def _folder_root(self) -> Path:
        """The image-folder tree, unpacking a .tar.gz once into `root`."""
        folder = self.image_folder
        if folder.name.endswith((".tar.gz", ".tgz")) and folder.is_file():
            folder = _unpacked(folder, self.root)
            inner = [p for p in folder.iterdir() if p.is_dir()]
            if not (folder / "train").is_dir() and len(inner) == 1:
                folder = inner[0]
        if not (folder / "train").is_dir() or not (folder / "test").is_dir():
            raise DataError(
                f"dataset.image_folder={str(self.image_folder)!r} has no train/ and test/ folders "
                f"of class subfolders (looked in {folder.resolve()}). Give a folder laid out as "
                f"train/<class>/*.jpg and test/<class>/*.jpg, or a .tar.gz of one."
            )
        train, test = (set(class_folders(folder / s)) for s in ("train", "test"))
        if train != test:
            raise DataError(
                f"dataset.image_folder={str(self.image_folder)!r}: train/ and test/ have different class "
                f"folders (only in train/: {sorted(train - test)}; only in test/: {sorted(test - train)}), "
                "so a test image's label number would name another class than in training. Give both "
                "splits the same class folders."
            )
        return folder


def fingerprint(path: Path) -> str:
    """A short hash of a file's or a tree's resolved path and of every file's name, size and mtime."""
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode())
    files = [resolved] if resolved.is_file() else sorted(p for p in resolved.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(resolved)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def _unpacked(archive_path: Path, root: Path) -> Path:
    """The archive unpacked under root, keyed by its fingerprint: extracted into a temporary dir that is
    renamed into place only once complete, so an interrupted or truncated extraction is never reused."""
    target = root / f"{archive_path.name.split('.')[0]}-{fingerprint(archive_path)}"
    if target.is_dir():
        return target
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with tarfile.open(archive_path) as archive:
            archive.extractall(partial, filter="data")
        partial.rename(target)
    except tarfile.FilterError as error:  # a member that would land outside, or a link leading out
        raise DataError(
            f"dataset.image_folder={str(archive_path)!r} was not unpacked: {said(error)}. An image folder's "
            "archive holds its files, and links only to files inside it; nothing of it was kept under "
            f"{root}. Make the archive again without that member (tar --dereference keeps files, not links)."
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        if target.is_dir():  # another run finished the same extraction first
            return target
        raise DataError(
            f"dataset.image_folder={str(archive_path)!r} could not be unpacked ({said(error)}): it is "
            f"truncated, corrupt or not a .tar.gz. Download or create it again; nothing half-unpacked was "
            f"kept under {root}."
        ) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _gunzip(packed: Path, unpacked: Path, folder: Path) -> None:
    """Unpack through a temporary file, so a truncated .gz never leaves a truncated IDX file behind."""
    tmp = unpacked.with_name(f".{unpacked.name}.{os.getpid()}.tmp")
    try:
        with gzip.open(packed) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        tmp.replace(unpacked)
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(
            f"{packed} is not a complete gzip file ({error}): the download was cut short or the file is "
            "damaged. Delete it so torchvision downloads it again, or copy a complete one there."
        ) from None
    except OSError as error:
        raise DataError(
            f"{packed} is gzipped and its folder is not writable ({error}); copy {folder} to a writable "
            f"folder and give that as paths.data_root."
        ) from error
    finally:
        if tmp.exists():  # on a read-only file system even unlinking a missing file fails
            tmp.unlink()


# IDX type codes (the third byte of the magic number) and their item sizes in bytes.
IDX_ITEM_SIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def check_idx(path: Path) -> tuple[int, ...]:
    """The dimensions an IDX file's header declares; DataError naming `path` when its length is not what the
    header declares."""
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
        ndim = magic[3] if len(magic) == 4 else 0
        dims = f.read(4 * ndim)
    item = IDX_ITEM_SIZES.get(magic[2]) if len(magic) == 4 and magic[:2] == b"\0\0" else None
    if item is None or ndim == 0 or len(dims) < 4 * ndim:
        problem = "does not start with an IDX header"
    else:
        shape = struct.unpack(f">{ndim}I", dims)
        expected = 4 + 4 * ndim + math.prod(shape) * item
        if size == expected:
            return shape
        problem = f"is {size:,} bytes but its header declares {expected:,}"
    raise DataError(
        f"{path} {problem}: the file is truncated or corrupt. Delete it (and any .gz of it beside it) so "
        "torchvision downloads it again, or copy a complete one there."
    )


def check_idx_pair(
    images: Path, image_shape: tuple[int, ...], labels: Path, label_shape: tuple[int, ...]
) -> None:
    """DataError naming the files when an images file and its labels file do not pair up: N x H x W images
    and N labels, N > 0 (swapped files, or files of two different downloads)."""
    if len(image_shape) != 3 or len(label_shape) != 1:
        problem = (
            f"{images} declares {len(image_shape)} dimensions and {labels} {len(label_shape)}, but an images "
            "file holds N x H x W images and a labels file N labels: the files are swapped or not MNIST's"
        )
    elif image_shape[0] != label_shape[0]:
        problem = (
            f"{images} holds {image_shape[0]:,} images but {labels} holds {label_shape[0]:,} labels: the two "
            "files come from different downloads or one was cut short and rewritten"
        )
    elif image_shape[0] == 0:
        problem = f"{images} holds no images (its header declares 0), and {labels} no labels"
    else:
        return
    raise DataError(
        f"{problem}. Delete both (and any .gz of them beside them) so torchvision downloads them again, or "
        "copy a complete pair there."
    )


def _load_image_folder(folder: Path) -> ImageSet:
    """Decode every image of a split of an image folder once, in ImageFolder's own order."""
    from torchvision.io import ImageReadMode, decode_image, read_file

    index = index_split(folder)
    if index.skipped_links:
        n = len(index.skipped_links)
        log.warning(
            "dataset.image_folder: skipped %d symlink%s in %s (a link that leaves it, leads to a folder or "
            "leads nowhere is not followed: an image's class is the folder it is found in): %s",
            n,
            "" if n == 1 else "s",
            folder,
            ", ".join(str(p) for p in index.skipped_links[:3]) + (", ..." if n > 3 else ""),
        )

    def decode(path: str) -> torch.Tensor:
        try:
            return decode_image(read_file(path), mode=ImageReadMode.RGB)
        except RuntimeError as error:
            raise undecodable(path, error, "nothing of this folder was cached") from None

    # disable=None: no bar where output is not a terminal; leave=False: the bar is gone before any message
    with tqdm(
        index.samples, desc=f"decoding {folder}", unit="img", mininterval=2, disable=None, leave=False
    ) as bar:
        images = [decode(path) for path, _ in bar]
    odd = next((i for i, image in enumerate(images) if image.shape != images[0].shape), None)
    if odd is not None:
        size = "{1}x{2}".format
        raise DataError(
            f"{index.samples[odd][0]} is {size(*images[odd].shape)} pixels but {index.samples[0][0]} is "
            f"{size(*images[0].shape)}: an image folder's pictures are batched as they are, so they must all "
            "have one size. Resize them to one size first (nothing of this folder was cached)."
        )
    targets = [label for _, label in index.samples]
    return ImageSet(torch.stack(images), torch.as_tensor(targets, dtype=torch.int64))


def undecodable(path: str, error: Exception, note: str) -> DataError:
    """The error for an image file that cannot be decoded, naming it, what the decoder said and the fix."""
    return DataError(
        f"{path} cannot be decoded as an image ({quoted(error)}): it is truncated or corrupt. Delete or "
        f"replace it and run again ({note})."
    )


def read_image_file(path: str):
    """The classic path's image reader (torchvision's PIL loader): a file that PIL cannot read is a
    DataError naming it, also from inside a DataLoader worker, instead of PIL's bare traceback."""
    from torchvision.datasets.folder import default_loader

    try:
        return default_loader(path)
    except (OSError, SyntaxError, ValueError) as error:
        raise undecodable(path, error, "read by PIL on the classic dataset.loader=torch path") from None
