"""Self-contained inference: a checkpoint carries what its model needs (normalisation, class names,
shapes, task); load_run(...).predict takes uint8 or float images and matches the model on the run's own
normalised batches; cnnlab-export writes TorchScript and ONNX models that take raw uint8 images and give
the PyTorch model's logits, read back with torch.jit.load and onnxruntime."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from PIL import Image

from cnnlab.data.digits import DigitsSource
from cnnlab.engine.reopen import load_run
from cnnlab.errors import ConfigError
from cnnlab.export import export_run
from cnnlab.train import run
from tests.conftest import CONF_DIR, fake_image_folder

TINY = ["trainer.epochs=1", "trainer.limit_batches=3", "trainer.device=cpu", "optimizer.lr=0.003"]
ONNX_MISSING = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
needs_onnx = pytest.mark.skipif(
    bool(ONNX_MISSING), reason=f"needs the onnx extra (pip install 'cnnlab[onnx]'): {ONNX_MISSING} missing"
)


def train_in(tmp: Path, *overrides: str) -> Path:
    paths = [f"paths.data_root={tmp / 'data'}", f"paths.cache_dir={tmp / 'cache'}", f"paths.output_dir={tmp}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=[*paths, *TINY, *overrides])
    run(cfg, run_dir=tmp / "run")
    return tmp / "run"


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    return train_in(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="module")
def digits_test() -> tuple[torch.Tensor, torch.Tensor]:
    data = DigitsSource().load("test")
    return data.x[:40], data.y[:40]


def train_split_stats() -> tuple[float, float]:
    """Mean and std of the digits' train pixels after the seeded 10% validation split, by hand."""
    x = DigitsSource().load("train").x
    keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[round(len(x) * 0.1) :]
    pixels = x[keep].double() / 255
    return float(pixels.mean()), float(pixels.std(unbiased=False))


def test_the_checkpoint_carries_what_inference_needs(digits_run):
    for name in ("last", "best"):
        record = torch.load(digits_run / "checkpoints" / f"{name}.pt", weights_only=True)["inference"]
        mean, std = train_split_stats()
        assert record["task"] == "classification"
        assert record["class_names"] == [str(d) for d in range(10)]
        assert record["input_shape"] == record["image_shape"] == [1, 28, 28]
        assert record["mean"] == [pytest.approx(mean, abs=1e-6)] and record["std"] == [
            pytest.approx(std, abs=1e-6)
        ]
        assert record["zca"] is None


def test_predict_takes_uint8_and_float_images_and_matches_the_model_on_normalised_input(
    digits_run, digits_test
):
    trained = load_run(digits_run)
    images, _ = digits_test
    mean, std = train_split_stats()
    with torch.no_grad():
        expected = trained.model((images.float() / 255 - mean) / std)
    from_uint8 = trained.predict(images)
    from_float = trained.predict(images.float() / 255)
    from_numpy = trained.predict(images.numpy())
    for prediction in (from_uint8, from_float, from_numpy):
        assert torch.allclose(prediction.output, expected, atol=1e-5)
    assert torch.equal(from_uint8.labels, expected.argmax(1))
    assert from_uint8.names == [str(int(label)) for label in expected.argmax(1)]
    assert torch.allclose(from_uint8.probabilities, expected.softmax(1), atol=1e-6)
    one = trained.predict(images[0])  # one C x H x W image is a batch of one
    assert one.output.shape == (1, 10) and torch.allclose(one.output[0], expected[0], atol=1e-5)


def test_predict_refuses_out_of_range_floats_and_wrong_shapes(digits_run, digits_test):
    trained = load_run(digits_run)
    images, _ = digits_test
    with pytest.raises(ValueError, match=r"from 0 to 255; float images must be in \[0, 1\]"):
        trained.predict(images.float())
    with pytest.raises(ValueError, match="32x32 images, but this model was trained on 1x28x28"):
        trained.predict(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"got \(2, 3, 28, 28\).*1 channel"):
        trained.predict(torch.zeros(2, 3, 28, 28, dtype=torch.uint8))


def test_predict_applies_the_runs_centre_crop_on_an_image_folder(tmp_path):
    folder = fake_image_folder(tmp_path / "folder", n_per_class=3, size=20)
    run_dir = train_in(
        tmp_path,
        "dataset=cifar10",
        f"dataset.image_folder={folder}",
        "dataset.val_fraction=0",
        "trainer.monitor=train_acc",
        "model=global_pool",
        "augmentation=flip_crop",
        "augmentation.crop_size=16",
    )
    trained = load_run(run_dir)
    record = trained.inference
    assert record["image_shape"] == [3, 20, 20] and record["input_shape"] == [3, 16, 16]
    assert record["class_names"] == [f"class{c}" for c in range(10)]
    files = sorted((folder / "test" / "class3").glob("*.png"))
    images = torch.stack(
        [torch.from_numpy(np.array(Image.open(f).convert("RGB"))).permute(2, 0, 1) for f in files]
    )
    mean = torch.tensor(record["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(record["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = trained.model((images[:, :, 2:18, 2:18].float() / 255 - mean) / std)
    assert torch.allclose(trained.predict(images).output, expected, atol=1e-5)


def test_torchscript_export_takes_raw_images_and_gives_the_models_logits(digits_run, digits_test, tmp_path):
    images, _ = digits_test
    result = export_run(digits_run, "torchscript", out=tmp_path / "digits.pt")
    scripted = torch.jit.load(str(tmp_path / "digits.pt"))
    with torch.no_grad():
        logits = scripted(images)
    assert torch.allclose(logits, load_run(digits_run).predict(images).output, atol=1e-5)
    assert result["max_difference"] < 1e-5
    info = json.loads((tmp_path / "digits.pt.json").read_text())
    assert info["input"]["dtype"] == "uint8" and info["input"]["shape"] == ["N", 1, 28, 28]
    assert info["class_names"] == [str(d) for d in range(10)] and info["format"] == "torchscript"


@needs_onnx
def test_onnx_export_runs_in_onnxruntime_with_the_models_logits(digits_run, digits_test, tmp_path):
    import onnxruntime

    images, _ = digits_test
    export_run(digits_run, "onnx", checkpoint="best", out=tmp_path / "digits.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "digits.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["output"], {"images": images.numpy()})  # any batch size: 40 here
    expected = load_run(digits_run, checkpoint="best").predict(images).output
    assert np.allclose(logits, expected.numpy(), atol=1e-5)
    assert json.loads((tmp_path / "digits.onnx.json").read_text())["format"] == "onnx"


def test_export_refuses_an_unknown_format_and_checkpoint(digits_run):
    with pytest.raises(ConfigError, match="format='tflite' is not an export format; use one of"):
        export_run(digits_run, "tflite")
    with pytest.raises(ConfigError, match="checkpoint='middle' is not a checkpoint name"):
        export_run(digits_run, "torchscript", checkpoint="middle")


def test_cnnlab_export_works_from_the_console_in_an_empty_dir(digits_run, tmp_path):
    script = Path(sys.executable).with_name("cnnlab-export")
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [str(script), f"run={digits_run}", "format=torchscript", f"out={tmp_path / 'cli.pt'}"],
        capture_output=True,
        text=True,
        cwd=empty,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {tmp_path / 'cli.pt'}" in done.stdout and "uint8 images N x 1x28x28" in done.stdout
    assert list(empty.iterdir()) == []  # nothing written where it was run
    assert torch.jit.load(str(tmp_path / "cli.pt"))(torch.zeros(1, 1, 28, 28, dtype=torch.uint8)).shape == (
        1,
        10,
    )
