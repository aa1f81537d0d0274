"""A run dir belongs to one run at a time; a run whose process is gone reads as `died`; writes that fail
leave no litter; a sweep's workers stop when the sweep's parent dies."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from cnnlab.errors import ConfigError, DiskFullError
from cnnlab.rundir.atomic import atomic_save
from cnnlab.rundir.files import write_resolved_config
from cnnlab.rundir.lock import hold_run_dir, is_held, process_record, run_status
from cnnlab.sweep.jobs import run_sweep_job
from tests.conftest import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_lock_refuses_a_second_holder_and_is_free_after(tmp_path):
    with hold_run_dir(tmp_path):
        assert is_held(tmp_path) is True
        with pytest.raises(ConfigError, match=f"pid {os.getpid()}"), hold_run_dir(tmp_path):
            pass
    assert is_held(tmp_path) is False
    with hold_run_dir(tmp_path):  # free again: a finished run does not block the next
        pass


def test_running_status_becomes_died_once_the_process_is_gone(tmp_path):
    summary = {"status": "running", **process_record()}
    with hold_run_dir(tmp_path):
        assert run_status(tmp_path, summary) == "running"
    assert run_status(tmp_path, summary) == "died"
    assert run_status(tmp_path, {**summary, "status": "completed"}) == "completed"
    old = tmp_path / "before_locks"  # a run dir from before locks existed: judged by its pid
    old.mkdir()
    assert run_status(old, summary) == "running"
    assert run_status(old, {**summary, "pid": _dead_pid()}) == "died"


def _sweep_cfg(tmp_path: Path, run_dir: Path):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={tmp_path}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def test_sweep_skips_a_live_run_and_resumes_a_dead_one(tmp_path):
    run_dir = tmp_path / "job"
    cfg = _sweep_cfg(tmp_path, run_dir)
    run_dir.mkdir()
    write_resolved_config(run_dir, cfg)
    (run_dir / "summary.json").write_text(json.dumps({"status": "running", **process_record()}))
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.pt").touch()
    calls = []

    def train(job_cfg, job_dir, overrides, hooks=()):
        calls.append(bool(job_cfg.trainer.resume))
        return 0.5

    try:
        with hold_run_dir(run_dir):
            assert math.isnan(run_sweep_job(cfg.copy(), train))
        assert calls == []
        assert run_sweep_job(cfg.copy(), train) == 0.5
        assert calls == [True]
    finally:
        HydraConfig.instance().cfg = None


def test_a_failed_write_leaves_no_temporary_file_and_a_full_disk_is_named(tmp_path):
    path = tmp_path / "last.pt"
    atomic_save({"w": torch.ones(3)}, path)
    (tmp_path / f".last.pt.{os.getpid()}.tmp").symlink_to("/dev/full")
    with pytest.raises(DiskFullError, match=f"cannot write {path}.*disk holding it is full"):
        atomic_save({"w": torch.zeros(10_000)}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(3))  # the old one intact


def test_a_worker_is_interrupted_when_its_parent_dies(tmp_path):
    """parent -> worker (as loky starts it); SIGKILL the parent: the worker's job sees a Ctrl-C."""
    worker = textwrap.dedent(
        f"""
        import pathlib, time
        from cnnlab.sweep.orphans import stop_when_parent_dies
        stop_when_parent_dies(poll_s=0.1)
        pathlib.Path({str(tmp_path / "started")!r}).touch()
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            pathlib.Path({str(tmp_path / "interrupted")!r}).touch()
        """
    )
    parent = textwrap.dedent(
        f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", {worker!r}])
        time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen([sys.executable, "-c", parent], env=env)
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while not (tmp_path / "interrupted").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "interrupted").exists()
