"""logger=mlflow: a run tracked in MLflow beside its TensorBoard events. Its settings go in as dotted
params (the HParams TensorBoard shows), each epoch's metrics under TensorBoard's tag names, its files as
artefacts when it ends; the jobs of a sweep are child runs of one parent run per sweep dir.

MLflow is an optional extra (`pip install 'cnnlab[mlflow]'`): nothing imports it unless a config asks.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from cnnlab.errors import ConfigError
from cnnlab.rundir.files import scalar_tag
from cnnlab.rundir.status import COMPLETED, INTERRUPTED, PRUNED

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

EXTRA = "mlflow"
# In a run dir: the MLflow run it logs to, so a resumed run goes on in the same MLflow run.
RUN_FILE = "mlflow_run.json"
# In a sweep dir: the sweep's parent run, which each job's run names as its parent.
PARENT_FILE = ".mlflow_parent.json"
# cnnlab's statuses as MLflow's run statuses (a pruned run ended early on purpose, its files complete; the
# `cnnlab.status` tag says which); any other is FAILED.
STATUSES = {COMPLETED: "FINISHED", PRUNED: "FINISHED", INTERRUPTED: "KILLED"}
# Run-dir entries that are not the run's files (the lock) or are Hydra's own copy of the config.
NOT_ARTIFACTS = {".lock", RUN_FILE}
PARAM_VALUE_MAX = 6000  # MLflow's limit on a param's value
BATCH_MAX = 100  # MLflow's limit on params per log_batch call


def settings_of(cfg: DictConfig) -> DictConfig | None:
    """logger.mlflow of a config, None when the run is not tracked in MLflow (logger=tensorboard)."""
    logger = cfg.get("logger")
    return logger.get("mlflow") if logger is not None else None


def client_for(tracking_uri: str) -> MlflowClient:
    """An MlflowClient, or a ConfigError naming the extra when MLflow is not installed."""
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise ConfigError(
            f"logger=mlflow needs MLflow, which is not installed: pip install 'cnnlab[{EXTRA}]' "
            "(or leave logger at its default, tensorboard)."
        ) from None
    return MlflowClient(tracking_uri=tracking_uri)


def _unreachable(settings: DictConfig, error: Exception) -> ConfigError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ConfigError(
        f"MLflow at logger.mlflow.tracking_uri={settings.tracking_uri} could not be used ({first}). Start "
        "the server or fix the URI (a server http://host:port, a database sqlite:///path.db), or train "
        "without it: logger=tensorboard."
    )


def experiment_id(client: MlflowClient, settings: DictConfig) -> str:
    """The id of experiment logger.mlflow.experiment, created on first use (its artefacts under
    logger.mlflow.artifact_location unless the tracking server keeps them)."""
    found = client.get_experiment_by_name(settings.experiment)
    if found is not None:
        return found.experiment_id
    remote = str(settings.tracking_uri).startswith(("http://", "https://"))
    location = None if remote else Path(settings.artifact_location).resolve().as_uri()
    return client.create_experiment(settings.experiment, artifact_location=location)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class MlflowLog:
    """One cnnlab run as one MLflow run: created (or, on resume, reopened) when training starts."""

    def __init__(self, settings: DictConfig, run_dir: Path, name: str, resuming: bool) -> None:
        self.settings = settings
        self.run_dir = run_dir
        self.client = client_for(str(settings.tracking_uri))
        self.failed = False
        previous = _read(run_dir / RUN_FILE) if resuming else None
        parent = _read(run_dir.parent / PARENT_FILE)
        try:
            if previous and previous.get("tracking_uri") == str(settings.tracking_uri):
                self.run_id = previous["run_id"]
                self.client.update_run(self.run_id, status="RUNNING")
                self.resumed = True
            else:
                tags = {"cnnlab.run_dir": str(run_dir.resolve())}
                if parent and parent.get("tracking_uri") == str(settings.tracking_uri):
                    tags["mlflow.parentRunId"] = parent["run_id"]
                    experiment = parent["experiment_id"]
                else:
                    experiment = experiment_id(self.client, settings)
                run_name = run_dir.name if "mlflow.parentRunId" in tags else f"{name} {run_dir.name}"
                self.run_id = self.client.create_run(experiment, tags=tags, run_name=run_name).info.run_id
                self.resumed = False
        except Exception as error:  # noqa: BLE001  (any transport or server error: one paragraph)
            raise _unreachable(settings, error) from None
        record = {"tracking_uri": str(settings.tracking_uri), "run_id": self.run_id}
        (run_dir / RUN_FILE).write_text(json.dumps(record) + "\n")
        log.info("MLflow run %s at %s", self.run_id, settings.tracking_uri)

    def params(self, params: dict[str, Any]) -> None:
        """The run's settings as dotted params, once (a resumed run already has them)."""
        if self.resumed:
            return
        from mlflow.entities import Param

        items = [Param(key, str(value)[:PARAM_VALUE_MAX]) for key, value in sorted(params.items())]
        self._call(
            lambda: [
                self.client.log_batch(self.run_id, params=items[i : i + BATCH_MAX])
                for i in range(0, len(items), BATCH_MAX)
            ]
        )

    def epoch(self, row: dict[str, Any]) -> None:
        """One metrics.csv row, each column under its TensorBoard tag (train/loss, val/acc, opt/lr)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        step = int(row["epoch"])
        metrics = [
            Metric(scalar_tag(key), float(value), now, step)
            for key, value in row.items()
            if key != "epoch" and value is not None
        ]
        self._call(lambda: self.client.log_batch(self.run_id, metrics=metrics))

    def end(self, summary: dict[str, Any]) -> None:
        """The best monitored value, the status and every file of the run dir as artefacts (checkpoints
        too unless logger.mlflow.log_checkpoints=false); then the run ends with the matching status."""
        from mlflow.entities import Metric, RunTag

        best = summary.get("best") or {}
        metrics = []
        if best.get("value") is not None:
            metrics.append(Metric(f"best/{best['metric']}", float(best["value"]), int(time.time() * 1000), 0))
        tags = [
            RunTag("cnnlab.status", summary["status"]),
            RunTag("cnnlab.stop_reason", summary["stop_reason"]),
        ]
        self._call(lambda: self.client.log_batch(self.run_id, metrics=metrics, tags=tags))
        self._call(lambda: log_files(self.client, self.run_id, self.run_dir, self.settings.log_checkpoints))
        status = STATUSES.get(summary["status"], "FAILED")
        self._call(lambda: self.client.set_terminated(self.run_id, status=status))

    def _call(self, call) -> None:
        """A tracking call whose failure is logged once and never stops training (the run dir keeps
        everything); once one failed, the rest are skipped."""
        if self.failed:
            return
        try:
            call()
        except Exception as error:  # noqa: BLE001  (a tracking server's trouble must not kill a run)
            self.failed = True
            log.warning(
                "MLflow logging stopped (%s: %s); the run goes on and its run dir holds everything",
                type(error).__name__,
                str(error).splitlines()[0] if str(error) else "",
            )


def log_files(client: MlflowClient, run_id: str, folder: Path, checkpoints: bool = True) -> None:
    """Every file under `folder` as an artefact at its relative path (the lock and, unless asked,
    checkpoints/ left out)."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if relative.name in NOT_ARTIFACTS or (not checkpoints and relative.parts[0] == "checkpoints"):
            continue
        parent = relative.parent.as_posix()
        client.log_artifact(run_id, str(path), None if parent == "." else parent)


def tracker_for(cfg: DictConfig, run_dir: Path, resuming: bool) -> MlflowLog | None:
    """The run's MLflow log when logger=mlflow, else None."""
    settings = settings_of(cfg)
    return MlflowLog(settings, run_dir, str(cfg.name), resuming) if settings is not None else None


def start_sweep(cfg: DictConfig, sweep_dir: Path, swept: list[str]) -> None:
    """The parent run of a sweep (reopened when the sweep dir already has one), in PARENT_FILE for the
    jobs; a no-op unless logger=mlflow."""
    settings = settings_of(cfg)
    if settings is None:
        return
    client = client_for(str(settings.tracking_uri))
    previous = _read(sweep_dir / PARENT_FILE)
    try:
        if previous and previous.get("tracking_uri") == str(settings.tracking_uri):
            client.update_run(previous["run_id"], status="RUNNING")
            return
        experiment = experiment_id(client, settings)
        tags = {"cnnlab.sweep_dir": str(sweep_dir.resolve()), "cnnlab.swept_keys": ",".join(swept)}
        run = client.create_run(experiment, tags=tags, run_name=f"sweep {sweep_dir.name}")
    except Exception as error:  # noqa: BLE001  (any transport or server error: one paragraph)
        raise _unreachable(settings, error) from None
    record = {
        "tracking_uri": str(settings.tracking_uri),
        "run_id": run.info.run_id,
        "experiment_id": experiment,
    }
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / PARENT_FILE).write_text(json.dumps(record) + "\n")


def end_sweep(cfg: DictConfig, sweep_dir: Path, files: list[str], failed: bool) -> None:
    """The sweep's report files as the parent run's artefacts; the parent ends FAILED when a job failed
    or diverged, else FINISHED."""
    settings, parent = settings_of(cfg), _read(sweep_dir / PARENT_FILE)
    if settings is None or parent is None:
        return
    client = client_for(str(parent["tracking_uri"]))
    try:
        for name in files:
            if (sweep_dir / name).is_file():
                client.log_artifact(parent["run_id"], str(sweep_dir / name))
        client.set_terminated(parent["run_id"], status="FAILED" if failed else "FINISHED")
    except Exception as error:  # noqa: BLE001  (the sweep's own report is written already)
        log.warning("MLflow: the sweep's parent run was not closed (%s: %s)", type(error).__name__, error)
