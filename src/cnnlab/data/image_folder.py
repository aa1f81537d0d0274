"""The images of an image-folder split (<split>/<class>/**/<image>) and their labels, read without following
a symlink out of it: torchvision's ImageFolder walks with followlinks=True, so a link to `..` makes it read
the split again and again under one class's name, and a link to another class folder labels that class's
images as this one. Here an image's class is the folder it is found in; a link to a folder is never
entered, and a linked file counts only when it is an image file inside the split. Every link left out is
counted, and the log says so."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from cnnlab.errors import DataError


@dataclass
class FolderIndex:
    """A split's class names (label order), its (image path, label) pairs and the symlinks it left out."""

    classes: list[str]
    samples: list[tuple[str, int]]
    skipped_links: list[Path] = field(default_factory=list)


def class_folders(split: Path) -> list[str]:
    """The class folders of a split, sorted as torchvision sorts them (label order): its real subfolders;
    a symlink to a folder is no class of its own (it would repeat another folder's images)."""
    return sorted(entry.name for entry in os.scandir(split) if entry.is_dir(follow_symlinks=False))


def index_split(split: Path) -> FolderIndex:
    """Every image file under split/<class>/, in ImageFolder's order, labelled by its class folder."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    root = split.resolve()  # where a linked file must lead; paths are named as given
    classes = class_folders(split)
    if not classes:
        raise DataError(f"{split} holds no class folders: lay an image folder out as {split}/<class>/*.jpg.")
    skipped = [split / e.name for e in os.scandir(split) if e.is_symlink() and e.is_dir()]
    samples: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        for folder, subfolders, files in sorted(os.walk(split / name)):  # followlinks=False: never entered
            skipped += [Path(folder, sub) for sub in subfolders if Path(folder, sub).is_symlink()]
            for file in sorted(files):
                path = Path(folder, file)
                if not file.lower().endswith(IMG_EXTENSIONS):
                    continue
                if path.is_symlink() and not _file_inside(path, root):
                    skipped.append(path)
                    continue
                samples.append((str(path), label))
    empty = sorted(set(classes) - {classes[label] for _, label in samples})
    if empty:
        raise DataError(
            f"{split} has class folders without any image file ({', '.join(empty)}; images end in "
            f"{', '.join(IMG_EXTENSIONS)}): give every class its images, or remove the empty folders."
        )
    return FolderIndex(classes, samples, sorted(skipped))


def _file_inside(link: Path, root: Path) -> bool:
    target = link.resolve()
    return target.is_file() and target.is_relative_to(root)


class FolderDataset(Dataset):
    """The classic path's Dataset over a split's index: (transform(loader(path)), label) per image, as
    torchvision's ImageFolder gives, over the same images as the tensor path."""

    def __init__(self, index: FolderIndex, loader: Callable[[str], Any], transform: Callable | None) -> None:
        self.index = index
        self.loader = loader
        self.transform = transform

    def __len__(self) -> int:
        return len(self.index.samples)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        path, label = self.index.samples[i]
        image = self.loader(path)
        return (self.transform(image) if self.transform is not None else image), label
