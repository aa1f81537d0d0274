"""Shared fixtures: configs composed from conf/ with every path pointed into tmp_path."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import cnnlab  # noqa: F401  (registers the ${cnnlab.*} resolvers that conf/ uses)
from cnnlab.config.paths import CONF_DIR as _CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = str(_CONF_DIR)
# Where the tests find the labs' text: CNNLAB_LABS_MD (.ci/run sets it), else ../shared/LABS.md.
LABS_MD_ENV = "CNNLAB_LABS_MD"
_HERMETIC: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Hermetic tests: whatever reads the default data and output dirs (a subprocess, a config composed
    without make_cfg) writes under a temporary dir, never into the repository's data/ or outputs/."""
    global _HERMETIC
    _HERMETIC = Path(tempfile.mkdtemp(prefix="cnnlab-tests-"))
    os.environ["CNNLAB_DATA_ROOT"] = str(_HERMETIC / "data")
    os.environ["CNNLAB_OUTPUT_DIR"] = str(_HERMETIC / "outputs")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _HERMETIC is not None:
        shutil.rmtree(_HERMETIC, ignore_errors=True)


@pytest.fixture(scope="session")
def labs_md() -> Path:
    """The labs' text (LABS.md): CNNLAB_LABS_MD when set, which must then exist (CI sets it, so these
    tests never skip there); otherwise ../shared/LABS.md beside the checkout, and a skip naming both
    ways to run them when it is not there."""
    named = os.environ.get(LABS_MD_ENV)
    if named:
        if not Path(named).is_file():
            pytest.fail(f"{LABS_MD_ENV}={named} names no file: point it at LABS.md (shared/LABS.md)", False)
        return Path(named)
    beside = ROOT.parent / "shared" / "LABS.md"
    if not beside.is_file():
        pytest.skip(f"no {beside}: put shared/ beside the checkout or set {LABS_MD_ENV}=/path/to/LABS.md")
    return beside


def options(group: str) -> list[str]:
    """The options of a config group, i.e. the YAML files in conf/<group>/: what tests run over."""
    return sorted(path.stem for path in (Path(CONF_DIR) / group).glob("*.yaml"))


def composed(*overrides: str) -> DictConfig:
    """conf/train.yaml composed with overrides, to read keys from (no paths redirected, nothing built)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose conf/train.yaml with overrides, writing data, cache and runs under tmp_path
    (`hydra=True` keeps the hydra node, with the job's override_dirname)."""

    def _make(*overrides: str, config_name: str = "train", hydra: bool = False) -> DictConfig:
        base = [
            f"paths.data_root={tmp_path / 'data'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.output_dir={tmp_path / 'outputs'}",
        ]
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(
                config_name=config_name, overrides=base + list(overrides), return_hydra_config=hydra
            )

    return _make


def write_idx(raw: Path, prefix: str, images: np.ndarray, labels: np.ndarray, gz: bool = False) -> None:
    """Write images (N x H x W uint8) and labels in MNIST's IDX format, as torchvision reads them."""
    raw.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    blobs = {
        f"{prefix}-images-idx3-ubyte": struct.pack(">IIII", 2051, n, h, w) + images.tobytes(),
        f"{prefix}-labels-idx1-ubyte": struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes(),
    }
    for name, blob in blobs.items():
        if gz:
            with gzip.open(raw / f"{name}.gz", "wb") as f:
                f.write(blob)
        else:
            (raw / name).write_bytes(blob)


def fake_mnist(root: Path, folder: str = "MNIST", n_train: int = 96, n_test: int = 32, gz: bool = False):
    """A tiny MNIST-format data set whose class is the position of a bright square."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            row, col = divmod(int(label), 5)
            images[i, 4 + row * 10 : 12 + row * 10, 2 + col * 5 : 6 + col * 5] = 255
        write_idx(root / folder / "raw", prefix, images, labels, gz=gz)
    return root


def fake_image_folder(root: Path, n_per_class: int = 4, size: int = 32, classes: int = 10) -> Path:
    """A CIFAR-like tree train/<class>/*.png, test/<class>/*.png of random colour images."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", n_per_class), ("test", max(1, n_per_class // 2))):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                pixels[..., c % 3] = 25 * c
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return root


def scored_by_hand(cfg: DictConfig, weights: dict[str, torch.Tensor], split: str) -> tuple[float, float]:
    """Cross-entropy (torch.nn.functional) and accuracy (an argmax count) of `weights` on a split of the
    data `cfg` builds: a second reader of the loss and accuracy a run records."""
    import torch.nn.functional as F

    from cnnlab.engine.run import build_run_model

    built = build_run_model(cfg, torch.device("cpu"))
    built.model.load_state_dict(weights)
    built.model.eval()
    loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in built.data.loaders()[split]:
            logits = built.model(x).float()
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
    return loss / seen, correct / seen


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` (and all in it) read-only for this process: by its modes for a user; root ignores modes, so
    for root a read-only bind mount of the folder on itself (the kernel's own EROFS)."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        entries = [folder, *folder.rglob("*")]
        modes = {p: p.stat().st_mode for p in entries}
        for p in entries:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p in entries:
                p.chmod(modes[p])
        return
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode == 0:
        mounted = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True)
        if mounted.returncode:
            subprocess.run(["umount", str(folder)])
    if mounted.returncode:
        pytest.skip(f"root cannot make {folder} read-only here: {mounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)
