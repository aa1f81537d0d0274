"""A lab's registry, conf/lab/<lab>.yaml, read and checked whole: registry.py parses it, and the recipe
folders each analysis reads are asked of its kind (kinds/), so a new kind is one module."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cnnlab.config.paths import LAB_DIR
from cnnlab.labs.book.kinds import folders_read
from cnnlab.labs.book.registry import LABS, Lab, parse_lab


def load_lab(name: str, lab_dir: Path = LAB_DIR) -> Lab:
    """Read and check conf/lab/<name>.yaml."""
    return parse_lab(name, lab_dir, folders_read)


@cache
def all_labs(lab_dir: Path = LAB_DIR) -> tuple[Lab, ...]:
    """The five labs, in the order of ../shared/LABS.md."""
    return tuple(load_lab(name, lab_dir) for name in LABS)
