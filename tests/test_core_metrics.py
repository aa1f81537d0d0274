"""The numbers a run records, each against a computation made here: a loop's metrics against an argmax
count and torch.nn.functional over every batch, the best epoch in both monitor modes against
metrics.csv, best.pt's weights against the loss they scored, and the RNG state a checkpoint restores
against the draws that followed it."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.engine.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from cnnlab.engine.fit import _better
from cnnlab.engine.loop import evaluate, train_epoch
from cnnlab.engine.tasks import Classification, ImageRegression
from cnnlab.train import run
from tests.conftest import scored_by_hand

CPU = torch.device("cpu")
SIZES = (5, 5, 3)  # an uneven last batch: a mean of batch means is not the mean over images


def _classification_batches() -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    generator = torch.Generator().manual_seed(3)
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 4, generator=generator))
        model.bias.zero_()
    x = torch.randn(sum(SIZES), 4, generator=generator)
    y = torch.randint(0, 3, (sum(SIZES),), generator=generator)
    return model, list(zip(x.split(SIZES), y.split(SIZES), strict=True))


def _by_hand(model: nn.Module, batches) -> tuple[float, float, list[float]]:
    """Mean cross-entropy and accuracy over every image, and each batch's accuracy, counted here."""
    loss, correct, per_batch = 0.0, 0, []
    with torch.no_grad():
        for x, y in batches:
            logits = model(x)
            hits = sum(int(row.argmax()) == int(label) for row, label in zip(logits, y, strict=True))
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += hits
            per_batch.append(hits / len(y))
    n = sum(len(y) for _, y in batches)
    return loss / n, correct / n, per_batch


def test_a_training_epochs_accuracy_and_loss_count_every_batch():
    """lr 0 keeps the weights, so the outputs the epoch scored are the ones recomputed here."""
    model, batches = _classification_batches()
    loss, accuracy, per_batch = _by_hand(model, batches)
    assert len(set(per_batch)) == len(per_batch)  # every batch scores differently: a lost batch shows
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    metrics, seen = train_epoch(
        model, batches, nn.CrossEntropyLoss(), optimizer, Classification(), device=CPU, log_every=1
    )
    assert seen == sum(SIZES)
    assert metrics["acc"] == pytest.approx(accuracy, abs=1e-12)
    assert metrics["loss"] == pytest.approx(loss, rel=1e-6)


def test_an_evaluation_passs_accuracy_and_loss_count_every_batch():
    model, batches = _classification_batches()
    loss, accuracy, _ = _by_hand(model, batches)
    metrics = evaluate(model, batches, nn.CrossEntropyLoss(), Classification(), device=CPU)
    assert metrics == {"loss": pytest.approx(loss, rel=1e-6), "acc": pytest.approx(accuracy, abs=1e-12)}
    assert not model.training


def test_psnr_is_the_mean_over_images_of_each_images_psnr():
    """Targets 0, outputs a constant c per image: MSE c^2, so PSNR -20 log10(c) dB for that image."""
    levels = torch.tensor([0.1, 0.01, 0.5, 0.2, 0.05])
    outputs = levels.view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    batches = [(outputs[:3], torch.zeros(3, 1, 2, 2)), (outputs[3:], torch.zeros(2, 1, 2, 2))]
    expected = np.mean([-20 * math.log10(c) for c in levels.tolist()])  # 20, 40, 6.02, 13.98, 26.02 dB
    metrics = evaluate(nn.Identity(), batches, nn.MSELoss(), ImageRegression(), device=CPU)
    assert metrics["psnr"] == pytest.approx(expected, rel=1e-5)
    assert metrics["loss"] == pytest.approx(float((levels**2).mean()), rel=1e-5)


@pytest.mark.parametrize(
    ("mode", "values", "best_epoch"),
    [
        ("min", [0.9, 0.5, 0.7, 0.5], 2),  # a tie keeps the first epoch that reached it
        ("max", [0.5, 0.8, 0.6, 0.8], 2),
        ("min", [float("nan"), 0.7, 0.8], 2),  # NaN is never best
    ],
)
def test_the_best_row_is_the_first_extreme_in_the_monitors_direction(mode, values, best_epoch):
    best = None
    for epoch, value in enumerate(values, start=1):
        best = _better(best, {"epoch": epoch, "val_x": value}, "val_x", mode)
    assert (best["epoch"], best["value"], best["metric"]) == (best_epoch, values[best_epoch - 1], "val_x")


# The lr grows fivefold an epoch (0.002, 0.01, 0.05): the validation loss falls, then rises again
# (2.16, 0.97, 1.19 here) while the accuracy still gains, so the lowest loss is neither the first
# epoch, nor the last, nor the highest loss, nor the best accuracy.
MIN_MODE = [
    "trainer.device=cpu",
    "trainer.deterministic=true",
    "trainer.monitor=val_loss",
    "trainer.monitor_mode=min",
    "trainer.evaluate_at_end=false",
    "trainer.epochs=3",
    "trainer.limit_batches=6",
    "optimizer.lr=0.002",
    "scheduler=exponential",
    "scheduler.build.gamma=5",
]


def test_in_min_mode_the_best_epoch_and_best_pt_are_the_lowest_val_loss(make_cfg, tmp_path):
    cfg = make_cfg(*MIN_MODE)
    run(cfg, run_dir=tmp_path / "run")
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    lowest = int(metrics["val_loss"].idxmin()) + 1
    others = (1, len(metrics), int(metrics["val_loss"].idxmax()) + 1, int(metrics["val_acc"].idxmax()) + 1)
    assert lowest not in others, metrics  # the case tells a wrong choice of epoch apart
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["best"]["epoch"], summary["best"]["metric"]) == (lowest, "val_loss")
    assert summary["best"]["value"] == pytest.approx(metrics["val_loss"].min(), rel=1e-12)
    best = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert best["epoch"] == lowest and best["best"]["epoch"] == lowest
    # best.pt holds the weights that scored that loss: recomputed from them with F.cross_entropy.
    val_loss, val_acc = scored_by_hand(cfg, best["model"], "val")
    assert val_loss == pytest.approx(metrics["val_loss"].iloc[lowest - 1], rel=1e-4)
    assert val_acc == pytest.approx(metrics["val_acc"].iloc[lowest - 1], abs=1e-9)
    # last.pt is the last epoch's, and records the same best.
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last["epoch"] == len(metrics) and last["best"]["epoch"] == lowest


def test_a_checkpoint_restores_the_generators_as_they_were_when_it_was_saved(tmp_path):
    """The draws after restoring equal the draws that followed the save, not those after a re-seed:
    each generator is moved off its seeded state first, with a Gaussian cached in numpy and random."""
    torch.manual_seed(11)
    np.random.seed(11)
    random.seed(11)
    torch.rand(7), np.random.randn(), random.gauss(0, 1)  # odd counts: numpy and random cache a Gaussian
    save_checkpoint(tmp_path / "last.pt", epoch=1)

    def draws():
        return torch.rand(4), np.random.randn(3), np.random.rand(2), random.gauss(0, 1), random.random()

    followed = draws()
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    draws()
    set_rng_state(load_checkpoint(tmp_path / "last.pt", required=("rng",))["rng"])
    restored = draws()
    assert torch.equal(restored[0], followed[0])
    assert np.array_equal(restored[1], followed[1]) and np.array_equal(restored[2], followed[2])
    assert restored[3:] == followed[3:]


def test_cuda_generators_are_kept_where_cuda_is_and_left_alone_where_it_is_not(monkeypatch):
    """On a CUDA machine (simulated here: torch.cuda's RNG calls recorded) every device's generator is
    saved and restored; a CPU checkpoint restored there, or a CUDA one on a CPU, touches none."""
    saved, restored = [torch.tensor([1, 2, 3], dtype=torch.uint8)], []
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: saved)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    state = rng_state()
    assert state["cuda"] is saved
    set_rng_state(state)
    assert restored == [saved]
    set_rng_state(state | {"cuda": []})  # written on a CPU
    assert restored == [saved]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert rng_state()["cuda"] == []
    set_rng_state(state)
    assert restored == [saved]
