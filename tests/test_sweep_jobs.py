"""The pieces of a sweep job that need no multirun: dir names, thread shares, config matching."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest
from omegaconf import OmegaConf

from cnnlab.config.overrides import PLUMBING_KEYS
from cnnlab.sweep.jobs import (
    MAX_DIRNAME,
    available_cores,
    job_dirname,
    launcher_threads,
    record_failure,
    same_config,
    swept_keys,
    write_swept_keys,
)
from cnnlab.train import run


def test_job_dirname_is_one_safe_component():
    assert job_dirname("optimizer.lr=0.01,trainer.seed=1") == "optimizer.lr=0.01,trainer.seed=1"
    assert job_dirname("") == "default"
    assert "/" not in job_dirname("dataset.image_folder=/data/cifar")
    # Too long: the first 189 characters, a dash and 10 hex digits of the whole name's SHA-1.
    long = ",".join(f"key{i}=value{i}" for i in range(40))
    digest = hashlib.sha1(long.encode()).hexdigest()[:10]
    assert job_dirname(long) == f"{long[:189]}-{digest}" and len(job_dirname(long)) == MAX_DIRNAME == 200
    assert job_dirname(long + "x") == f"{long[:189]}-{hashlib.sha1((long + 'x').encode()).hexdigest()[:10]}"
    assert job_dirname("a" * MAX_DIRNAME) == "a" * MAX_DIRNAME  # at the limit: kept whole
    assert job_dirname(" ./x y\\z/. ") == "x_y_z"


def test_swept_keys_are_the_sweep_overrides_and_the_sweepers_params():
    task = ["optimizer.lr=0.1,0.2", "trainer.epochs=2", "trainer.seed=range(2)", "paths.data_root=a,b"]
    hydra_cfg = OmegaConf.create(
        {
            "overrides": {"task": task},
            "sweeper": {"params": {"trainer.batch_size": "choice(16,32)", "optimizer.lr": "interval(0,1)"}},
        }
    )
    assert swept_keys(hydra_cfg) == ["optimizer.lr", "trainer.seed", "trainer.batch_size"]


def test_job_dir_is_named_by_the_swept_overrides_in_command_line_order(tmp_path):
    task = ["trainer.epochs=2", "trainer.seed=1", "optimizer.lr=0.01"]
    everything = "optimizer.lr=0.01,trainer.epochs=2,trainer.seed=1"
    assert job_dirname(everything, task, str(tmp_path)) == everything  # swept keys not recorded
    write_swept_keys(tmp_path, ["optimizer.lr", "trainer.seed"])
    write_swept_keys(tmp_path / "not" / "yet", ["x"])  # a sweep dir whose parents do not exist yet
    assert (tmp_path / "not" / "yet" / ".swept_keys").read_text() == "x\n"
    assert job_dirname(everything, task, str(tmp_path)) == "trainer.seed=1,optimizer.lr=0.01"
    # A sweep run before dirs were named this way keeps its dirs, so it still skips and resumes.
    (tmp_path / everything).mkdir()
    (tmp_path / everything / "summary.json").write_text("{}")
    assert job_dirname(everything, task, str(tmp_path)) == everything


def test_job_dirs_never_hold_a_path(make_cfg, tmp_path):
    """Every plumbing key that can hold a path, set to one, stays out of a sweep job's dir name."""
    path_keys = [key for key in sorted(PLUMBING_KEYS) if key.startswith(("paths.", "dataset."))]
    assert {"dataset.image_folder", "paths.data_root"} <= set(path_keys)
    paths = [f"++{key}={tmp_path}/{key}" for key in path_keys]
    cfg = make_cfg("dataset=cifar10", "optimizer.lr=0.01", *paths, "trainer.device=cpu", hydra=True)
    assert cfg.hydra.sweep.subdir == "dataset=cifar10,optimizer.lr=0.01"


def test_thread_share_per_launcher():
    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    share = lambda launcher, cores: launcher_threads(OmegaConf.create({"launcher": launcher}), cores)  # noqa: E731
    assert share({"_target_": joblib, "n_jobs": 1}, 8) == 8  # one job at a time: all the cores
    assert share({"_target_": joblib, "n_jobs": 2}, 2) == 1
    assert share({"_target_": joblib, "n_jobs": 2}, 16) == 8
    assert share({"_target_": joblib, "n_jobs": -1}, 8) == 1
    assert share({"_target_": joblib, "n_jobs": -2}, 8) == 1
    assert share({"_target_": joblib, "n_jobs": -7}, 8) == 4  # joblib's -7: 8 + 1 - 7 = 2 jobs at once
    assert share({"_target_": joblib, "n_jobs": -9}, 8) == 8  # past the cores: one job at a time
    assert share({"_target_": joblib, "n_jobs": 3}, 2) == 1
    assert share({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 8) is None
    assert share({"_target_": "x.SlurmLauncher", "cpus_per_task": 4}, 64) == 4


def test_the_cores_are_those_this_process_may_use_or_all_where_that_is_unknown(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0} if pid == 0 else {0, 1, 2, 3})
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert available_cores() == 1  # this process (pid 0) pinned to one core of four (taskset, a cgroup)
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS and Windows have no affinity call
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert available_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # "undetermined"
    assert available_cores() == 1


def test_same_config_compares_the_run_dirs_resolved_config(make_cfg, tmp_path):
    overrides = ["trainer.epochs=1", "trainer.limit_batches=1"]
    cfg = make_cfg(*overrides)
    run(cfg, run_dir=tmp_path / "run", overrides=overrides)
    summary = {"overrides": overrides}
    assert same_config(tmp_path / "run", make_cfg(*overrides, "trainer.num_threads=1"), overrides, summary)
    assert same_config(tmp_path / "run", make_cfg(*overrides, "trainer.resume=true"), overrides, summary)
    assert not same_config(tmp_path / "run", make_cfg(*overrides, "optimizer.lr=0.5"), overrides, summary)


def test_a_changed_device_is_the_same_config_with_or_without_a_stored_config(make_cfg, tmp_path):
    overrides = ["trainer.epochs=1", "trainer.limit_batches=1"]
    run(make_cfg(*overrides), run_dir=tmp_path / "run", overrides=overrides)
    summary = {"overrides": overrides}
    on_cpu = [*overrides, "trainer.device=cpu"]
    assert same_config(tmp_path / "run", make_cfg(*on_cpu), on_cpu, summary)
    (tmp_path / "run" / "config.yaml").unlink()
    assert same_config(tmp_path / "run", make_cfg(*on_cpu), on_cpu, summary)
    assert not same_config(tmp_path / "run", make_cfg(*overrides), [*overrides, "optimizer.lr=0.5"], summary)
    # One more override that sorts after the stored ones: their list is a prefix, not the same.
    assert not same_config(tmp_path / "run", make_cfg(*overrides), [*overrides, "trainer.seed=1"], summary)


def test_record_failure_replaces_a_stale_summary_and_keeps_fits_own(tmp_path):
    cfg = OmegaConf.create({"name": "digits-lenet"})
    stale = {"status": "failed", "message": "OldError: from yesterday", "n_params": 5}
    (tmp_path / "summary.json").write_text(json.dumps(stale))
    os.utime(tmp_path / "summary.json", (time.time() - 3600, time.time() - 3600))
    before = time.time()
    record_failure(tmp_path, cfg, ["model=lenet"], ValueError("today"), started=before - 5)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["message"] == "ValueError: today" and "n_params" not in summary
    assert 5 <= summary["wall_s"] <= 5 + (time.time() - before)  # the attempt began 5 s ago
    assert summary["overrides"] == ["model=lenet"] and "ValueError: today" in summary["traceback"]

    started = time.time()
    fits = {"status": "failed", "message": "RuntimeError: in epoch 3", "n_params": 5}
    (tmp_path / "summary.json").write_text(json.dumps(fits))
    record_failure(tmp_path, cfg, ["model=lenet"], RuntimeError("in epoch 3"), started=started)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["message"] == "RuntimeError: in epoch 3" and summary["n_params"] == 5
    assert "traceback" in summary


# fit's failure summary stamped this many seconds before the attempt began, with this status: kept as fit
# wrote it, or replaced by record_failure's own. A coarse file-system clock may stamp up to a second early.
@pytest.mark.parametrize(
    ("early_s", "status", "kept"),
    [(0.5, "failed", True), (1.0, "failed", True), (1.5, "failed", False), (0.5, "running", False)]
    + [(0.5, "completed", False)],  # fresh, but not fit's account of a failure: the error came after it
)
def test_fits_own_failure_summary_is_kept_within_a_second_of_slack(tmp_path, early_s, status, kept):
    started = float(int(time.time()))  # a whole second, so that `started - early_s` is exact in floats
    (tmp_path / "summary.json").write_text(json.dumps({"status": status, "message": "fit's", "n_params": 5}))
    os.utime(tmp_path / "summary.json", (started - early_s, started - early_s))
    record_failure(tmp_path, OmegaConf.create({"name": "x"}), [], RuntimeError("after"), started=started)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert ("n_params" in summary) == kept and summary["status"] == "failed"
    assert summary["message"] == ("fit's" if kept else "RuntimeError: after")
