"""The fast paths change how fast batches come, not what they are; benchmarks are not tests here."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnlab.data.augment import Augmentation
from cnnlab.data.imageset import ImageSet
from cnnlab.data.tensor_loader import TensorLoader
from cnnlab.models import build_model, count_parameters
from cnnlab.train import run

ROOT = Path(__file__).resolve().parents[1]


def _buckets() -> list[ImageSet]:
    g = torch.Generator().manual_seed(0)
    return [
        ImageSet(torch.randint(0, 256, (50, 1, 8, 8), generator=g, dtype=torch.uint8), torch.arange(50)),
        ImageSet(
            torch.randint(0, 256, (30, 1, 12, 12), generator=g, dtype=torch.uint8), torch.arange(30) + 100
        ),
    ]


def _epoch(chunk: int, transform=None, memory_format=torch.contiguous_format) -> list[tuple]:
    loader = TensorLoader(
        _buckets(),
        8,
        shuffle=True,
        transform=transform,
        mean=[0.5],
        std=[0.25],
        seed=4,
        chunk=chunk,
        memory_format=memory_format,
    )
    loader.set_epoch(3)
    return list(loader)


@pytest.mark.parametrize("chunk", [16, 64, 10_000])
def test_chunked_preparation_yields_the_batches_of_batch_by_batch(chunk):
    plain, chunked = _epoch(0), _epoch(chunk)
    assert len(plain) == len(chunked) == 7 + 4
    for (xp, yp), (xc, yc) in zip(plain, chunked, strict=True):
        assert torch.equal(yp, yc)
        assert torch.equal(xp, xc)
    seen = torch.cat([y for _, y in chunked]).sort().values
    assert torch.equal(seen, torch.cat([torch.arange(50), torch.arange(30) + 100]))


def test_chunked_batches_keep_the_memory_format_and_augment_each_image_on_its_own():
    flip_crop = Augmentation(hflip=0.5, crop_padding=2).apply
    batches = _epoch(64, flip_crop, torch.channels_last)
    for x, y in batches:
        assert x.shape[0] == y.shape[0] and x.shape[-1] in (8, 12)
        assert x.is_contiguous(memory_format=torch.channels_last)
    # Identical inputs get different draws: augment 64 copies of one image in one pass.
    one = ImageSet(
        torch.randint(0, 256, (1, 1, 8, 8), dtype=torch.uint8).expand(64, 1, 8, 8).clone(), torch.zeros(64)
    )
    loader = TensorLoader([one], 8, shuffle=True, transform=flip_crop, chunk=64)
    distinct = torch.unique(torch.cat([x for x, _ in loader]).flatten(1), dim=0)
    assert len(distinct) > 8


@pytest.mark.parametrize("native", [True, False])
def test_amp_auto_takes_bf16_only_where_the_device_has_it_natively(make_cfg, tmp_path, monkeypatch, native):
    monkeypatch.setattr("cnnlab.engine.run.native_bf16", lambda device: native)
    monkeypatch.setattr("cnnlab.engine.device.native_bf16", lambda device: native)
    cfg = make_cfg("trainer.amp=auto", "trainer.epochs=1", "trainer.limit_batches=1", "trainer.device=cpu")
    run(cfg, run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["bf16_autocast"] is native


def test_amp_forced_on_a_cpu_without_native_bf16_warns_and_still_trains(
    make_cfg, tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr("cnnlab.engine.run.native_bf16", lambda device: False)
    cfg = make_cfg("trainer.amp=true", "trainer.epochs=1", "trainer.limit_batches=1", "trainer.device=cpu")
    with caplog.at_level(logging.WARNING, logger="cnnlab.engine.run"):
        run(cfg, run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["bf16_autocast"] is True and summary["status"] == "completed"
    assert any("trainer.amp=auto" in r.getMessage() for r in caplog.records)


def test_native_bf16_is_false_where_autocast_to_bf16_would_be_emulated(monkeypatch):
    from cnnlab.engine.device import native_bf16

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert native_bf16(torch.device("cpu")) is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert native_bf16(torch.device("cpu")) is True
    assert native_bf16(torch.device("meta")) is False


def test_fast_mnist99_preset_builds_the_recipe_model(make_cfg):
    cfg = make_cfg("experiment=fast/mnist99")
    model = build_model(cfg.model, (1, 28, 28))
    # conv 1->16 5x5, conv 16->32 3x3, fc 800->128, fc 128->10, with biases.
    assert count_parameters(model) == (16 * 25 + 16) + (32 * 16 * 9 + 32) + (800 * 128 + 128) + (
        128 * 10 + 10
    )
    assert (cfg.trainer.epochs, cfg.trainer.batch_size, cfg.trainer.channels_last) == (1, 256, True)
    assert cfg.loss.label_smoothing == 0.1 and cfg.optimizer.fused and cfg.trainer.amp == "auto"
    assert cfg.dataset.val_fraction == 0 and cfg.trainer.monitor == "test_acc"


RUN_AND_LIST_IMPORTS = """
import sys
from pathlib import Path
from hydra import compose, initialize_config_dir
import cnnlab
from cnnlab.config.paths import CONF_DIR
from cnnlab.train import run
root = Path(sys.argv[1])
with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
    overrides = [f"paths.data_root={root}", "trainer.epochs=1", "trainer.limit_batches=1"]
    cfg = compose(config_name="train", overrides=overrides)
run(cfg, run_dir=root / sys.argv[2])
print(sorted(m for m in ("torchvision", "pandas") if m in sys.modules))
"""


def test_a_tensor_path_run_imports_neither_torchvision_nor_pandas(tmp_path):
    """The first run decodes the digits with scikit-learn, which imports pandas; a cached run does not."""
    imported = [
        subprocess.run(
            [sys.executable, "-c", RUN_AND_LIST_IMPORTS, str(tmp_path), name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
        for name in ("first", "cached")
    ]
    assert imported == ["['pandas']", "[]"]


@pytest.mark.slow
def test_speed_benchmark_runs_offline_on_generated_data(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_speed.py"),
        "--synthetic",
        "--models=lenet-none",
        "--batch-sizes=16",
        "--repeats=1",
        "--steps=4",
        "--workers=0",
        "--no-ablations",
        f"--out={tmp_path}",
    ]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)
    (report,) = tmp_path.glob("speed-*.md")
    row = next(line for line in report.read_text().splitlines() if line.startswith("| lenet | none | 16 |"))
    # model, augmentation, batch, a, b (workers 0), c, a/c, a/b, b - a
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 9
    a, b = (float(c.split()[0].replace(",", "")) for c in cells[3:5])
    assert float(cells[-1]) == pytest.approx(1000 * (1 / b - 1 / a), abs=0.01)
