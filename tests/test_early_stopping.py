"""Early stopping: the rule against hand-made sequences, and in real runs its stop, its record in
summary.json and TensorBoard, its survival across a resume, restoring the best weights, and its checks."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnlab.compare.tables import write_report
from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.engine.early_stopping import EarlyStopping, early_stopping_from
from cnnlab.engine.reopen import load_run
from cnnlab.engine.validate import validate
from cnnlab.errors import ConfigError
from cnnlab.train import run


def _stops(rule: EarlyStopping, values: list[float]) -> int | None:
    """The epoch after which `rule` stops on this sequence of monitored values, or None."""
    for epoch, value in enumerate(values, start=1):
        if rule.update({"epoch": epoch, rule.monitor: value}):
            return epoch
    return None


def test_max_mode_stops_patience_epochs_after_the_last_improvement():
    rule = EarlyStopping("val_acc", "max", patience=2)
    assert _stops(rule, [0.5, 0.6, 0.6, 0.59, 0.7]) == 4
    assert (rule.best_epoch, rule.best_value) == (2, 0.6)


def test_min_mode_counts_a_fall_as_an_improvement_and_min_delta_ignores_small_gains():
    assert _stops(EarlyStopping("val_loss", "min", patience=2), [1.0, 0.9, 0.8, 0.7, 0.6]) is None
    rule = EarlyStopping("val_loss", "min", patience=2, min_delta=0.05)
    # 0.97 and 0.96 are within 0.05 of 1.0: no improvement, so it stops after epoch 3.
    assert _stops(rule, [1.0, 0.97, 0.96, 0.5]) == 3
    assert rule.best_epoch == 1


def test_a_nan_value_is_never_an_improvement():
    assert _stops(EarlyStopping("val_acc", "max", patience=1), [0.5, float("nan")]) == 2


def test_epochs_without_a_value_count_from_the_start_of_the_run():
    """A monitor that is NaN from the first epoch never sets a best epoch: patience counts from epoch 0,
    so patience 2 stops after epoch 2, not after epoch 1 or 3."""
    assert _stops(EarlyStopping("val_loss", "min", patience=2), [float("nan")] * 4) == 2
    assert _stops(EarlyStopping("val_loss", "min", patience=1), [float("nan")] * 4) == 1


def test_state_round_trip_keeps_the_count():
    rule = EarlyStopping("val_acc", "max", patience=3)
    _stops(rule, [0.5, 0.7, 0.6])
    again = EarlyStopping("val_acc", "max", patience=3)
    again.load_state_dict(rule.state_dict())
    assert again.update({"epoch": 4, "val_acc": 0.69}) is False
    assert again.update({"epoch": 5, "val_acc": 0.69}) is True


def test_a_rule_already_past_its_patience_stops_at_once():
    """Resumed with a smaller patience (trainer.resume_allow_changes=true), a run whose last improvement
    is further back than the new patience stops after its next epoch instead of training on forever."""
    rule = EarlyStopping("val_acc", "max", patience=2)
    rule.load_state_dict({"best_value": 0.7, "best_epoch": 1})
    assert rule.update_is_due(4) is True
    assert rule.update({"epoch": 5, "val_acc": 0.6}) is True
    assert rule.update({"epoch": 6, "val_acc": 0.9}) is False  # an improvement resets the count


def test_the_rule_is_built_from_its_config_only_when_enabled(make_cfg):
    overrides = ["trainer.monitor=val_loss", "trainer.monitor_mode=min", "trainer.early_stopping.patience=3"]
    assert early_stopping_from(make_cfg(*overrides)) is None
    rule = early_stopping_from(
        make_cfg(*overrides, "trainer.early_stopping.enabled=true", "trainer.early_stopping.min_delta=0.01")
    )
    assert rule == EarlyStopping("val_loss", "min", patience=3, min_delta=0.01)


# lr 1e-12 leaves the net as it was initialised: every epoch scores the same, so nothing improves
# after epoch 1 and a patience of 2 stops the run after epoch 3.
FROZEN = ["optimizer=sgd", "optimizer.lr=1e-12", "trainer.device=cpu", "trainer.early_stopping.enabled=true"]


def test_a_run_on_a_plateau_stops_and_says_why_in_summary_and_tensorboard(make_cfg, tmp_path):
    cfg = make_cfg(*FROZEN, "trainer.epochs=20", "trainer.early_stopping.patience=2")
    run(cfg, run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["stop_reason"] == "plateau"
    assert summary["epochs_completed"] == 3
    assert summary["early_stopping"]["best_epoch"] == 1
    assert len(pd.read_csv(tmp_path / "run" / "metrics.csv")) == 3
    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"tensors": 0})
    events.Reload()
    (text,) = events.Tensors("run/stop_reason/text_summary")
    assert text.step == 3
    assert text.tensor_proto.string_val[0].decode() == "completed: plateau after epoch 3"


def test_the_sweep_report_says_why_and_when_each_run_stopped(make_cfg, tmp_path):
    rule = [*FROZEN, "trainer.epochs=20", "trainer.early_stopping.patience=2"]
    run(make_cfg(*rule, "trainer.early_stopping.restore_best=true"), run_dir=tmp_path / "sweep" / "0")
    run(make_cfg(*FROZEN[:-1], "trainer.epochs=2"), run_dir=tmp_path / "sweep" / "1")
    write_report([tmp_path / "sweep"])
    table = pd.read_csv(tmp_path / "sweep" / "summary.csv").set_index("run_dir")
    plateau, full = table.loc[str(tmp_path / "sweep" / "0")], table.loc[str(tmp_path / "sweep" / "1")]
    assert (plateau["stop_reason"], plateau["epochs"], plateau["restored_epoch"]) == ("plateau", 3, 1)
    assert (full["stop_reason"], full["epochs"]) == ("max_epochs", 2) and pd.isna(full["restored_epoch"])
    markdown = (tmp_path / "sweep" / "summary.md").read_text()
    header = next(line for line in markdown.splitlines() if "stop_reason" in line)
    assert "restored_epoch" in header


def test_a_run_without_the_rule_reaches_its_maximum(make_cfg, tmp_path):
    run(make_cfg(*FROZEN[:-1], "trainer.epochs=3"), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["stop_reason"], summary["epochs_completed"]) == ("max_epochs", 3)
    assert "early_stopping" not in summary


def test_the_count_survives_a_resume(make_cfg, tmp_path):
    """Stopped after 2 epochs and resumed, it stops after epoch 3 as an uninterrupted run does: a
    rule that forgot its best epoch would count afresh and train to epoch 4."""
    common = (*FROZEN, "trainer.early_stopping.patience=2")
    run(make_cfg(*common, "trainer.epochs=2"), run_dir=tmp_path / "run")
    run(make_cfg(*common, "trainer.epochs=20", "trainer.resume=true"), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["stop_reason"], summary["epochs_completed"]) == ("plateau", 3)
    # Made again after it stopped, the run trains nothing more and still says why it stopped.
    run(make_cfg(*common, "trainer.epochs=20", "trainer.resume=true"), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["stop_reason"], summary["epochs_completed"]) == ("plateau", 3)


def test_restore_best_ends_with_the_best_epochs_weights_and_row(make_cfg, tmp_path):
    cfg = make_cfg(
        "trainer.device=cpu",
        "trainer.epochs=6",
        "optimizer.lr=0.003",
        "trainer.early_stopping.enabled=true",
        "trainer.early_stopping.patience=6",
        "trainer.early_stopping.restore_best=true",
    )
    run(cfg, run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    best_epoch = int(metrics["val_acc"].idxmax()) + 1
    assert summary["restored_epoch"] == best_epoch
    assert summary["final"]["test_acc"] == pytest.approx(metrics["test_acc"].iloc[best_epoch - 1])
    # The end-of-run evaluation scores the restored weights: its accuracy is that epoch's test_acc.
    per_class = pd.read_csv(tmp_path / "run" / "evaluation" / "test-best" / "per_class.csv")
    assert per_class["correct"].sum() / per_class["images"].sum() == pytest.approx(
        summary["final"]["test_acc"]
    )
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")["epoch"] == best_epoch
    # Analysis and the lab tasks read the weights the run ended with: best.pt after restore_best.
    checkpoints = tmp_path / "run" / "checkpoints"
    assert load_run(tmp_path / "run").epoch == best_epoch
    last = load_checkpoint(checkpoints / "last.pt")
    assert load_run(tmp_path / "run", checkpoint="last").epoch == last["epoch"] == summary["epochs_completed"]
    best = load_checkpoint(checkpoints / "best.pt")
    torch.save(best | {"epoch": 99}, checkpoints / "best.pt")  # tells the two files apart
    assert load_run(tmp_path / "run").epoch == 99
    last["config"]["trainer"]["early_stopping"]["restore_best"] = False
    torch.save(last, checkpoints / "last.pt")
    assert load_run(tmp_path / "run").epoch == last["epoch"]  # without restore_best: last.pt


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (["trainer.early_stopping.monitor=test_acc"], "would stop on the test split"),
        (["trainer.early_stopping.patience=0"], "trainer.early_stopping.patience=0"),
        (["trainer.early_stopping.min_delta=-1"], "trainer.early_stopping.min_delta=-1"),
        (["trainer.early_stopping.mode=up"], "trainer.early_stopping.mode='up'"),
        (
            ["trainer.early_stopping.monitor=train_loss", "trainer.early_stopping.restore_best=true"],
            "restores checkpoints/best.pt",
        ),
        (
            ["trainer.early_stopping.mode=min", "trainer.early_stopping.restore_best=true"],
            "restores checkpoints/best.pt",
        ),
        (["trainer.early_stopping.monitor=val_acc", "dataset.val_fraction=0"], "needs a validation split"),
    ],
)
def test_bad_early_stopping_settings_are_refused_before_any_work(make_cfg, overrides, named):
    cfg = make_cfg("trainer.early_stopping.enabled=true", *overrides)
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(".", r"\.")):
        validate(cfg)


@pytest.mark.parametrize(
    "overrides",
    [
        ["trainer.early_stopping.restore_best=true"],  # its monitor is trainer.monitor's: best.pt is its best
        ["trainer.monitor=val_loss", "trainer.monitor_mode=min", "trainer.early_stopping.restore_best=true"],
        [
            "trainer.early_stopping.monitor=train_loss",
            "trainer.early_stopping.mode=min",
        ],  # not the test split
        # No val_ metric watched, so no validation split needed.
        ["trainer.monitor=train_loss", "trainer.monitor_mode=min", "dataset.val_fraction=0"],
        ["trainer.early_stopping.patience=1", "trainer.early_stopping.min_delta=0"],
    ],
)
def test_early_stopping_settings_at_the_edge_of_each_refusal_are_accepted(make_cfg, overrides):
    validate(make_cfg("trainer.early_stopping.enabled=true", *overrides))
    validate(make_cfg("trainer.early_stopping.monitor=test_acc"))  # a rule that is off is not checked
