"""Bad config values fail before any work, with one paragraph naming the key, value and range."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnlab.engine.validate import check_added_keys, validate
from cnnlab.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.batch_size=0", "trainer.batch_size"),
        ("trainer.epochs=-3", "trainer.epochs"),
        ("trainer.epochs=2.5", "trainer.epochs"),
        ("optimizer.lr=0", "optimizer.lr"),
        ("optimizer.lr=-0.1", "optimizer.lr"),
        ("dataset.val_fraction=1.5", "dataset.val_fraction"),
        ("trainer.limit_batches=0", "trainer.limit_batches"),
        ("trainer.monitor=val_f1", "trainer.monitor"),
        ("optimizer=sgd optimizer.momentum=1.5", "optimizer.momentum"),
        ("trainer.amp=bf16", "trainer.amp"),
        ("trainer.amp=1", "trainer.amp"),
    ],
)
def test_out_of_range_values_name_the_key_and_what_is_allowed(make_cfg, override, key):
    with pytest.raises(ConfigError) as error:
        validate(make_cfg(*override.split()))
    assert str(error.value).startswith(key)
    assert "must be" in str(error.value) or "use one of" in str(error.value)


def test_validation_monitoring_needs_a_validation_split(make_cfg):
    with pytest.raises(ConfigError, match="dataset.val_fraction"):
        validate(make_cfg("dataset.val_fraction=0"))
    validate(make_cfg("dataset.val_fraction=0", "trainer.monitor=test_acc"))


def test_regression_data_refuses_augmentation_that_misaligns_input_and_target(make_cfg):
    with pytest.raises(ConfigError, match="augmentation=none"):
        validate(make_cfg("dataset=textblur", "model=deblur", "augmentation=flip_crop"))
    validate(make_cfg("dataset=textblur", "model=deblur", "augmentation=none"))


def test_the_command_line_prints_the_message_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab.train", "trainer.batch_size=-1", f"hydra.run.dir={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "trainer.batch_size=-1 is not allowed" in output
    assert "Traceback" not in output


def test_bad_augmentation_values_are_reported_by_key(make_cfg, tmp_path):
    from cnnlab.train import run

    with pytest.raises(ConfigError, match=r"augmentation\.hflip=1\.5"):
        run(make_cfg("augmentation=flip_crop", "augmentation.hflip=1.5"), run_dir=tmp_path / "r")


def test_the_schedule_is_stepped_through_before_any_work(make_cfg):
    """Past the table's checks, the dry run itself finds a schedule that turns the lr negative or that
    fails when stepped (as StepLR with step_size=0 did, after a whole epoch)."""
    from cnnlab.engine.validate import check_optimizer_and_schedule

    with pytest.raises(ConfigError, match=r"learning rate -0\.00\d+ at epoch 2"):
        check_optimizer_and_schedule(make_cfg("scheduler=exponential", "scheduler.build.gamma=-1"))
    with pytest.raises(ConfigError, match="fails when stepped at epoch 1: ZeroDivisionError"):
        check_optimizer_and_schedule(make_cfg("scheduler=step", "scheduler.build.step_size=0"))
    check_optimizer_and_schedule(make_cfg("scheduler=onecycle", "trainer.epochs=3"))
    with pytest.raises(ConfigError, match="max_lr"):
        check_optimizer_and_schedule(make_cfg("scheduler=onecycle", "~scheduler.build.max_lr"))


@pytest.mark.parametrize(
    ("overrides", "steps", "unit"),
    [
        (["trainer.epochs=1"], 50, "step"),  # 50 batches an epoch before the data is read
        (["trainer.epochs=1", "trainer.limit_batches=8"], 8, "step"),  # fewer when limit_batches says so
        (["trainer.epochs=201"], 10_000, "step"),  # never more than 10,000 steps in all
        (["trainer.epochs=3", "scheduler.interval=epoch"], 3, "epoch"),  # stepped once an epoch
    ],
    ids=["dry-epoch", "limit-batches", "step-cap", "per-epoch"],
)
def test_the_dry_run_steps_a_schedule_as_far_as_it_says(make_cfg, overrides, steps, unit):
    """A one-cycle schedule of exactly the dry run's steps passes; one step fewer fails at the last step,
    named as a step or an epoch by the schedule's interval."""
    from cnnlab.engine.validate import check_optimizer_and_schedule

    onecycle = ["scheduler=onecycle", *overrides]
    check_optimizer_and_schedule(make_cfg(*onecycle, f"+scheduler.build.total_steps={steps}"))
    with pytest.raises(ConfigError, match=rf"fails when stepped at {unit} {steps}: ValueError"):
        check_optimizer_and_schedule(make_cfg(*onecycle, f"+scheduler.build.total_steps={steps - 1}"))


def test_a_short_per_step_schedule_is_judged_by_the_real_batches_per_epoch(make_cfg, tmp_path):
    """One epoch of one-cycle is fine (the dry run once assumed 4 batches an epoch, where pct_start 0.25
    leaves no step for the warm-up, and refused `experiment=quickstart trainer.epochs=1`); a run whose
    real batches per epoch are that few is refused naming them, before a step, not by a traceback."""
    from cnnlab.engine.validate import check_optimizer_and_schedule
    from cnnlab.train import run

    check_optimizer_and_schedule(make_cfg("experiment=quickstart", "trainer.epochs=1"))
    with pytest.raises(ConfigError, match=r"trainer\.epochs=1 x 4 batches per epoch"):
        check_optimizer_and_schedule(make_cfg("experiment=quickstart", "trainer.epochs=1"), steps_per_epoch=4)
    # 1,294 training digits in batches of 1024: 2 batches an epoch, 4 steps in all, known only from the data.
    cfg = make_cfg(
        "experiment=quickstart", "trainer.epochs=2", "trainer.batch_size=1024", "trainer.device=cpu"
    )
    with pytest.raises(ConfigError, match=r"trainer\.epochs=2 x 2 batches per epoch"):
        run(cfg, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize(
    "override",
    ["+dataset.max_eval=100", "+budget=smoke", "+optimizer.foreach=false"],
)
def test_plus_keys_that_code_reads_are_accepted(make_cfg, override):
    validate(make_cfg(override), [override])


@pytest.mark.parametrize(
    "before",
    [["trainer.epochs=2"], ["+budget=smoke"], ["+dataset.max_eval=100"], ["+optimizer.foreach=false"]],
    ids=["a-plain-override", "a-config-group", "an-optional-key", "a-targets-argument"],
)
def test_every_plus_key_is_checked_whatever_comes_before_it(make_cfg, before):
    overrides = [*before, "+trainer.epoch=3"]
    with pytest.raises(
        ConfigError, match=r"\+trainer.epoch=3 adds the key trainer.epoch, .*did you mean trainer.epochs\?"
    ):
        validate(make_cfg(*overrides), overrides)


@pytest.mark.parametrize(
    "typo, meant",
    [("trainer.epoch", "trainer.epochs"), ("trainer.seeds", "trainer.seed")],
    ids=["match-sorts-after-the-typo", "match-sorts-before-the-typo"],
)
def test_the_close_match_is_suggested_wherever_it_sorts(make_cfg, typo, meant):
    with pytest.raises(ConfigError, match=rf"did you mean {meant}\?"):
        check_added_keys(make_cfg(), [f"+{typo}=3"])


@pytest.mark.parametrize("key", ["trainer.seed", "trainer.epochs", "dataset.val_fraction"])
def test_a_required_key_deleted_with_a_tilde_is_refused_naming_it(make_cfg, key):
    """`~trainer.seed` leaves no value where the engine reads one: said at once, as the value None."""
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}=None is not allowed: it must be"):
        validate(make_cfg(f"~{key}"))


def test_a_plus_key_that_an_interpolation_reads_is_accepted(make_cfg):
    """A user's own key, shared through an interpolation (optimizer.lr=${lab.lr}), is read: no refusal."""
    overrides = ["optimizer.lr=${lab.lr}", "+lab.lr=0.1"]
    check_added_keys(make_cfg(*overrides), overrides)
    with pytest.raises(ConfigError, match=r"adds the key lab\.lr"):
        check_added_keys(make_cfg("+lab.lr=0.1"), ["+lab.lr=0.1"])


def test_a_plus_key_that_picks_a_nested_config_group_is_accepted(make_cfg):
    check_added_keys(make_cfg(), ["+experiment/rdfia=q15"])  # conf/experiment/rdfia/q15.yaml
