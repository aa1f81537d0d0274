"""cnnlab's Optuna sweeper (hydra/sweeper=optuna) without launching sweeps: the presets' search-space
syntax, every sampler and pruner option of conf/, its settings checks, the study storage, and the
per-epoch pruning hook in a real run (files, TensorBoard, the trial's values, early stopping beside it).
Whole searches run through the CLI in tests/test_optuna_sweeps.py."""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing

import optuna
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from cnnlab.engine.checkpoint import load_checkpoint
from cnnlab.errors import ConfigError
from cnnlab.sweep.optuna_search import BASIC_LAUNCHER, Settings, slots, summary_value, tell
from cnnlab.sweep.pruning import TrialPruning
from cnnlab.sweep.search_space import grid, search_space
from cnnlab.sweep.study import open_storage, storage_url, study_name
from cnnlab.train import run
from tests.conftest import options

optuna.logging.set_verbosity(optuna.logging.WARNING)
PRESET = "hparams_search=lr_batch_size"
# lr 1e-12 leaves the net as initialised: every epoch scores the same (chance), a clearly worse trial.
FROZEN = ["optimizer=sgd", "optimizer.lr=1e-12", "trainer.device=cpu", "trainer.limit_batches=3"]


def sweeper_of(make_cfg, *overrides: str) -> OmegaConf:
    """hydra.sweeper as a search composes it (the preset plus overrides)."""
    return make_cfg(PRESET, *overrides, hydra=True).hydra.sweeper


def in_bounds(value, distribution) -> bool:
    if isinstance(distribution, CategoricalDistribution):
        return value in distribution.choices
    return distribution.low <= value <= distribution.high


def test_the_preset_composes_to_this_sweeper_and_the_space_it_writes(make_cfg):
    sweeper = sweeper_of(make_cfg)
    assert sweeper._target_ == "hydra_plugins.cnnlab_optuna.optuna_sweeper.OptunaSweeper"
    assert (sweeper.pruner._target_, sweeper.n_jobs, sweeper.storage) == (
        "optuna.pruners.NopPruner",
        None,
        None,
    )
    space, fixed = search_space(sweeper.params, ["trainer.epochs=2", "model=lenet,simple_cnn"])
    assert space == {
        "optimizer.lr": FloatDistribution(0.0001, 0.03, log=True),
        "trainer.batch_size": CategoricalDistribution([32, 64, 128]),
        "model": CategoricalDistribution(["lenet", "simple_cnn"]),
    }
    assert fixed == ["trainer.epochs=2"]


def test_hydra_sweep_syntax_becomes_the_distributions_that_draw_the_same_values():
    space, fixed = search_space(
        {
            "a": "interval(1, 9)",
            "b": "tag(int, log, interval(1, 1000))",
            "c": "interval(0.5, 2.5)",
            "d": "range(1, 9, 3)",
            "e": "range(0.0, 1.0, 0.25)",
            "f": "choice(a, b)",
            "g": "true,false",
            "h": 0.5,
        },
        ["a=tag(int, interval(2, 4))", "+i=x"],
    )
    assert space["a"] == IntDistribution(2, 4)  # the command line's replaces the preset's
    assert space["b"] == IntDistribution(1, 1000, log=True)
    assert space["c"] == FloatDistribution(0.5, 2.5)
    assert space["f"] == CategoricalDistribution(["a", "b"]) and space["g"] == CategoricalDistribution(
        [True, False]
    )
    assert fixed == ["h=0.5", "+i=x"]
    # range() excludes its stop, as in Hydra's grids and Python's range.
    values = grid({"d": space["d"], "e": space["e"]})
    assert values["d"] == list(range(1, 9, 3))
    assert values["e"] == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_a_grid_needs_finite_values_and_bad_ranges_are_named():
    space, _ = search_space({"optimizer.lr": "tag(log, interval(0.0001, 0.03))"}, [])
    with pytest.raises(ConfigError, match=r"sampler=grid needs a finite set of values for optimizer.lr"):
        grid(space)
    with pytest.raises(
        ConfigError, match=r"optimizer.lr=tag\(log, interval\(0, 1\)\).*above 0 on a log scale"
    ):
        search_space({}, ["optimizer.lr=tag(log, interval(0, 1))"])
    with pytest.raises(ConfigError, match=r"range\(3, 3\) holds no value"):
        search_space({}, ["x=range(3, 3)"])


@pytest.mark.parametrize("sampler", options("hydra/sweeper/sampler"))
def test_every_sampler_option_draws_inside_the_preset_space(make_cfg, sampler):
    sweeper = sweeper_of(make_cfg, f"hydra/sweeper/sampler={sampler}", "hydra.sweeper.sampler.seed=0")
    # A grid takes finite values only: the command line's lr replaces the preset's interval.
    space, _ = search_space(sweeper.params, ["optimizer.lr=choice(0.001,0.01)"] if sampler == "grid" else [])
    built = instantiate(sweeper.sampler)
    built = built(grid(space)) if sampler == "grid" else built
    study = optuna.create_study(direction="maximize", sampler=built)
    for _ in range(6):
        trial = study.ask(space)
        assert all(in_bounds(trial.params[key], dist) for key, dist in space.items())
        # A score that peaks at lr 3e-3 and prefers small batches.
        lr, batch = trial.params["optimizer.lr"], trial.params["trainer.batch_size"]
        tell(study, trial, TrialState.COMPLETE, [-abs(math.log10(lr / 3e-3)) - batch / 1000])
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    expected = {
        "tpe": "TPESampler",
        "random": "RandomSampler",
        "grid": "GridSampler",
        "cmaes": "CmaEsSampler",
        "nsgaii": "NSGAIISampler",
    }
    assert type(built).__name__ == expected[sampler]


def simulate(study: optuna.Study, scores: list[float]) -> int | None:
    """One trial reporting `scores` epoch by epoch; the epoch it is pruned after, or None (completed)."""
    trial = study.ask()
    for epoch, score in enumerate(scores, start=1):
        trial.report(score, epoch)
        if trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
            return epoch
    study.tell(trial, max(scores))
    return None


@pytest.mark.parametrize("pruner", options("hydra/sweeper/pruner"))
def test_every_pruner_option_stops_a_clearly_worse_trial_but_none(make_cfg, pruner):
    built = instantiate(sweeper_of(make_cfg, f"hydra/sweeper/pruner={pruner}").pruner)
    study = optuna.create_study(study_name=f"pruner-{pruner}", direction="maximize", pruner=built)
    for i in range(9):  # good trials, slightly different, rising over 6 epochs
        simulate(study, [0.5 + 0.05 * epoch + 0.001 * i for epoch in range(1, 7)])
    pruned_after = simulate(study, [0.1] * 6)
    if pruner == "none":
        assert pruned_after is None
        assert all(t.state == TrialState.COMPLETE for t in study.trials)
    else:
        assert pruned_after is not None and pruned_after <= 6


def test_settings_are_checked_with_what_to_set(make_cfg):
    config = make_cfg(PRESET, hydra=True)
    values = OmegaConf.to_container(config.hydra.sweeper) | {
        "sampler": None,
        "pruner": optuna.pruners.NopPruner(),
    }
    del values["_target_"]
    assert Settings.of(values).objective_keys(config) == ["best.value"]
    with pytest.raises(
        ConfigError, match=r"direction=minimize with trainer.monitor=val_acc.*set direction to maximize"
    ):
        Settings.of(values | {"direction": "minimize"}).objective_keys(config)
    with pytest.raises(ConfigError, match=r"direction=up is not a direction"):
        Settings.of(values | {"direction": "up"}).objective_keys(config)
    both = values | {"direction": ["maximize", "minimize"]}
    with pytest.raises(ConfigError, match=r"needs as many hydra.sweeper.objectives"):
        Settings.of(both).objective_keys(config)
    assert Settings.of(both | {"objectives": ["best.value", "n_params"]}).objective_keys(config) == [
        "best.value",
        "n_params",
    ]
    median = both | {"objectives": ["best.value", "n_params"], "pruner": optuna.pruners.MedianPruner()}
    with pytest.raises(ConfigError, match=r"pruner=MedianPruner with 2 objectives.*pruner=none"):
        Settings.of(median).objective_keys(config)
    with pytest.raises(ConfigError, match=r"hydra.sweeper.max_failure_rate is not a setting"):
        Settings.of(values | {"max_failure_rate": 0.1})


def test_trials_at_once_follow_the_launcher():
    joblib = OmegaConf.create(
        {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"}
    )
    assert slots(None, OmegaConf.merge(joblib, {"n_jobs": 3}), cores=8) == 3
    assert slots(None, OmegaConf.merge(joblib, {"n_jobs": -1}), cores=8) == 8  # joblib's -1: every core
    assert (
        slots(2, OmegaConf.create({"_target_": "hydra_plugins.cnnlab_slurm.slurm_launcher.SlurmLauncher"}), 8)
        == 2
    )
    basic = OmegaConf.create({"_target_": BASIC_LAUNCHER})
    assert slots(None, basic, cores=8) == 1
    with pytest.raises(ConfigError, match=r"n_jobs=2 needs a launcher that runs jobs side by side.*joblib"):
        slots(2, basic, cores=8)


def test_the_study_lives_in_the_sweep_dir_unless_a_storage_is_given(tmp_path):
    sweep_dir = tmp_path / "sweeps" / "search-1"
    assert storage_url(None, sweep_dir) == f"sqlite:///{sweep_dir / 'optuna.db'}"
    assert storage_url("sqlite:///x.db", sweep_dir) == "sqlite:///x.db"
    assert study_name(None, sweep_dir) == "search-1" and study_name("s", sweep_dir) == "s"
    study_file = tmp_path / "optuna.db"
    optuna.create_study(study_name="s", storage=open_storage(f"sqlite:///{study_file}"))
    assert sqlite3.connect(study_file).execute("select study_name from studies").fetchall() == [("s",)]


def _optuna2_study(path):
    """A study file as Optuna 2 (hydra-optuna-sweeper) left it: its schema's version says 2.10."""
    optuna.create_study(study_name="old", storage=f"sqlite:///{path}")
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("update alembic_version set version_num='v2.6.0.a'")
        db.execute("update version_info set library_version='2.10.1'")


def test_a_storage_that_cannot_hold_a_study_is_one_clear_error(tmp_path):
    """open_storage goes through check_storage_url (test_sweep_storage.py has its cases), then names a
    database that Optuna itself refuses; nothing already written is lost or made."""
    text = tmp_path / "notes.db"
    text.write_text("not a database\n" * 100)
    old = tmp_path / "old.db"
    _optuna2_study(old)
    before = old.read_bytes()
    refused = {
        f"sqlite:///{text}": f"{text} is not a readable SQLite database",
        "nosuchdb://x": "'nosuchdb', which SQLAlchemy does not know",
        f"sqlite:///{tmp_path / 'no' / 'optuna.db'}": f"the folder {tmp_path / 'no'} does not exist",
        f"sqlite:///{old}": "cannot hold an Optuna study (RuntimeError: The runtime optuna version",
    }
    for url, said in refused.items():
        with pytest.raises(ConfigError) as error:
            open_storage(url)
        message = str(error.value)
        assert message.startswith(f"hydra.sweeper.storage={url!r}") and said in message, message
        assert "\n" not in message
    assert "optuna storage upgrade --storage <url>" in message
    assert text.read_text() == "not a database\n" * 100 and old.read_bytes() == before
    assert not (tmp_path / "no").exists()


def test_summary_values_are_read_by_dotted_key():
    summary = {"best": {"value": 0.75}, "n_params": 61706, "final": {"val_acc": None}}
    assert summary_value(summary, "best.value") == 0.75 and summary_value(summary, "n_params") == 61706
    assert math.isnan(summary_value(summary, "final.val_acc")) and math.isnan(
        summary_value(summary, "nope.x")
    )


def study_with_a_good_trial(pruner: optuna.pruners.BasePruner) -> optuna.Study:
    """A study whose one finished trial scored 0.9 at epochs 1-3, so a chance-level run is clearly worse."""
    study = optuna.create_study(study_name="s", direction="maximize", pruner=pruner)
    study.add_trial(create_trial(value=0.9, intermediate_values={1: 0.9, 2: 0.9, 3: 0.9}))
    return study


def test_a_pruned_run_stops_at_once_with_its_files_and_its_trial_complete(make_cfg, tmp_path):
    study = study_with_a_good_trial(optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    trial = study.ask()
    run_dir = tmp_path / "run"
    run(
        make_cfg(*FROZEN, "trainer.epochs=3"),
        run_dir,
        [],
        hooks=(TrialPruning(study, trial._trial_id, "val_acc"),),
    )

    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["stop_reason"], summary["pruned_epoch"]) == ("pruned", "pruned", 1)
    assert summary["trial"] == {"number": 1, "study": "s"} and summary["epochs_completed"] == 1
    assert summary["message"].startswith("pruned after epoch 1 by MedianPruner: val_acc=")
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert list(metrics["epoch"]) == [1]
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1
    events = EventAccumulator(str(run_dir))
    events.Reload()
    assert [e.step for e in events.Scalars("val/acc")] == [1]
    assert [e.value for e in events.Scalars("val/acc")] == pytest.approx(list(metrics["val_acc"]))
    assert not (run_dir / "evaluation").exists()  # pruned runs skip the end-of-run evaluation
    # The trial holds the epoch's monitored value, as the run measured it.
    assert study.trials[1].intermediate_values == {1: pytest.approx(metrics["val_acc"].iloc[0])}


def test_early_stopping_and_pruning_live_side_by_side(make_cfg, tmp_path):
    patience = [
        *FROZEN,
        "trainer.epochs=6",
        "trainer.early_stopping.enabled=true",
        "trainer.early_stopping.patience=2",
    ]
    # A pruner that never prunes: the plateau ends the run (epoch 1 best, two more without gain).
    study = study_with_a_good_trial(optuna.pruners.NopPruner())
    trial = study.ask()
    run(
        make_cfg(*patience),
        tmp_path / "plateau",
        [],
        hooks=(TrialPruning(study, trial._trial_id, "val_acc"),),
    )
    summary = json.loads((tmp_path / "plateau" / "summary.json").read_text())
    assert (summary["status"], summary["stop_reason"], summary["epochs_completed"]) == (
        "completed",
        "plateau",
        3,
    )
    assert sorted(study.trials[1].intermediate_values) == [1, 2, 3]
    # A pruner that prunes at epoch 1 stops it before the plateau would.
    study = study_with_a_good_trial(optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    trial = study.ask()
    run(
        make_cfg(*patience), tmp_path / "pruned", [], hooks=(TrialPruning(study, trial._trial_id, "val_acc"),)
    )
    summary = json.loads((tmp_path / "pruned" / "summary.json").read_text())
    assert (summary["status"], summary["stop_reason"], summary["epochs_completed"]) == ("pruned", "pruned", 1)


def test_a_pruned_job_is_neither_failed_nor_diverged_for_the_sweeps_exit_status(make_cfg, tmp_path, capsys):
    """The end-of-sweep callback exits 1 when a job failed or diverged; a pruned trial is a normal outcome
    of a search, so a sweep of a pruned and a completed job ends 0, and one diverged job still makes it 1."""
    from cnnlab.sweep.callback import SweepReport

    sweep_dir = tmp_path / "outputs" / "sweep"
    for name, pruner in (("good", optuna.pruners.NopPruner()), ("bad", optuna.pruners.MedianPruner(1, 0))):
        study = study_with_a_good_trial(pruner)
        hook = TrialPruning(study, study.ask()._trial_id, "val_acc")
        run(make_cfg(*FROZEN, "trainer.epochs=2"), sweep_dir / name, [], hooks=(hook,))
    config = make_cfg(f"hydra.sweep.dir={sweep_dir}", hydra=True)

    SweepReport().on_multirun_end(config)  # no SystemExit
    table = pd.read_csv(sweep_dir / "summary.csv").set_index("run")
    assert table["status"].to_dict() == {"bad": "pruned", "good": "completed"}
    assert table.loc["bad", ["trial_state", "pruned_epoch"]].tolist() == ["PRUNED", 1]
    assert "Not completed" not in (sweep_dir / "summary.md").read_text()

    good = sweep_dir / "good" / "summary.json"
    good.write_text(json.dumps(json.loads(good.read_text()) | {"status": "diverged"}))
    with pytest.raises(SystemExit) as ended:
        SweepReport().on_multirun_end(config)
    assert ended.value.code == 1
    said = capsys.readouterr().err
    head = "1 of 2 jobs did not finish or diverged (1 diverged):"
    listed = [line for line in said[said.index(head) :].splitlines() if line.startswith("  [")]
    assert [line.split(":")[0] for line in listed] == ["  [diverged] good"]
