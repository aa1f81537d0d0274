"""The Hydra callback around a multirun: at its start it checks the sweeper's storage, locks the sweep dir
(one sweep per sweep dir at a time), records the swept keys and opens MLflow's parent run (logger=mlflow);
at its end it writes the sweep's report, refreshes the TensorBoard HParams experiment of outputs/
(cnnlab.compare.tensorboard_root) and, when jobs failed or diverged, prints one screen of them and ends the
process non-zero so scripts and CI notice, as a single run would."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from cnnlab.errors import CnnlabError, said, unusable_path
from cnnlab.rundir.status import FAILING

if TYPE_CHECKING:
    from cnnlab.compare.collect import Report

log = logging.getLogger("cnnlab.sweep")
# The statuses that make a sweep exit non-zero (rundir/status.FAILING): a diverged job finished, but a
# single run of it exits 1; `died` (or `running` after the sweep) means a job was killed. A pruned job (an
# Optuna search's pruner stopped it) is a normal outcome of a search: not among them.

MAX_LISTED = 15


def failure_lines(report: Report, width: int = 160) -> list[str]:
    """One line per job that did not finish or diverged (at most MAX_LISTED), each cut to `width`
    characters."""
    bad = report.runs[report.runs["status"].isin(FAILING)]
    diverged = int((bad["status"] == "diverged").sum())
    what = "did not finish" + (f" or diverged ({diverged} diverged)" if diverged else "")
    lines = [f"{len(bad)} of {len(report.runs)} jobs {what}:"]
    for row in bad.head(MAX_LISTED).itertuples():
        reason = (row.message or "no summary; killed? (e.g. the launcher's timeout_min)").splitlines()[0]
        lines.append(f"  [{row.status}] {Path(row.run_dir).name}: {reason}"[:width])
    if len(bad) > MAX_LISTED:
        lines.append(f"  ... and {len(bad) - MAX_LISTED} more: see summary.md")
    if len(bad) > diverged:
        lines.append(
            "Tracebacks are in each job's train.log; rerun the same command to retry only these jobs."
        )
    if diverged:
        lines.append(
            "A diverged job is a result (a rerun skips it): its loss became NaN or infinite; rerun it with a "
            "lower optimizer.lr."
        )
    return lines


class SweepReport(Callback):
    """Configured under hydra.callbacks in conf/train.yaml; does nothing for single runs."""

    def __init__(self) -> None:
        self._lock: int | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Before any job starts and before the sweep dir is written: check the sweeper's storage, take the
        sweep dir's lock (one sweep per sweep dir) and record the swept keys, which name each job's dir.
        With logger=mlflow it opens the sweep's parent run. A refusal (a busy sweep dir, a bad storage, MLflow
        missing or unreachable) is one paragraph and exit status 2 (Hydra would only warn about a callback's
        error)."""
        from cnnlab.engine.mlflow_log import start_sweep
        from cnnlab.rundir.lock import lock_sweep_dir
        from cnnlab.sweep.jobs import swept_keys, write_swept_keys
        from cnnlab.sweep.storage import check_storage_url

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            storage = OmegaConf.select(config, "hydra.sweeper.storage")
            if storage:
                check_storage_url(str(storage))
            try:
                self._lock = lock_sweep_dir(sweep_dir)
                keys = swept_keys(config.hydra)
                write_swept_keys(sweep_dir, keys)
            except OSError as error:
                raise unusable_path(error, {"hydra.sweep.dir": sweep_dir}) or error from None
            start_sweep(config, sweep_dir, keys)  # logger=mlflow (missing, unreachable: refused here)
        except CnnlabError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            self._report(config, sweep_dir, Path(str(config.paths.output_dir)))
        except Exception as error:  # noqa: BLE001 - Hydra would only warn, and the sweep would exit 0
            print(
                f"error: the report of {sweep_dir} could not be written ({said(error)}); every job's run dir "
                f"is complete. Write it again with: python -m cnnlab.report {sweep_dir}",
                file=sys.stderr,
            )
            sys.exit(1)
        finally:
            if self._lock is not None:
                os.close(self._lock)  # the sweep dir is free for the next sweep
                self._lock = None

    def _report(self, config: DictConfig, sweep_dir: Path, output_dir: Path) -> None:
        from cnnlab.compare.tables import (  # pandas, matplotlib: paid by sweeps only
            figure_names,
            write_report,
        )
        from cnnlab.compare.tensorboard_root import experiment_root, refresh_or_warn
        from cnnlab.engine.mlflow_log import end_sweep

        refresh_or_warn(experiment_root(sweep_dir, output_dir))
        try:
            report = write_report([sweep_dir])
        except FileNotFoundError:
            log.warning("no finished run under %s: no report written", sweep_dir)
            end_sweep(config, sweep_dir, [], failed=True)
            return
        failing = bool(report.runs["status"].isin(FAILING).any())
        reported = ["summary.csv", "summary_by_config.csv", "summary.md", *figure_names(report)]
        end_sweep(config, sweep_dir, reported, failing)
        log.info("sweep report: %s/summary.md, summary.csv, %s", sweep_dir, ", ".join(figure_names(report)))
        log.info("compare in TensorBoard: tensorboard --logdir %s", sweep_dir)
        if failing:
            print("\n".join(failure_lines(report)), file=sys.stderr)
            sys.exit(1)
