"""A grid from Python, `cnnlab.sweep({key: values}, overrides)`: the command line's multirun in a child
process (so it skips finished jobs, uses the same launchers and writes the same report), its lines
shown as they come, its summary.csv returned."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.api import compose_train
from cnnlab.config.overrides import quoted_value
from cnnlab.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class SweepResult:
    """A sweep dir and its summary.csv (one row per job: its swept values, status, metrics)."""

    sweep_dir: Path
    table: pd.DataFrame
    returncode: int


def sweep(
    params: Mapping[str, Sequence[Any] | str],
    overrides: Sequence[str] = (),
    sweep_dir: str | Path | None = None,
    n_jobs: int = 1,
) -> SweepResult:
    """Run the grid of `params` (key -> values, or a Hydra sweep such as "range(1,4)") on top of
    `overrides`, as `python -m cnnlab.train -m ...` in a child process whose lines show here; n_jobs > 1
    runs jobs side by side (joblib). Rerunning with the same sweep_dir skips the jobs already done.
    Returns the sweep's summary.csv; a job that failed is a row with its status, not an exception."""
    if not params:
        raise ConfigError(
            "sweep(params={}) sweeps nothing: give key -> values, e.g. {'optimizer.lr': [0.1, 0.01]}."
        )
    swept = [f"{key}={_sweep_values(key, values)}" for key, values in params.items()]
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ConfigError(f"n_jobs={n_jobs!r} is not allowed: it must be an integer >= 1 (jobs at a time).")
    sweep_dir = Path(sweep_dir or compose_train(list(overrides)).hydra.sweep.dir).absolute()
    launcher = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"] if n_jobs > 1 else []
    command = [sys.executable, "-m", "cnnlab.train", "-m", *overrides, *swept, *launcher]
    command.append(f"hydra.sweep.dir={quoted_value(str(sweep_dir))}")
    returncode, said = _run_showing_lines(command)
    import pandas as pd  # on use: a training process, which imports this package, never imports pandas

    table_csv = sweep_dir / "summary.csv"
    if returncode == 2 or not table_csv.is_file():
        raise ConfigError(
            f"the sweep stopped before its report (exit status {returncode}): {said.strip() or 'no output'}"
        )
    return SweepResult(sweep_dir, pd.read_csv(table_csv, float_precision="round_trip"), returncode)


def _sweep_values(key: str, values: Sequence[Any] | str) -> str:
    if isinstance(values, str):
        return values
    if not isinstance(values, Sequence) or not values:
        raise ConfigError(
            f"sweep values for {key}: {values!r} is not a non-empty list; give the values to try, "
            f"e.g. {{{key!r}: [0.1, 0.01]}}, or a Hydra sweep string such as 'range(1,4)'."
        )
    return ",".join(
        quoted_value(str(value).lower() if isinstance(value, bool) else str(value)) for value in values
    )


def _run_showing_lines(command: list[str]) -> tuple[int, str]:
    """Runs command, printing its lines as they come; its exit status and its last error paragraph.
    An interrupt (Ctrl-C, Jupyter's stop button) goes on to the child, which checkpoints its job."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    said = ""
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
            if line.startswith("error:") or said:
                said += line
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        process.wait()
        raise
    return process.wait(), said
