"""Evaluation: the confusion matrix, per-class table and mistakes agree with an independent
computation (torch.bincount of (true, pred) pairs, a hand calculation), the files read back with
pandas and TensorBoard's EventAccumulator, best.pt is kept, and bad input is one clear error."""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import cnnlab.engine.fit
from cnnlab.config.build import build
from cnnlab.data.cache import cached_split
from cnnlab.data.datamodule import build_data, class_names
from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.engine.class_metrics import per_class_metrics
from cnnlab.engine.evaluation import MISTAKES_SHOWN, evaluate_classes
from cnnlab.engine.evaluation_report import montage
from cnnlab.engine.reopen import load_run
from cnnlab.errors import CheckpointError, ConfigError, DataError
from cnnlab.evaluate import evaluate_run
from cnnlab.train import run
from tests.conftest import CONF_DIR, fake_image_folder, fake_mnist

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.epochs=2", "trainer.limit_batches=4", "optimizer.lr=0.003"]
DIGITS = [str(d) for d in range(10)]


def compose_in(tmp: Path, *overrides: str):
    """conf/train.yaml composed with data, cache and outputs under tmp (conftest's make_cfg, for a
    module-scoped fixture)."""
    paths = [f"paths.data_root={tmp / 'data'}", f"paths.cache_dir={tmp / 'cache'}", f"paths.output_dir={tmp}"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=paths + list(overrides))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny LeNet on the embedded digits, evaluated at its end as every classification run is."""
    tmp = tmp_path_factory.mktemp("evaluate")
    run(compose_in(tmp, *TINY), run_dir=tmp / "run", overrides=TINY)
    return tmp / "run"


def copy_of(run_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    return copy


def edit_config(run_dir: Path, **changes: dict) -> None:
    path = run_dir / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for group, values in changes.items():
        config[group].update(values)
    path.write_text(yaml.safe_dump(config))


def reference_confusion(run_dir: Path, split: str = "test") -> torch.Tensor:
    """The confusion matrix computed apart from cnnlab's evaluation: the checkpoint's model (rebuilt by
    the analysis loader) on every batch of the split, and one bincount of the (true, pred) pairs."""
    trained = load_run(run_dir)
    data = build_data(trained.cfg, torch.device("cpu"))
    true, pred = [], []
    with torch.no_grad():
        for x, y in data.loaders()[split]:
            true.append(y)
            pred.append(trained.model(x).argmax(1))
    classes = trained.cfg.dataset.num_classes
    pairs = torch.cat(true) * classes + torch.cat(pred)
    return torch.bincount(pairs, minlength=classes * classes).view(classes, classes)


def test_a_model_whose_predictions_are_known_gives_their_bincount_and_its_surest_mistakes():
    """The 'images' are the logits themselves (a Flatten model), so every prediction and confidence
    is known before evaluation runs."""
    classes, n = 4, 50
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(n, classes, generator=generator) * 3
    true = torch.randint(classes, (n,), generator=generator)
    images = logits.view(n, 1, 1, classes)
    batches = [(images[i : i + 16], true[i : i + 16]) for i in range(0, n, 16)]
    pred = logits.argmax(1)
    expected = torch.bincount(true * classes + pred, minlength=classes * classes).view(classes, classes)
    confidence = logits.softmax(1).amax(1)
    wrong = (pred != true).nonzero().squeeze(1)
    surest = wrong[confidence[wrong].argsort(descending=True)]
    assert len(wrong) > 25
    shown_by_default = evaluate_classes(nn.Flatten(), batches, classes, device=torch.device("cpu"))
    assert torch.equal(shown_by_default.mistake_true, true[surest[:25]])  # 25: a 5 x 5 montage
    for keep in (5, n):
        result = evaluate_classes(nn.Flatten(), batches, classes, device=torch.device("cpu"), keep=keep)
        assert torch.equal(result.confusion, expected)
        assert result.images == n and result.correct == int((pred == true).sum())
        shown = surest[:keep]
        assert len(result.mistake_true) == min(keep, len(wrong))
        assert torch.equal(result.mistake_true, true[shown]) and torch.equal(result.mistake_pred, pred[shown])
        assert torch.allclose(result.mistake_confidence, confidence[shown])
        assert torch.equal(result.mistakes, images[shown])


def test_mistakes_of_several_image_sizes_are_kept_at_one_size():
    """Size buckets (variable-resolution data): a global-pooling net scores each size; kept images stack."""
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # logits = per-channel means
    small = torch.eye(3).view(3, 3, 1, 1).expand(3, 3, 4, 4) * 5
    checkerboard = (torch.arange(12)[:, None] + torch.arange(12)) % 2 * 2.0 - 1  # mean 0: same logits
    large = torch.eye(3).view(3, 3, 1, 1).expand(3, 3, 12, 12) * 5 + checkerboard
    batches = [(small, torch.tensor([1, 1, 1])), (large, torch.tensor([2, 2, 2]))]
    result = evaluate_classes(model, batches, 3, device=torch.device("cpu"))
    assert result.mistakes.shape == (4, 3, 4, 4)
    larger_first = evaluate_classes(model, batches[::-1], 3, device=torch.device("cpu"))
    assert larger_first.mistakes.shape == (4, 3, 12, 12)  # the first batch's size, whichever is larger
    # The 12-pixel mistakes (true 2, predicted 0 and 1) shrunk as an antialiased resize does: the
    # checkerboard averages away (a plain bilinear or nearest resize would sample its +-1 pixels).
    for image, pred in zip(result.mistakes, result.mistake_pred, strict=True):
        torch.testing.assert_close(image, small[pred], atol=0.02, rtol=0)
    expected = torch.bincount(torch.tensor([1, 1, 1, 2, 2, 2]) * 3 + torch.tensor([0, 1, 2] * 2), minlength=9)
    assert torch.equal(result.confusion, expected.view(3, 3))


class Probe(nn.Module):
    """Logits are the images; records the mode, autograd and autocast each forward pass runs under."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[tuple[bool, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled(), torch.is_autocast_enabled("cpu")))
        return x.flatten(1) * self.scale


def test_evaluation_runs_in_eval_mode_without_autograd_and_without_autocast_unless_asked():
    probe = Probe().train()
    batches = [(torch.randn(4, 1, 1, 3), torch.tensor([0, 1, 2, 0]))] * 2
    evaluate_classes(probe, batches, 3, device=torch.device("cpu"))
    assert probe.seen == [(False, False, False)] * 2
    probe.seen.clear()
    evaluate_classes(probe, batches, 3, device=torch.device("cpu"), amp=True)
    assert probe.seen == [(False, False, True)] * 2


def test_a_split_with_no_images_is_one_clear_error():
    with pytest.raises(DataError, match="the split to evaluate holds no images; check dataset.max_eval"):
        evaluate_classes(nn.Flatten(), [], 3, device=torch.device("cpu"))


def test_the_mistakes_montage_is_torchvisions_make_grid():
    from torchvision.utils import make_grid

    images = torch.rand(7, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    for columns, gap in ((3, 2), (7, 4), (1, 3)):
        expected = make_grid(images, nrow=columns, padding=gap, pad_value=1.0)
        assert torch.equal(montage(images, columns, gap), expected)


def test_per_class_metrics_match_a_hand_calculation():
    confusion = torch.tensor([[5, 1, 0], [2, 3, 1], [0, 0, 0]])
    metrics = per_class_metrics(confusion)
    # class 0: TP 5, FP 2, FN 1, TN 4; class 1: TP 3, FP 1, FN 3, TN 5; class 2: TP 0, FP 1, FN 0, TN 11.
    assert metrics["images"].tolist() == [6, 6, 0] and metrics["predicted"].tolist() == [7, 4, 1]
    assert torch.allclose(metrics["precision"], torch.tensor([5 / 7, 3 / 4, 0.0], dtype=torch.float64))
    assert metrics["recall"][:2].tolist() == pytest.approx([5 / 6, 3 / 6]) and math.isnan(
        metrics["recall"][2]
    )
    assert metrics["accuracy"].tolist() == pytest.approx([9 / 12, 8 / 12, 11 / 12])


def test_end_of_run_evaluation_matches_an_independent_bincount(trained):
    out = trained / "evaluation" / "test-last"
    expected = reference_confusion(trained)
    confusion = pd.read_csv(out / "confusion_matrix.csv", index_col=0)
    assert list(confusion.columns) == DIGITS and [str(i) for i in confusion.index] == DIGITS
    assert torch.equal(torch.tensor(confusion.to_numpy()), expected)

    table = pd.read_csv(out / "per_class.csv")
    assert [str(c) for c in table["class"]] == DIGITS
    tp = expected.diag().double()
    precision, recall = tp / expected.sum(0), tp / expected.sum(1)
    assert table["precision"].to_numpy() == pytest.approx(precision.numpy(), nan_ok=True)
    assert table["recall"].to_numpy() == pytest.approx(recall.numpy(), nan_ok=True)
    assert table["images"].tolist() == expected.sum(1).tolist()
    markdown = (out / "per_class.md").read_text()
    assert "| class" in markdown and "precision" in markdown and markdown.count("\n|") == 12

    n_wrong = int(expected.sum() - expected.trace())
    mistakes = pd.read_csv(out / "mistakes.csv")
    assert len(mistakes) == min(n_wrong, MISTAKES_SHOWN) > 0
    assert (mistakes["true"] != mistakes["predicted"]).all()
    assert mistakes["confidence"].is_monotonic_decreasing
    with Image.open(out / "mistakes.png") as grid, Image.open(out / "confusion_matrix.png") as matrix:
        assert grid.size[0] > 300 and matrix.size[0] > 300
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["accuracy"] == pytest.approx(float(expected.trace() / expected.sum()))
    assert summary["epoch"] == 2 and summary["mistakes_shown"] == len(mistakes)


def test_evaluation_goes_into_tensorboard(trained):
    events = EventAccumulator(str(trained), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert {"eval/test/last/confusion_matrix", "eval/test/last/mistakes"} <= set(tags["images"])
    image = events.Images("eval/test/last/mistakes")[-1]
    assert image.step == 2 and image.width > 300
    (text,) = [t for t in tags["tensors"] if t.startswith("eval/test/last/per_class")]
    table = events.Tensors(text)[-1].tensor_proto.string_val[0].decode()
    assert "precision" in table and "| 9" in table


def test_best_checkpoint_is_kept_and_both_checkpoints_evaluate(trained):
    summary = json.loads((trained / "summary.json").read_text())
    best = load_checkpoint(trained / "checkpoints" / "best.pt")
    assert best["epoch"] == summary["best"]["epoch"] and best["best"]["value"] == summary["best"]["value"]
    for checkpoint in ("best", "last"):
        result = evaluate_run(trained, "test", checkpoint, device="cpu")
        out = trained / "evaluation" / f"test-{checkpoint}"
        assert result["dir"] == str(out) and (out / "confusion_matrix.png").is_file()
        state = load_checkpoint(trained / "checkpoints" / f"{checkpoint}.pt")
        assert result["epoch"] == state["epoch"]
    on_val = evaluate_run(trained, "val", "last", device="cpu")
    expected = reference_confusion(trained, "val")
    assert on_val["images"] == int(expected.sum()) and on_val["correct"] == int(expected.trace())


def test_class_names_come_from_the_data_source(make_cfg, tmp_path):
    assert class_names(make_cfg()) == DIGITS
    fake_mnist(tmp_path / "data")
    import torchvision

    assert class_names(make_cfg("dataset=mnist")) == torchvision.datasets.MNIST.classes
    folder = fake_image_folder(tmp_path / "folder", n_per_class=1, classes=3)
    cfg = make_cfg("dataset=cifar10", f"dataset.image_folder={folder}", "dataset.num_classes=4")
    assert class_names(cfg) == ["class0", "class1", "class2", "3"]  # a label the folder lacks: its number


def test_shown_images_are_the_raw_pixels_with_normalisation_undone(make_cfg):
    cfg = make_cfg()
    data = build_data(cfg, torch.device("cpu"))
    assert data.mean is not None
    x, _ = next(iter(data.test))
    raw = cached_split(build(cfg.dataset.source), "test", cfg.paths.cache_dir)
    assert torch.allclose(data.as_images(x), raw[0].x[: len(x)].float() / 255, atol=1e-5)


def test_bad_input_is_one_clear_error(trained, tmp_path):
    with pytest.raises(ConfigError, match="run='/no/such/run' is not a directory"):
        evaluate_run("/no/such/run")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has no config.yaml"):
        evaluate_run(tmp_path / "empty")
    with pytest.raises(ConfigError, match="checkpoint='middle' is not a checkpoint name"):
        evaluate_run(trained, checkpoint="middle")
    with pytest.raises(ConfigError, match="mistakes=0 is not allowed"):
        evaluate_run(trained, mistakes=0)
    copy = copy_of(trained, tmp_path)
    (copy / "checkpoints" / "best.pt").unlink()
    with pytest.raises(
        CheckpointError, match=r"checkpoint=best: .*best.pt does not exist; this run has checkpoint=last"
    ):
        evaluate_run(copy, checkpoint="best")
    with pytest.raises(
        ConfigError,
        match=r"split='train' cannot be evaluated.*shuffles and augments.*Use split=test \(this run can be "
        r"evaluated on: test, val\)",
    ):
        evaluate_run(copy, split="train", device="cpu")
    edit_config(copy, dataset={"val_fraction": 0.0})
    with pytest.raises(
        ConfigError, match=r"split='val' cannot be evaluated.*val_fraction=0.0.*Use split=test"
    ):
        evaluate_run(copy, split="val", device="cpu")
    edit_config(copy, dataset={"task": "regression"})
    with pytest.raises(ConfigError, match="is a regression run.*for classification runs"):
        evaluate_run(copy)
    edit_config(copy, dataset={"task": "classification"}, model={"_target_": "os.system"})
    with pytest.raises(ConfigError, match="_target_: 'os.system' at model"):
        evaluate_run(copy)


def test_the_entry_point_exits_2_with_one_paragraph_and_writes_nothing_where_it_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    missing = tmp_path / "optimizer.lr=0.1,model=lenet"  # a sweep job's dir name: no Hydra quoting needed
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab.evaluate", f"run={missing}", "checkpoint=best"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert f"run='{missing}' is not a directory" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no outputs/, .hydra/ or log file: Hydra's run dir is "."


def test_evaluation_at_the_end_can_be_switched_off_and_its_failure_leaves_the_run_completed(
    make_cfg, tmp_path, monkeypatch, caplog
):
    run_dir = tmp_path / "run"
    run(make_cfg(*TINY, "trainer.epochs=1"), run_dir=run_dir)
    assert (run_dir / "evaluation" / "test-last").is_dir() and (run_dir / "checkpoints" / "best.pt").is_file()

    def broken(*args, **kwargs):
        raise RuntimeError("the figure could not be drawn")

    monkeypatch.setattr(cnnlab.engine.fit, "evaluate_split", broken)
    with caplog.at_level(logging.WARNING, logger="cnnlab.engine.fit"):
        run(make_cfg(*TINY, "trainer.epochs=1"), run_dir=run_dir)  # afresh: the old evaluation goes
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert "end-of-run evaluation failed (RuntimeError: the figure could not be drawn)" in caplog.text
    assert not (run_dir / "evaluation").exists() and (run_dir / "checkpoints" / "last.pt").is_file()

    monkeypatch.undo()
    run(make_cfg(*TINY, "trainer.epochs=1", "trainer.evaluate_at_end=false"), run_dir=tmp_path / "off")
    assert not (tmp_path / "off" / "evaluation").exists()


def test_a_regression_run_skips_the_evaluation_quietly(make_cfg, tmp_path, caplog):
    source = ["dataset.source.n_train=32", "dataset.source.n_val=8", "dataset.source.workers=1"]
    cfg = make_cfg("experiment=dd2427/t16_bs16", *source, "trainer.epochs=1")
    with caplog.at_level(logging.INFO, logger="cnnlab.engine.fit"):
        run(cfg, run_dir=tmp_path / "run")
    assert "no end-of-run evaluation: it is for classification runs, this is regression" in caplog.text
    assert not (tmp_path / "run" / "evaluation").exists()
