"""One epoch's loop as a user sees it, each against a computation made here: the progress bar's running
loss at every `log_every` steps, the mid-epoch divergence check, an image-regression epoch counting
every image, evaluation without autograd, and the learning rate the loop reports."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.engine import loop
from cnnlab.engine.loop import Diverged, current_lr, evaluate, train_epoch
from cnnlab.engine.tasks import Classification, ImageRegression

CPU = torch.device("cpu")
SIZES = (5, 5, 3, 4, 2)  # uneven batches: a running mean of batch means would differ from ours


class RecordingBar:
    """Stands in for tqdm: keeps its arguments, and each postfix with the step it was set at."""

    made: list[RecordingBar] = []

    def __init__(self, **kwargs) -> None:
        self.kwargs, self.postfixes, self.steps = kwargs, [], 0
        RecordingBar.made.append(self)

    def __enter__(self) -> RecordingBar:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def set_postfix(self, **postfix: str) -> None:
        self.postfixes.append((self.steps + 1, postfix))  # set before the step's update

    def update(self, n: int = 1) -> None:
        self.steps += n


@pytest.fixture
def bar(monkeypatch) -> type[RecordingBar]:
    RecordingBar.made = []
    monkeypatch.setattr(loop, "tqdm", RecordingBar)
    return RecordingBar


def _batches(poison: int | None = None) -> tuple[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]]:
    """A linear classifier and uneven batches; batch `poison` (0-based) holds an infinite input."""
    generator = torch.Generator().manual_seed(5)
    model = nn.Linear(4, 3)
    x = torch.randn(sum(SIZES), 4, generator=generator)
    y = torch.randint(0, 3, (sum(SIZES),), generator=generator)
    batches = list(zip(x.split(SIZES), y.split(SIZES), strict=True))
    if poison is not None:
        batches[poison][0][0, 0] = math.inf
    return model, batches


def _epoch(model: nn.Module, loader, log_every: int, task=None, loss_fn=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the outputs scored are the ones here
    return train_epoch(
        model,
        loader,
        loss_fn or nn.CrossEntropyLoss(),
        optimizer,
        task or Classification(),
        device=CPU,
        log_every=log_every,
    )


def test_the_bar_shows_the_mean_loss_over_every_image_so_far_at_every_log_every_steps(bar):
    model, batches = _batches()
    with torch.no_grad():
        per_image = [F.cross_entropy(model(x), y, reduction="none") for x, y in batches]
    _epoch(model, batches, log_every=2)
    (shown,) = bar.made
    assert [step for step, _ in shown.postfixes] == [2, 4]
    for step, postfix in shown.postfixes:
        assert list(postfix) == ["loss"] and len(postfix["loss"].split(".")[1]) == 4
        assert float(postfix["loss"]) == pytest.approx(torch.cat(per_image[:step]).mean().item(), abs=1e-4)
    assert shown.steps == shown.kwargs["total"] == len(SIZES)
    assert shown.kwargs["leave"] is False  # an epoch's bar clears its line: epochs do not pile up


def test_a_loss_that_turns_nan_mid_epoch_stops_at_the_next_check_without_reading_on(bar):
    model, batches = _batches(poison=2)
    drawn = []

    def loader():
        for batch in batches:
            drawn.append(batch)
            yield batch

    class Sized:  # the loop asks the loader's length for its bar
        def __len__(self) -> int:
            return len(batches)

        def __iter__(self):
            return loader()

    with pytest.raises(Diverged, match=r"the training loss became nan at step 3$"):
        _epoch(model, Sized(), log_every=3)
    assert len(drawn) == 3
    assert bar.made[0].postfixes == []


def test_finite_losses_never_count_as_diverged_at_a_check(bar):
    model, batches = _batches()
    metrics, seen = _epoch(model, batches, log_every=1)
    assert seen == sum(SIZES) and math.isfinite(metrics["loss"])
    assert len(bar.made[0].postfixes) == len(SIZES)


def test_a_nan_loss_in_the_last_steps_is_still_found_at_the_epochs_end(bar):
    model, batches = _batches(poison=4)
    with pytest.raises(Diverged, match=r"^the training loss became nan$"):
        _epoch(model, batches, log_every=10)


def test_an_image_regression_epoch_counts_images_not_pixels_along_a_side():
    """Outputs equal inputs (a 1x1 convolution of weight 1) of constant level c and targets 0: image i's
    MSE is c_i^2 and its PSNR -20 log10(c_i) dB; 2x2 images, so a count by width would be off."""
    levels = torch.tensor([0.1, 0.01, 0.5, 0.2, 0.05])
    images = levels.view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    batches = [(images[:3], torch.zeros(3, 1, 2, 2)), (images[3:], torch.zeros(2, 1, 2, 2))]
    model = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    metrics, seen = _epoch(model, batches, log_every=1, task=ImageRegression(), loss_fn=nn.MSELoss())
    assert seen == 5
    assert metrics["psnr"] == pytest.approx(sum(-20 * math.log10(c) for c in levels.tolist()) / 5, rel=1e-5)
    assert metrics["loss"] == pytest.approx(float((levels**2).mean()), rel=1e-5)


def test_evaluation_runs_without_autograd():
    """No graph is kept while evaluating: memory stays that of the forward pass."""
    model, batches = _batches()
    grad_enabled = []
    model.register_forward_hook(lambda *_: grad_enabled.append(torch.is_grad_enabled()))
    evaluate(model, batches, nn.CrossEntropyLoss(), Classification(), device=CPU)
    assert grad_enabled == [False] * len(SIZES)


def test_the_learning_rate_reported_is_the_first_parameter_groups():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    optimizer = torch.optim.SGD(
        [{"params": first.parameters(), "lr": 0.1}, {"params": second.parameters(), "lr": 0.2}]
    )
    assert current_lr(optimizer) == 0.1
