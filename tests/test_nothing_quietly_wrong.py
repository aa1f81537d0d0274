"""Nothing quietly wrong: evaluation under trainer.limit_batches is a seeded sample of the whole split and
says so; a start-up line names the run before its first epoch when the output is a pipe; each sweep job's
log lines carry its name (joblib: jobs side by side); a read-only data folder gives its designed message;
a config refused before training leaves no run dir; a sweep with a diverged job exits non-zero."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnlab.data.datamodule import build_data
from cnnlab.rundir.lock import hold_run_dir, remove_unused_run_dir
from cnnlab.sweep.jobs import JobName, lines_named
from cnnlab.train import run
from tests.conftest import fake_image_folder, fake_mnist

ROOT = Path(__file__).resolve().parents[1]


def cli(tmp_path: Path, *overrides: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m cnnlab.train` with its output to a pipe (not a terminal), outputs under tmp_path."""
    flags = [o for o in overrides if o.startswith("-")]  # -m before the overrides, as argparse wants
    command = [sys.executable, "-m", "cnnlab.train", *flags, f"paths.output_dir={tmp_path / 'outputs'}"]
    command += [f"paths.cache_dir={tmp_path / 'cache'}", *(o for o in overrides if o not in flags)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd or ROOT, timeout=600)


def test_limit_batches_evaluates_a_seeded_sample_of_the_whole_split_and_says_so(make_cfg, tmp_path, caplog):
    # An image folder is read class folder by class folder: its first 8 test images are 2 classes.
    folder = fake_image_folder(tmp_path / "folder", n_per_class=8, size=8)
    overrides = [
        "dataset=cifar10",
        f"dataset.image_folder={folder}",
        "model=global_pool",
        "trainer.limit_batches=1",
        "trainer.batch_size=8",
        "trainer.eval_batch_size=8",
        "trainer.epochs=1",
        "trainer.device=cpu",
    ]
    cfg = make_cfg(*overrides)
    with caplog.at_level(logging.WARNING, logger="cnnlab.data.datamodule"):
        data = build_data(cfg, torch.device("cpu"))
    assert (
        "validation and test are each a seeded random sample of at most 8 images (of 8 and 40)" in caplog.text
    )
    assert len(data.train) == 1  # training is what limit_batches cuts
    labels = torch.cat([y for _, y in data.test])
    assert len(labels) == 8 and len(labels.unique()) >= 4  # spread over the classes, not the first two
    again = torch.cat([y for _, y in build_data(cfg, torch.device("cpu")).test])
    assert torch.equal(labels, again)  # seeded: the same sample every time
    run(make_cfg(*overrides), run_dir=tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["images"] == {"train": 72, "val": 8, "test": 8}
    assert "seeded random sample" in summary["evaluation_sample"]
    evaluation = json.loads((tmp_path / "run" / "evaluation" / "test-last" / "evaluation.json").read_text())
    assert evaluation["images"] == 8


def test_a_startup_line_names_the_run_before_the_first_epoch_through_a_pipe(tmp_path):
    run_dir = tmp_path / "run"
    done = cli(tmp_path, "trainer.epochs=1", "trainer.limit_batches=2", f"hydra.run.dir={run_dir}")
    assert done.returncode == 0, done.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    # The digits: 1,797 images, 20% held out for test, 10% of the rest for validation.
    expected = (
        f"run dir {run_dir} | device cpu | data digits: train 1,294, val 144, test 359 images of 1x28x28 | "
        f"model lenet: {summary['n_params']:,} parameters | up to 1 epochs"
    )
    lines = done.stdout.splitlines()
    first_epoch = next(i for i, line in enumerate(lines) if "epoch 1/1" in line)
    assert any(line.endswith(expected) for line in lines[:first_epoch]), done.stdout
    assert expected in (run_dir / "train.log").read_text()


def test_a_config_refused_before_training_leaves_no_run_dir(tmp_path):
    refused = cli(tmp_path, "trainer.batch_size=0")
    assert (
        refused.returncode == 2 and "trainer.batch_size=0 is not allowed" in refused.stdout + refused.stderr
    )
    missing = cli(
        tmp_path, "dataset=mnist", f"paths.data_root={tmp_path / 'nothing'}", "dataset.source.download=false"
    )
    assert missing.returncode == 2 and "MNIST was not found" in missing.stdout + missing.stderr
    assert list((tmp_path / "outputs").rglob("*")) == []  # neither run dir, nor runs/<name>/ above it


def test_a_dir_that_holds_a_run_or_is_held_is_never_removed(make_cfg, tmp_path):
    trained = tmp_path / "outputs" / "runs" / "x" / "trained"
    run(make_cfg("trainer.epochs=1", "trainer.limit_batches=1"), run_dir=trained)
    assert not remove_unused_run_dir(trained, tmp_path / "outputs") and (trained / "summary.json").is_file()
    busy = tmp_path / "outputs" / "runs" / "y" / "busy"
    (busy / ".hydra").mkdir(parents=True)
    with hold_run_dir(busy):  # another run holds it and has not written anything yet
        assert not remove_unused_run_dir(busy, tmp_path / "outputs") and busy.is_dir()
    assert remove_unused_run_dir(busy, tmp_path / "outputs")
    assert (
        not (tmp_path / "outputs" / "runs" / "y").exists() and (tmp_path / "outputs" / "runs" / "x").is_dir()
    )


@pytest.mark.slow
def test_a_sweep_with_a_diverged_job_exits_non_zero_and_lists_it(tmp_path):
    done = cli(
        tmp_path,
        "-m",
        "optimizer=sgd",
        "optimizer.lr=1e8,0.01",
        "trainer.log_every_n_steps=1",
        "trainer.epochs=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert done.returncode == 1, done.stderr[-3000:]
    statuses = {
        p.parent.name: json.loads(p.read_text())["status"]
        for p in (tmp_path / "sweep").glob("*/summary.json")
    }
    assert statuses == {"optimizer.lr=100000000.0": "diverged", "optimizer.lr=0.01": "completed"}
    tail = done.stderr.strip().splitlines()
    assert "1 of 2 jobs did not finish or diverged (1 diverged):" in tail
    assert any(
        line.startswith("  [diverged] optimizer.lr=100000000.0: the training loss became") for line in tail
    )
    assert "lower optimizer.lr" in done.stderr


@pytest.mark.parametrize("name", ["optimizer.lr=0.1,model=lenet", "name=at_100%_lr"])
def test_a_job_name_is_put_once_on_each_line_whatever_the_handlers(tmp_path, name):
    logger = logging.getLogger("cnnlab.test.jobname")
    terminal, file = io.StringIO(), tmp_path / "train.log"
    handlers = [logging.StreamHandler(terminal), logging.FileHandler(file)]
    named = JobName(name)
    for handler in handlers:
        handler.addFilter(named)
        logger.addHandler(handler)
    logger.warning("epoch %d of %s, 100%% done", 1, "x")
    logger.warning("no arguments, 100% literal")
    for handler in handlers:
        logger.removeHandler(handler)
        handler.close()
    expected = f"[{name}] epoch 1 of x, 100% done\n[{name}] no arguments, 100% literal\n"
    assert terminal.getvalue() == file.read_text() == expected


def test_lines_are_named_while_the_job_runs_and_not_after():
    root, terminal = logging.getLogger(), io.StringIO()
    handler = logging.StreamHandler(terminal)
    root.addHandler(handler)
    try:
        with lines_named("trainer.seed=1"):
            logging.getLogger("cnnlab.test.named").warning("inside")
        logging.getLogger("cnnlab.test.named").warning("after")
    finally:
        root.removeHandler(handler)
    assert terminal.getvalue() == "[trainer.seed=1] inside\nafter\n"


@pytest.mark.slow
def test_joblib_jobs_write_lines_that_carry_their_names(tmp_path):
    done = cli(
        tmp_path,
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "optimizer.lr=0.01,0.02",
        "trainer.epochs=2",
        "trainer.limit_batches=2",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout + done.stderr
    jobs = ("optimizer.lr=0.01", "optimizer.lr=0.02")
    training = [line for line in output.splitlines() if "[cnnlab.engine.fit]" in line]
    assert training and all(any(f"] - [{job}] " in line for job in jobs) for line in training), training
    for job in jobs:
        assert sum(f"[{job}] epoch 2/2" in line for line in training) == 1
        log = (tmp_path / "sweep" / job / "train.log").read_text()
        assert all(f"[{job}] " in line for line in log.splitlines() if "[cnnlab.engine.fit]" in line)


def read_only(folders: list[Path]) -> list[str]:
    """A command prefix under which `folders` cannot be written. Root writes through permission bits, so
    as root each is bind-mounted read-only in a private mount namespace (unshare, util-linux), which ends
    with the command; anyone else gets the folders chmod'ed 0555."""
    if os.geteuid() != 0:
        for folder in folders:
            for path in [folder, *folder.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o555)
        return []
    if not shutil.which("unshare") or subprocess.run(["unshare", "--mount", "true"]).returncode:
        pytest.skip("running as root without `unshare --mount` (util-linux): no way to make writes fail")
    mounts = " && ".join(f'mount --bind -o ro "{f}" "{f}"' for f in folders)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'{mounts} && exec "$@"', "sh"]


def test_a_read_only_data_folder_gives_the_designed_message(tmp_path):
    """A shared data folder, read-only for everyone: of .gz files only, or of .gz and unpacked files."""
    gz_only = fake_mnist(tmp_path / "gz", gz=True)
    both = fake_mnist(tmp_path / "both", gz=True)
    fake_mnist(tmp_path / "both")
    prefix = read_only([gz_only, both])
    try:
        done = [
            subprocess.run(
                [*prefix, sys.executable, "-m", "cnnlab.train", "dataset=mnist", "trainer.epochs=1"]
                + [f"paths.data_root={data}", f"paths.output_dir={tmp_path / 'outputs'}"],
                capture_output=True,
                text=True,
                cwd=ROOT,
                timeout=600,
            )
            for data in (gz_only, both)
        ]
    finally:
        for path in tmp_path.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
    for result in done:
        assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr, result.stderr
    raw = gz_only / "MNIST" / "raw"
    assert f"{raw}/t10k-images-idx3-ubyte.gz is gzipped and its folder is not writable" in done[0].stdout
    assert f"copy {gz_only / 'MNIST'} to a writable folder and give that as paths.data_root" in done[0].stdout
    assert f"cannot write {both / 'cache'}" in done[1].stdout and "paths.cache_dir=" in done[1].stdout
    assert not (both / "cache").exists()


def test_make_runs_advertised_time_is_the_measured_one():
    """`make help` and README quote the measured wall time of `make run`, not a guess (it said ~10 s)."""
    makefile = (ROOT / "Makefile").read_text()
    (help_line,) = [line for line in makefile.splitlines() if line.startswith("run: ")]
    readme = (ROOT / "README.md").read_text()
    assert "48-102 s measured" in help_line and "~10 s" not in help_line
    assert "48 s to 102 s of training" in readme and "`time make run` = 20 min 19 s" in readme
