"""A run's TensorBoard events, written into the run dir itself so TensorBoard names the run after it:
scalars per epoch (train/, val/, test/ first; opt/ and perf/ after) and an HParams session holding
every setting under its dotted config name. A log root (outputs/) gets one experiment summary,
holding the union of its runs' keys, the keys that vary listed first (cnnlab.compare.tensorboard_root).

Runs write only session start/end summaries; an experiment summary in each run would make
TensorBoard pick one run's keys for all (it reads the first experiment it finds).
"""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from typing import Any

from tensorboard.compat.proto import summary_pb2
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2, summary_v2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from torch.utils.tensorboard import SummaryWriter

from cnnlab.config.overrides import flatten, is_plumbing
from cnnlab.rundir.files import (
    METRICS,
    RESOLVED_CONFIG,
    SPLITS,
    SUMMARY,
    RunFileError,
    read_config,
    read_summary,
    scalar_tag,
)
from cnnlab.rundir.status import COMPLETED, DIVERGED, FAILED, PRUNED

log = logging.getLogger(__name__)

EVENTS_GLOB = "events.out.tfevents.*"
# Why and when the run ended (summary.json's status, stop_reason and epochs_completed), as a text.
STOP_REASON_TAG = "run/stop_reason"
# summary.json status -> what the HParams table shows in its Status column.
SESSION_STATUS = {
    COMPLETED: api_pb2.STATUS_SUCCESS,
    PRUNED: api_pb2.STATUS_SUCCESS,  # ended early by its search's pruner, files complete
    DIVERGED: api_pb2.STATUS_FAILURE,
    FAILED: api_pb2.STATUS_FAILURE,
}


def hparams_of(config: dict[str, Any]) -> dict[str, bool | int | float | str]:
    """A resolved config as {dotted key: value used}, plumbing, unset values and `_target_`-style
    keys left out; numbers stay numbers, lists become their text."""
    return {
        key: value if isinstance(value, bool | int | float | str) else str(value)
        for key, value in flatten(config).items()
        if value is not None and not is_plumbing(key) and not key.rpartition(".")[2].startswith("_")
    }


def best_tag(monitor: str) -> str:
    """`val_acc` -> `best/val_acc`: the scalar holding the best monitored value, at its epoch."""
    return f"best/{monitor}"


def session_start(params: dict[str, Any]) -> summary_pb2.Summary:
    return summary_v2.hparams_pb(params)


def session_end(status: str) -> summary_pb2.Summary:
    end = plugin_data_pb2.SessionEndInfo(
        status=SESSION_STATUS.get(status, api_pb2.STATUS_UNKNOWN), end_time_secs=time.time()
    )
    return _plugin_summary(metadata.SESSION_END_INFO_TAG, session_end_info=end)


def _plugin_summary(tag: str, **data: Any) -> summary_pb2.Summary:
    """The HParams plugin's summary layout (as summary_v2 writes it): all content in the metadata."""
    content = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(**data))
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=content, tensor=metadata.NULL_TENSOR)
    return summary


class TensorBoardLog:
    """Scalars per epoch, and the run's HParams session: its settings at the start, its status and
    best monitored value at the end (the sweep's experiment summary lists the metrics)."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def epoch(self, row: dict[str, Any]) -> None:
        step = int(row["epoch"])
        for key, value in row.items():
            if key != "epoch" and value is not None:
                self.writer.add_scalar(scalar_tag(key), value, step)
        self.writer.flush()

    def start_session(self, params: dict[str, Any]) -> None:
        self.writer.file_writer.add_summary(session_start(params))
        self.writer.flush()

    def end_session(self, status: str, best: dict[str, Any] | None, stop_reason: str, epochs: int) -> None:
        """The best monitored value at its epoch, why the run stopped (a text at its last epoch) and the
        session's status."""
        if best is not None:
            self.writer.add_scalar(best_tag(best["metric"]), best["value"], int(best["epoch"]))
        self.writer.add_text(STOP_REASON_TAG, f"{status}: {stop_reason} after epoch {epochs}", epochs)
        self.writer.file_writer.add_summary(session_end(status))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def run_metric_tags(run_dir: Path, summary: dict[str, Any]) -> list[str]:
    """The per-epoch split tags (train/loss, val/acc, ...) holding values in run_dir, and best/<monitor>."""
    path = run_dir / "metrics.csv"
    rows = list(csv.DictReader(path.read_text().splitlines())) if path.is_file() else []
    columns = [c for c in (rows[0] if rows else {}) if any(r[c] not in ("", None) for r in rows)]
    tags = [scalar_tag(c) for c in columns if c.partition("_")[0] in SPLITS]
    return [*tags, best_tag(summary["monitor"])] if summary.get("best") else tags


# The HParams table's metric columns, left to right: what a run is judged by before how it trained.
METRIC_GROUPS = ("best", "test", "val", "train")


def metric_rank(tag: str) -> tuple[int, bool]:
    """best/ first, then test/, val/, train/; within a group the score (acc, psnr) before the loss."""
    group, _, name = tag.partition("/")
    return METRIC_GROUPS.index(group), name == "loss"


def _data_type(values: list[Any]) -> int:
    if all(isinstance(v, bool) for v in values):
        return api_pb2.DATA_TYPE_BOOL
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def _run_record(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any], list[str]] | None:
    """A run's summary.json, config.yaml and metric tags; None, with a warning naming the file, when one of
    them is unreadable (a damaged run dir costs its HParams row, never the others')."""
    try:
        summary, config = read_summary(run_dir), read_config(run_dir)
    except RunFileError as error:
        log.warning("HParams: skipping %s, which is unreadable (%s)", error.path, error.what)
        return None
    if summary is None or config is None:
        return None
    try:
        return summary, config, run_metric_tags(run_dir, summary)
    except (OSError, ValueError, csv.Error) as error:  # ValueError: Unicode errors too
        log.warning(
            "HParams: skipping %s, which is unreadable (%s)", run_dir / METRICS, " ".join(str(error).split())
        )
        return None


def experiment_of(run_dirs: list[Path]) -> api_pb2.Experiment:
    """The union of the runs' hparams (varying keys first) and metric tags. No domains: a domain
    would make the HParams filters hide the runs of other sweeps shown beside this one."""
    params, tags = [], {}
    for run_dir in run_dirs:
        read = _run_record(run_dir)
        if read is not None:
            params.append(hparams_of(read[1]))
            tags |= dict.fromkeys(read[2])
    keys = sorted({k for p in params for k in p})
    differs = {k: len({repr(p.get(k)) for p in params}) > 1 for k in keys}
    infos = [
        api_pb2.HParamInfo(
            name=key,
            type=_data_type([p[key] for p in params if key in p]),
            differs=differs[key],
        )
        for key in sorted(keys, key=lambda k: not differs[k])
    ]
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in sorted(tags, key=metric_rank)]
    return api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)


def remove_events(directory: Path) -> None:
    """Delete the event files directly in `directory` (not those of runs below it)."""
    for old in directory.glob(EVENTS_GLOB):
        old.unlink()


def write_experiment(root: Path, run_dirs: list[Path]) -> None:
    """Replace root's experiment summary (root's own event files hold nothing else) by one for run_dirs;
    the new file is written before the old ones go, so a reader always finds one."""
    usable = [d for d in run_dirs if (d / RESOLVED_CONFIG).is_file() and (d / SUMMARY).is_file()]
    if not usable:
        return
    old = set(root.glob(EVENTS_GLOB))
    summary = _plugin_summary(metadata.EXPERIMENT_TAG, experiment=experiment_of(usable))
    writer = EventFileWriter(str(root))
    writer.add_event(Event(wall_time=time.time(), summary=summary))
    writer.close()
    for path in old:
        path.unlink()
