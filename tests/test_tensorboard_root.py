"""The experiment summary at the root of outputs/, read back with TensorBoard's EventAccumulator and
the HParams plugin's own parser: every run's keys (sweeps and single runs), and the only one left."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata
from torch.utils.tensorboard import SummaryWriter

from cnnlab.compare.tensorboard_root import experiment_root, refresh_root_experiment
from cnnlab.engine.tensorboard_log import write_experiment
from cnnlab.rundir.files import write_resolved_config
from cnnlab.tensorboard_root import main
from tests.conftest import composed
from tests.test_tensorboard_http import train

RUNS = {
    "sweeps/lr/optimizer.lr=0.01": ["optimizer.lr=0.01"],
    "sweeps/lr/optimizer.lr=0.003": ["optimizer.lr=0.003"],
    "sweeps/gamma/scheduler.build.gamma=0.5": ["scheduler=step", "scheduler.build.gamma=0.5"],
    "sweeps/gamma/scheduler.build.gamma=0.2": ["scheduler=step", "scheduler.build.gamma=0.2"],
    "runs/single": ["optimizer=sgd", "optimizer.momentum=0.8"],
}


def fake_run(run_dir: Path, overrides: list[str]) -> None:
    """A finished run's files as training writes them: resolved config, summary.json, metrics.csv."""
    run_dir.mkdir(parents=True)
    write_resolved_config(run_dir, composed(*overrides))
    summary = {
        "status": "completed",
        "monitor": "val_acc",
        "best": {"metric": "val_acc", "value": 0.5, "epoch": 2},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    header = "epoch,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,epoch_s,images_per_s"
    rows = ["1,0.01,2.0,0.3,1.9,0.4,1.9,0.4,0.5,900", "2,0.01,1.5,0.5,1.4,0.5,1.4,0.5,0.5,950"]
    (run_dir / "metrics.csv").write_text("\n".join([header, *rows]) + "\n")


def hparams_content(log_dir: Path) -> dict[str, bytes]:
    """The HParams plugin's summaries directly in log_dir, by tag, as TensorBoard's reader sees them
    ({} when it holds none)."""
    events = EventAccumulator(str(log_dir))
    events.Reload()
    try:
        return events.PluginTagToContent(metadata.PLUGIN_NAME)
    except KeyError:
        return {}


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    """outputs/ with two sweeps of different keys and a single run; the lr sweep's root holds the
    experiment summary older versions wrote there, and one run an old torch add_hparams folder."""
    root = tmp_path / "outputs"
    for name, overrides in RUNS.items():
        fake_run(root / name, overrides)
    write_experiment(root / "sweeps" / "lr", sorted((root / "sweeps" / "lr").iterdir()))
    with SummaryWriter(str(root / "runs" / "single" / "tb")) as writer:
        writer.add_hparams({"lr": 0.01}, {"hparam/acc": 0.5}, run_name="old")
    return root


def test_root_summary_holds_every_runs_keys_and_is_the_only_one(outputs, caplog):
    assert metadata.EXPERIMENT_TAG in hparams_content(outputs / "sweeps" / "lr")
    with caplog.at_level(logging.INFO, logger="cnnlab.compare.tensorboard_root"):
        runs = refresh_root_experiment(outputs)
    assert runs == sorted(outputs / name for name in RUNS)

    experiment = metadata.parse_experiment_plugin_data(hparams_content(outputs)[metadata.EXPERIMENT_TAG])
    infos = {h.name: h for h in experiment.hparam_infos}
    # Keys of one sweep only, and of the single run only, are there, as numbers (bools as bools).
    numbers = ["optimizer.lr", "scheduler.build.gamma", "scheduler.build.step_size", "optimizer.momentum"]
    assert {infos[key].type for key in numbers} == {api_pb2.DATA_TYPE_FLOAT64}
    assert infos["optimizer.nesterov"].type == api_pb2.DATA_TYPE_BOOL
    assert infos["model.name"].type == api_pb2.DATA_TYPE_STRING
    assert not any(h.HasField("domain_discrete") or h.HasField("domain_interval") for h in infos.values())
    # What varies across all five runs comes first; what all share does not vary.
    differing = [h.name for h in experiment.hparam_infos if h.differs]
    assert set(numbers) | {"optimizer.nesterov"} <= set(differing)
    assert [h.name for h in experiment.hparam_infos][: len(differing)] == differing
    assert not infos["model.name"].differs and not infos["trainer.epochs"].differs
    assert not any(key.startswith("paths.") for key in infos)
    # The metric columns: the best monitored value, then test, val, train; the score before the loss.
    assert [m.name.tag for m in experiment.metric_infos] == [
        "best/val_acc",
        *(f"{split}/{name}" for split in ("test", "val", "train") for name in ("acc", "loss")),
    ]

    # The sweep root's old summary is gone; a run's own events and torch's add_hparams folder stay.
    assert hparams_content(outputs / "sweeps" / "lr") == {}
    (old_hparams,) = (outputs / "runs" / "single" / "tb").glob("*/events.out.tfevents.*")
    assert set(hparams_content(old_hparams.parent)) == {
        metadata.EXPERIMENT_TAG,
        metadata.SESSION_START_INFO_TAG,
        metadata.SESSION_END_INFO_TAG,
    }
    assert len(list((outputs / "runs" / "single" / "tb").glob("events.out.tfevents.*"))) == 1
    # ... and is named in a warning, since TensorBoard may still take its one-key experiment.
    (removed, warned) = [r for r in caplog.records if r.name == "cnnlab.compare.tensorboard_root"]
    assert removed.levelno == logging.INFO and "sweeps/lr/events.out.tfevents" in removed.getMessage()
    assert warned.levelno == logging.WARNING and str(old_hparams) in warned.getMessage()


def test_refreshing_replaces_the_root_summary_and_the_command_line_does_it(outputs, capsys):
    refresh_root_experiment(outputs)
    fake_run(outputs / "runs" / "later", ["optimizer=rmsprop", "optimizer.alpha=0.8"])
    main([str(outputs)])
    assert capsys.readouterr().out.strip() == f"{outputs}: HParams experiment over 6 runs"
    assert len(list(outputs.glob("events.out.tfevents.*"))) == 1
    experiment = metadata.parse_experiment_plugin_data(hparams_content(outputs)[metadata.EXPERIMENT_TAG])
    alpha = next(h for h in experiment.hparam_infos if h.name == "optimizer.alpha")
    assert alpha.type == api_pb2.DATA_TYPE_FLOAT64 and alpha.differs

    with pytest.raises(SystemExit) as stop:
        main([str(outputs / "missing")])
    assert stop.value.code == 2
    assert "missing is not a directory" in capsys.readouterr().err


def test_a_sweep_is_covered_by_outputs_when_inside_it_else_by_its_own_root(tmp_path):
    outputs = tmp_path / "outputs"
    assert experiment_root(outputs / "sweeps" / "a", outputs) == outputs
    assert experiment_root(tmp_path / "elsewhere", outputs) == tmp_path / "elsewhere"


def test_a_single_run_adds_its_keys_to_the_root_summary(tmp_path):
    """`python -m cnnlab.train` alone (no sweep, no make tensorboard): its keys are columns at once."""
    train(tmp_path, "optimizer=sgd", "optimizer.momentum=0.8", "trainer.evaluate_at_end=false")
    content = hparams_content(tmp_path / "outputs")
    experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
    types = {info.name: info.type for info in experiment.hparam_infos}
    assert types["optimizer.momentum"] == api_pb2.DATA_TYPE_FLOAT64
