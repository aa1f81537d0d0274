"""What a run tells its user besides the metrics, each checked against what happened: the epoch each
log line names when a run stops, the warnings a resume gives only when they apply, summary.json while
the run goes on, the images per second and wall times against metrics.csv and a clock outside."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import cnnlab.engine.fit as fit
from cnnlab.engine import loop
from cnnlab.engine.epoch_hooks import Stop
from cnnlab.errors import CheckpointError, said
from cnnlab.train import run
from tests.test_epoch_loop import RecordingBar

QUICK = ["trainer.device=cpu", "trainer.limit_batches=2"]  # 2 batches of 64 a training epoch
TWO = [*QUICK, "trainer.epochs=2"]
FIT_LOG = "cnnlab.engine.fit"


def _summary(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == FIT_LOG]


class Watcher:
    """An epoch hook that adds a key to summary.json and reads the file back after every epoch; with
    `interrupt_after`, it is Ctrl-C arriving once that epoch is written."""

    def __init__(self, run_dir: Path, interrupt_after: int | None = None) -> None:
        self.run_dir, self.interrupt_after, self.seen = run_dir, interrupt_after, []

    def record(self) -> dict[str, Any]:
        return {"trial": 7}

    def after_epoch(self, row: dict[str, Any]) -> None:
        summary = _summary(self.run_dir)
        self.seen.append((row["epoch"], summary["epochs_completed"], summary["trial"], summary["status"]))
        if row["epoch"] == self.interrupt_after:
            raise KeyboardInterrupt


def test_summary_json_counts_the_epochs_as_they_are_written_and_keeps_a_hooks_keys(make_cfg, tmp_path):
    watcher = Watcher(tmp_path / "run")
    run(make_cfg(*QUICK, "trainer.epochs=3"), run_dir=tmp_path / "run", hooks=[watcher])
    assert watcher.seen == [(1, 1, 7, "running"), (2, 2, 7, "running"), (3, 3, 7, "running")]
    assert _summary(tmp_path / "run")["trial"] == 7


def test_an_interrupted_run_names_the_epoch_and_the_command_that_resumes_it(make_cfg, tmp_path, caplog):
    run_dir = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger=FIT_LOG), pytest.raises(KeyboardInterrupt):
        run(
            make_cfg(*QUICK, "trainer.epochs=5"), run_dir=run_dir, hooks=[Watcher(run_dir, interrupt_after=2)]
        )
    named = shlex.quote(f"hydra.run.dir={run_dir}")
    command = f"{shlex.quote(sys.executable)} -m cnnlab.train {named} trainer.resume=true"
    assert f"interrupted in epoch 2; resume with: {command}" in _messages(caplog)
    assert _summary(run_dir)["status"] == "interrupted" and _summary(run_dir)["epochs_completed"] == 2


def test_a_diverged_run_names_the_epoch_it_diverged_in(make_cfg, tmp_path):
    cfg = make_cfg(*TWO, "optimizer=sgd", "optimizer.lr=1e8", "trainer.log_every_n_steps=1")
    run(cfg, run_dir=tmp_path / "run")
    summary = _summary(tmp_path / "run")
    assert summary["status"] == "diverged"
    diverged_in = summary["epochs_completed"] + 1  # the epochs before it completed; it did not
    assert f" in epoch {diverged_in}; the run stopped." in summary["message"]


def test_early_stopping_says_after_which_epoch_and_since_which_it_stopped(make_cfg, tmp_path, caplog):
    """No accuracy can gain more than 1, so with min_delta 1 epoch 1 stays the best and patience 2 ends
    the run after epoch 3."""
    stopping = ["trainer.early_stopping.enabled=true", "trainer.early_stopping.patience=2"]
    cfg = make_cfg(*QUICK, "trainer.epochs=6", *stopping, "trainer.early_stopping.min_delta=1")
    with caplog.at_level(logging.INFO, logger=FIT_LOG):
        run(cfg, run_dir=tmp_path / "run")
    expected = "early stopping after epoch 3: val_acc has not improved by more than 1 since epoch 1"
    assert expected in _messages(caplog)
    assert _summary(tmp_path / "run")["stop_reason"] == "plateau"


def test_resuming_a_finished_run_with_its_own_epochs_trains_nothing_and_says_so(make_cfg, tmp_path, caplog):
    run_dir = tmp_path / "run"
    with caplog.at_level(logging.INFO, logger=FIT_LOG):
        run(make_cfg(*TWO), run_dir=run_dir)
    assert not [m for m in _messages(caplog) if "nothing to train" in m]
    before = pd.read_csv(run_dir / "metrics.csv")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=FIT_LOG):
        run(make_cfg(*TWO, "trainer.resume=true"), run_dir=run_dir)
    expected = "2 epochs are already done, trainer.epochs=2: nothing to train (raise trainer.epochs to go on)"
    assert expected in _messages(caplog)
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "metrics.csv"), before)
    assert _summary(run_dir)["status"] == "completed" and _summary(run_dir)["epochs_completed"] == 2


def test_a_resume_warns_of_changed_settings_only_when_there_are_some(make_cfg, tmp_path, caplog):
    run_dir = tmp_path / "run"
    run(make_cfg(*TWO), run_dir=run_dir)
    with caplog.at_level(logging.INFO, logger=FIT_LOG):
        run(make_cfg(*QUICK, "trainer.epochs=3", "trainer.resume=true"), run_dir=run_dir)
    assert not [m for m in _messages(caplog) if "changed settings" in m]
    caplog.clear()
    changed = [
        "trainer.epochs=4",
        "trainer.resume=true",
        "trainer.resume_allow_changes=true",
        "optimizer.lr=0.5",
    ]
    with caplog.at_level(logging.INFO, logger=FIT_LOG):
        run(make_cfg(*QUICK, *changed, "optimizer.lr=0.5"), run_dir=run_dir)
    (warning,) = [m for m in _messages(caplog) if "changed settings" in m]
    assert "optimizer.lr" in warning


def test_images_per_second_is_the_training_images_over_the_epochs_time(make_cfg, tmp_path):
    run(make_cfg(*TWO), run_dir=tmp_path / "run")
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert (metrics["images_per_s"] * metrics["epoch_s"]).tolist() == pytest.approx([2 * 64] * 2)


def test_wall_time_covers_the_epochs_and_a_resume_adds_to_it(make_cfg, tmp_path):
    """Between the sum of the epochs' own times and a clock read around the call; a resume adds its own."""
    run_dir = tmp_path / "run"
    start = time.perf_counter()
    run(make_cfg(*TWO), run_dir=run_dir)
    outside = time.perf_counter() - start
    first = _summary(run_dir)["wall_s"]
    assert pd.read_csv(run_dir / "metrics.csv")["epoch_s"].sum() <= first <= outside

    start = time.perf_counter()
    run(make_cfg(*QUICK, "trainer.epochs=3", "trainer.resume=true"), run_dir=run_dir)
    outside = time.perf_counter() - start
    resumed = _summary(run_dir)["wall_s"]
    third_epoch = pd.read_csv(run_dir / "metrics.csv")["epoch_s"].iloc[2]
    assert first + third_epoch <= resumed <= first + outside


@pytest.mark.parametrize(("eval_batch", "sampled"), [(256, False), (16, True)])
def test_the_first_log_line_says_when_val_and_test_are_sampled(
    make_cfg, tmp_path, caplog, eval_batch, sampled
):
    """Sampled when limit_batches x eval_batch_size images are fewer than a split's (val 144, test 359)."""
    cfg = make_cfg(*QUICK, "trainer.epochs=1", f"trainer.eval_batch_size={eval_batch}")
    with caplog.at_level(logging.INFO, logger=FIT_LOG):
        run(cfg, run_dir=tmp_path / "run")
    first = _messages(caplog)[0]
    assert first.startswith(f"run dir {tmp_path / 'run'} | device cpu | data digits: ")
    assert ("(val/test sampled: trainer.limit_batches)" in first) is sampled
    assert ("evaluation_sample" in _summary(tmp_path / "run")) is sampled


def test_each_epoch_logs_its_metrics_csv_row_and_names_itself_on_the_progress_bar(make_cfg, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger=FIT_LOG), pytest.MonkeyPatch.context() as patch:
        RecordingBar.made = []
        patch.setattr(loop, "tqdm", RecordingBar)
        run(make_cfg(*TWO), run_dir=tmp_path / "run")
    assert [bar.kwargs["desc"] for bar in RecordingBar.made] == ["epoch 1/2", "epoch 2/2"]
    lines = [m for m in _messages(caplog) if m.startswith("epoch ")]
    rows = pd.read_csv(tmp_path / "run" / "metrics.csv").to_dict("records")
    keys = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
    assert lines == [
        f"epoch {r['epoch']}/2  "
        + "  ".join(f"{k} {r[k]:.4f}" for k in keys)
        + f"  {r['images_per_s']:.0f} img/s"
        for r in rows
    ]


def _unchanged(state: dict[str, Any]) -> dict[str, Any]:
    return state


def _one_parameter_short(state: dict[str, Any]) -> dict[str, Any]:
    groups = [group | {"params": group["params"][:-1]} for group in state["optimizer"]["param_groups"]]
    return state | {"optimizer": state["optimizer"] | {"param_groups": groups}}


@pytest.mark.parametrize(
    ("change", "edit", "error"),
    [
        (["model=simple_cnn"], _unchanged, RuntimeError),  # another model's weights
        (["scheduler=exponential"], _unchanged, TypeError),  # a scheduler without state in it
        ([], lambda state: state | {"optimizer": {}}, KeyError),  # an optimiser state without groups
        ([], lambda state: state | {"optimizer": state["optimizer"] | {"state": []}}, AttributeError),
        ([], _one_parameter_short, ValueError),  # an optimiser for another number of parameters
    ],
    ids=["model", "scheduler", "optimizer-groups", "optimizer-state", "optimizer-sizes"],
)
def test_a_checkpoint_that_does_not_fit_the_run_is_refused_and_the_run_left_as_it_was(
    make_cfg, tmp_path, change, edit, error
):
    """Whatever torch raised (`error`: checked here, so each kind of misfit is covered) becomes one
    CheckpointError quoting at most 300 characters of it."""
    run_dir = tmp_path / "run"
    run(make_cfg(*TWO), run_dir=run_dir)
    last = run_dir / "checkpoints" / "last.pt"
    torch.save(edit(torch.load(last, weights_only=True)), last)
    before = {p.name: p.read_bytes() for p in (run_dir / "metrics.csv", last)}
    resume = ["trainer.epochs=3", "trainer.resume=true", "trainer.resume_allow_changes=true", *change]
    with pytest.raises(
        CheckpointError, match=r"last.pt does not fit this run \(.+\): it holds another"
    ) as refused:
        run(make_cfg(*QUICK, *resume), run_dir=run_dir)
    assert isinstance(refused.value.__context__, error)
    quoted = str(refused.value).split("does not fit this run (", 1)[1].split("): it holds another", 1)[0]
    assert quoted == said(refused.value.__context__)[:300]
    assert before == {p.name: p.read_bytes() for p in (run_dir / "metrics.csv", last)}


def test_a_resume_from_an_earlier_checkpoint_than_its_events_shows_each_epoch_once(make_cfg, tmp_path):
    """Events written after the checkpoint it resumes from (a run killed between the two) are purged:
    TensorBoard reads epoch 3 once, as the resumed run trained it."""
    run_dir = tmp_path / "run"
    run(make_cfg(*TWO), run_dir=run_dir)
    after_two = (run_dir / "checkpoints" / "last.pt").read_bytes()
    run(make_cfg(*QUICK, "trainer.epochs=3", "trainer.resume=true"), run_dir=run_dir)
    (run_dir / "checkpoints" / "last.pt").write_bytes(after_two)
    again = [
        "trainer.epochs=3",
        "trainer.resume=true",
        "trainer.resume_allow_changes=true",
        "optimizer.lr=0.5",
    ]
    run(make_cfg(*QUICK, *again), run_dir=run_dir)
    events = EventAccumulator(str(run_dir))
    events.Reload()
    third = pd.read_csv(run_dir / "metrics.csv").iloc[2]
    assert [(e.step, e.value) for e in events.Scalars("train/loss")][2:] == [
        (3, pytest.approx(third["train_loss"]))
    ]
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3]


def test_an_interrupt_in_the_first_epoch_leaves_a_checkpoint_of_no_epochs(make_cfg, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    real = fit.current_lr

    def interrupted(optimizer):
        monkeypatch.setattr(fit, "current_lr", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(fit, "current_lr", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(make_cfg(*TWO), run_dir=run_dir)
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 0
    assert not (run_dir / "checkpoints" / "best.pt").exists()  # no epoch yet, so no best one
    run(make_cfg(*TWO, "trainer.resume=true"), run_dir=run_dir)
    assert pd.read_csv(run_dir / "metrics.csv")["epoch"].tolist() == [1, 2]


def test_restore_best_without_early_stopping_restores_nothing(make_cfg, tmp_path):
    """restore_best is part of the stopping rule: with the rule off, the run ends on its last epoch."""
    cfg = make_cfg(*TWO, "trainer.early_stopping.restore_best=true", "optimizer.lr=0.5")
    run(cfg, run_dir=tmp_path / "run")
    summary = _summary(tmp_path / "run")
    last = pd.read_csv(tmp_path / "run" / "metrics.csv").iloc[-1]
    assert "restored_epoch" not in summary
    # final is metrics.csv's last row, every column of it, less the epoch (that is epochs_completed)
    assert summary["final"] == pytest.approx(last.drop("epoch").to_dict())
    assert summary["epochs_completed"] == last["epoch"] == 2


class Ender:
    """A hook that ends the run after epoch `at` (as a pruner does), or raises `error` there."""

    def __init__(self, at: int, error: Exception | None = None) -> None:
        self.at, self.error = at, error

    def record(self) -> dict[str, Any]:
        return {}

    def after_epoch(self, row: dict[str, Any]) -> Stop | None:
        if row["epoch"] != self.at:
            return None
        if self.error is not None:
            raise self.error
        return Stop("pruned", "pruned", "stopped by the test's hook", {"pruned_at": self.at})


def test_a_hooks_stop_ends_the_run_after_that_epoch_with_the_hooks_status(make_cfg, tmp_path):
    """restore_best is for completed runs: a run a hook ends keeps its last epoch's weights and row."""
    stopping = ["trainer.early_stopping.enabled=true", "trainer.early_stopping.restore_best=true"]
    run(make_cfg(*QUICK, "trainer.epochs=4", *stopping), run_dir=tmp_path / "run", hooks=[Ender(2)])
    summary = _summary(tmp_path / "run")
    assert (summary["status"], summary["stop_reason"], summary["pruned_at"]) == ("pruned", "pruned", 2)
    assert summary["message"] == "stopped by the test's hook"
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert metrics["epoch"].tolist() == [1, 2]
    assert "restored_epoch" not in summary
    assert summary["final"]["val_loss"] == pytest.approx(metrics["val_loss"].iloc[-1])


def test_an_unexpected_error_leaves_the_run_failed_with_the_error_and_raises_it(make_cfg, tmp_path):
    failing = Ender(2, RuntimeError("a bug in a hook"))
    with pytest.raises(RuntimeError, match="a bug in a hook"):
        run(make_cfg(*QUICK, "trainer.epochs=4"), run_dir=tmp_path / "run", hooks=[failing])
    summary = _summary(tmp_path / "run")
    assert (summary["status"], summary["stop_reason"], summary["epochs_completed"]) == ("failed", "failed", 2)
    assert summary["message"] == "RuntimeError: a bug in a hook"


def test_a_classification_checkpoint_carries_its_class_names(make_cfg, tmp_path):
    """What cnnlab.predict and an export label their outputs with: the digits data set's classes."""
    run(make_cfg(*QUICK, "trainer.epochs=1"), run_dir=tmp_path / "run")
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    (inference,) = [value for value in state.values() if isinstance(value, dict) and "class_names" in value]
    assert inference["class_names"] == [str(digit) for digit in range(10)]


def test_a_run_dir_whose_parents_are_missing_is_made_with_them(make_cfg, tmp_path):
    run_dir = tmp_path / "runs" / "lenet" / "seed0"  # as a script calling run() may name it
    run(make_cfg(*QUICK, "trainer.epochs=1"), run_dir=run_dir)
    assert _summary(run_dir)["status"] == "completed"
    assert len(pd.read_csv(run_dir / "metrics.csv")) == 1
