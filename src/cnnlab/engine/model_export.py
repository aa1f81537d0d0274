"""A trained model written as a file other programs run: TorchScript or ONNX, taking raw uint8 images
(N x C x H x W, 0-255) and giving the model's outputs, with the run's preprocessing inside, and a JSON
beside it naming the input, the outputs and the classes."""

from __future__ import annotations

import json
import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from cnnlab.engine.inference import RawImageModel
from cnnlab.errors import ConfigError
from cnnlab.rundir.atomic import atomic_write_text, replacing

# format -> file suffix
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
ONNX_EXTRA = "onnx"


def example_images(record: dict[str, Any], batch: int = 2) -> torch.Tensor:
    """A uint8 batch of the images the model takes (the data's stored size; the model's input size for
    data of several sizes), to trace the model with."""
    shape = record.get("image_shape") or record["input_shape"]
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (batch, *shape), dtype=torch.uint8, generator=generator)


@contextmanager
def quiet_torch_jit():
    """TorchScript is deprecated in favour of torch.export, and says so on every call; the format is
    still what many C++ and mobile runtimes load, so cnnlab writes it without the noise."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.jit")
        yield


@contextmanager
def quiet_loggers(*names: str):
    """The ONNX exporter's passes log every graph rewrite at INFO; cnnlab's terminal shows INFO."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def export_model(raw: RawImageModel, record: dict[str, Any], fmt: str, path: Path) -> Path:
    """Write `raw` (on the CPU, in eval mode) to `path` as `fmt`, and `<path>.json` describing it."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is not an export format; use one of {sorted(FORMATS)}.")
    raw = raw.cpu().eval()
    example = example_images(record)
    with torch.no_grad(), quiet_torch_jit():
        if fmt == "torchscript":
            with replacing(path) as tmp:
                torch.jit.trace(raw, example).save(str(tmp))
        else:
            _to_onnx(raw, example, path, variable_size=record.get("image_shape") is None)
    describe(record, fmt, path)
    return path


def _to_onnx(raw: RawImageModel, example: torch.Tensor, path: Path, variable_size: bool) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx's exporter needs onnx and onnxscript)
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ConfigError(
            f"format=onnx needs the onnx packages ({error.name} is not installed): "
            f"pip install 'cnnlab[{ONNX_EXTRA}]', or export with format=torchscript."
        ) from None
    batch = torch.export.Dim("batch", min=1)
    size = {0: batch}
    if variable_size:
        size |= {2: torch.export.Dim("height", min=8), 3: torch.export.Dim("width", min=8)}
    with replacing(path) as tmp, quiet_loggers("onnxscript", "onnx_ir", "torch.onnx"):
        program = torch.onnx.export(
            raw,
            (example,),
            input_names=["images"],
            output_names=["output"],
            dynamic_shapes={"images": size},
            dynamo=True,
            external_data=False,
            verbose=False,
        )
        program.save(str(tmp), external_data=False)


def max_difference(raw: RawImageModel, record: dict[str, Any], fmt: str, path: Path) -> float | None:
    """The largest absolute difference between the written model's outputs and the PyTorch model's on a
    fresh batch of example images, read back as a user would run it (torch.jit.load, onnxruntime); None
    when onnxruntime is not installed."""
    images = example_images(record, batch=3) // 2 + 64  # other pixels and batch size than the trace's
    with torch.no_grad(), quiet_torch_jit():
        expected = raw.cpu().eval()(images)
        if fmt == "torchscript":
            got = torch.jit.load(str(path))(images)
        else:
            try:
                import onnxruntime
            except ImportError:
                return None
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            got = torch.from_numpy(session.run(["output"], {"images": images.numpy()})[0])
    return float((got - expected).abs().max())


def describe(record: dict[str, Any], fmt: str, path: Path) -> None:
    """`<model file>.json`: what the exported model takes and gives, so a user of the file alone can
    feed it and read its outputs."""
    channels = record["input_shape"][0]
    shape = record.get("image_shape") or [channels, "H", "W"]
    classes = record.get("class_names")
    info = {
        "format": fmt,
        "file": path.name,
        "input": {
            "name": "images",
            "dtype": "uint8",
            "shape": ["N", *shape],
            "note": "raw pixels 0-255, channels first; scaling, whitening, centre crop and "
            "normalisation are inside the model",
        },
        "output": {
            "name": "output",
            "meaning": "logits, one per class (softmax for probabilities)"
            if classes
            else "output images in [0, 1] scale",
        },
        "task": record["task"],
        "class_names": classes,
        "mean": record.get("mean"),
        "std": record.get("std"),
    }
    atomic_write_text(json.dumps(info, indent=2) + "\n", path.with_name(path.name + ".json"))
