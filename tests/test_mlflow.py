"""logger=mlflow: a run's settings as dotted params, its per-epoch metrics equal to metrics.csv, its files as
artefacts equal to the run dir's, a resumed run going on in its MLflow run; a sweep as a parent run with a
child per job, against a real `mlflow server` (SQLite backend, 127.0.0.1) read back with MlflowClient.
TensorBoard stays the default and is written either way."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cnnlab.engine.validate import validate
from cnnlab.errors import ConfigError
from cnnlab.train import run

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install 'cnnlab[mlflow]'")
from mlflow import MlflowClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ["trainer.epochs=2", "trainer.limit_batches=2", "trainer.device=cpu"]


def read_back(client: MlflowClient, run_id: str, run_dir: Path, tmp_path: Path) -> None:
    """The MLflow run holds the run dir's settings, metrics and files."""
    found = client.get_run(run_id)
    params = found.data.params
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert params["optimizer.lr"] == str(config["optimizer"]["lr"])
    assert params["trainer.batch_size"] == str(config["trainer"]["batch_size"])
    assert params["model.name"] == config["model"]["name"] and params["dataset.name"] == "digits"
    assert not any(key.startswith(("paths.", "logger.")) for key in params)  # plumbing stays out
    metrics = pd.read_csv(run_dir / "metrics.csv")
    for tag, column in (("val/acc", "val_acc"), ("train/loss", "train_loss"), ("opt/lr", "lr")):
        history = sorted(client.get_metric_history(run_id, tag), key=lambda m: m.step)
        assert [m.step for m in history] == list(metrics["epoch"])
        assert [m.value for m in history] == pytest.approx(list(metrics[column]))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert found.data.metrics["best/val_acc"] == pytest.approx(summary["best"]["value"])
    assert found.data.tags["cnnlab.status"] == summary["status"]
    assert found.info.status == "FINISHED"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"metrics.csv", "summary.json", "config.yaml", "checkpoints", "evaluation"} <= artifacts
    assert ".lock" not in artifacts
    for name in ("metrics.csv", "checkpoints/last.pt", "evaluation/test-last/evaluation.json"):
        copy = client.download_artifacts(run_id, name, str(tmp_path / "downloaded" / run_id))
        assert Path(copy).read_bytes() == (run_dir / name).read_bytes()


def test_a_run_is_tracked_a_resume_goes_on_in_its_run_and_a_fresh_start_opens_another(make_cfg, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracked = ["logger=mlflow", f"logger.mlflow.tracking_uri={uri}", "logger.mlflow.experiment=tests"]
    run(make_cfg(*TINY, *tracked, "trainer.epochs=1"), run_dir=tmp_path / "run")  # one epoch: the edge
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tests")
    (found,) = client.search_runs([experiment.experiment_id])
    record = json.loads((tmp_path / "run" / "mlflow_run.json").read_text())
    assert record == {"tracking_uri": uri, "run_id": found.info.run_id}
    read_back(client, found.info.run_id, tmp_path / "run", tmp_path)
    # a completed run ends once, after its end-of-run evaluation: one best value, not one before and one after
    assert len(client.get_metric_history(found.info.run_id, "best/val_acc")) == 1
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))  # TensorBoard as always
    assert experiment.artifact_location == (tmp_path / "outputs" / "mlartifacts").resolve().as_uri()

    more = ["trainer.epochs=3", "trainer.resume=true"]
    run(make_cfg(*TINY, *tracked, *more), run_dir=tmp_path / "run")
    (again,) = client.search_runs([experiment.experiment_id])
    assert again.info.run_id == found.info.run_id
    assert [m.step for m in client.get_metric_history(found.info.run_id, "val/acc")] == [1, 2, 3]

    run(make_cfg(*TINY, *tracked, "trainer.epochs=1"), run_dir=tmp_path / "run")  # afresh over it
    fresh = json.loads((tmp_path / "run" / "mlflow_run.json").read_text())["run_id"]
    assert fresh != found.info.run_id and len(client.search_runs([experiment.experiment_id])) == 2
    assert [m.step for m in client.get_metric_history(fresh, "val/acc")] == [1]
    assert [m.step for m in client.get_metric_history(found.info.run_id, "val/acc")] == [1, 2, 3]


def test_a_pruned_run_ends_finished_in_mlflow_with_its_status_tagged(make_cfg, tmp_path):
    """A trial its search's pruner stopped is a normal outcome, as in TensorBoard's HParams table."""
    import optuna

    from cnnlab.sweep.pruning import TrialPruning

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(1, 0))
    study.add_trial(optuna.trial.create_trial(value=0.9, intermediate_values={1: 0.9, 2: 0.9}))
    hook = TrialPruning(study, study.ask()._trial_id, "val_acc")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    frozen = ["optimizer=sgd", "optimizer.lr=1e-12", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}"]
    run(make_cfg(*TINY, *frozen), tmp_path / "run", [], hooks=(hook,))
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "pruned"
    client = MlflowClient(uri)
    (found,) = client.search_runs([client.get_experiment_by_name("cnnlab").experiment_id])
    assert (found.info.status, found.data.tags["cnnlab.status"]) == ("FINISHED", "pruned")


def test_tensorboard_alone_is_the_default(make_cfg, tmp_path):
    cfg = make_cfg(*TINY)
    assert cfg.logger.name == "tensorboard" and cfg.logger.mlflow is None
    run(cfg, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / "mlflow_run.json").exists() and not (tmp_path / "outputs").exists()


def test_without_mlflow_installed_the_config_is_refused_naming_the_extra(make_cfg, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    with pytest.raises(ConfigError, match=r"logger=mlflow needs MLflow.*pip install 'cnnlab\[mlflow\]'"):
        validate(make_cfg(*TINY, "logger=mlflow"))


def test_an_unreachable_tracking_server_is_one_clear_error(make_cfg, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    cfg = make_cfg(*TINY, "logger=mlflow", f"logger.mlflow.tracking_uri=http://127.0.0.1:{port}")
    with pytest.raises(
        ConfigError, match=rf"tracking_uri=http://127.0.0.1:{port} could not be used.*logger=tensorboard"
    ):
        run(cfg, run_dir=tmp_path / "run")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and served artefacts, stopped after."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "server-artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop(server)
        log.close()


def stop(server: subprocess.Popen) -> None:
    """The server and its workers, by their process group: the processes this test started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_with_a_child_per_job_on_a_real_server(mlflow_server, tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, "-m", "cnnlab.train", "-m", "optimizer.lr=0.01,0.002", *TINY]
    command += [
        "logger=mlflow",
        f"logger.mlflow.tracking_uri={mlflow_server}",
        "logger.mlflow.experiment=sweeps",
    ]
    command += [f"paths.output_dir={tmp_path / 'outputs'}", f"paths.cache_dir={tmp_path / 'cache'}"]
    command += [f"hydra.sweep.dir={sweep_dir}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("sweeps")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    (parent,) = parents
    assert parent.info.run_name == f"sweep {sweep_dir.name}" and parent.info.status == "FINISHED"
    assert parent.data.tags["cnnlab.swept_keys"] == "optimizer.lr"
    assert json.loads((sweep_dir / ".mlflow_parent.json").read_text())["run_id"] == parent.info.run_id
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {
        "summary.csv",
        "summary.md",
        "curves.png",
    }
    copy = client.download_artifacts(parent.info.run_id, "summary.csv", str(tmp_path / "parent"))
    assert Path(copy).read_bytes() == (sweep_dir / "summary.csv").read_bytes()
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        run_dir = sweep_dir / child.info.run_name
        assert child.info.run_name in ("optimizer.lr=0.01", "optimizer.lr=0.002")
        assert child.data.params["optimizer.lr"] == child.info.run_name.partition("=")[2]
        read_back(client, child.info.run_id, run_dir, tmp_path)
        assert {".hydra", "train.log"} <= {a.path for a in client.list_artifacts(child.info.run_id)}


def test_a_sweep_that_cannot_use_mlflow_stops_before_any_job(make_cfg, monkeypatch, tmp_path, capsys):
    from cnnlab.sweep.callback import SweepReport

    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    cfg = make_cfg("logger=mlflow", f"hydra.sweep.dir={tmp_path / 'sweep'}", hydra=True)
    with pytest.raises(SystemExit) as stopped:
        SweepReport().on_multirun_start(cfg)
    assert stopped.value.code == 2
    assert "error: logger=mlflow needs MLflow" in capsys.readouterr().err
