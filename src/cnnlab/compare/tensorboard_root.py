"""The one HParams experiment summary of a log root (outputs/): the union of the keys of every run
under it, so `tensorboard --logdir outputs` shows every sweep's and single run's keys as columns.

TensorBoard uses the first experiment summary it meets and its default (Rust) loader meets them in
no fixed order, so a root holds the only one: this refresh deletes those left below it (e.g. at the
sweep roots of older versions). `make tensorboard`, the end of every sweep and the end of every
single run inside the root refresh it (`python -m cnnlab.tensorboard_root` is the command); a live
TensorBoard reads the new columns when restarted.
"""

from __future__ import annotations

import logging
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import metadata

from cnnlab.engine.tensorboard_log import EVENTS_GLOB, write_experiment
from cnnlab.rundir.files import SUMMARY, find_runs

log = logging.getLogger("cnnlab.compare.tensorboard_root")


def experiment_kind(events_file: Path) -> str:
    """`only` for a file holding an experiment summary and nothing else, `mixed` for one that opens
    with it and goes on (torch's add_hparams: an experiment and a session), else `none`; reads no
    further than its second tag."""
    tags = (value.tag for event in EventFileLoader(str(events_file)).Load() for value in event.summary.value)
    if next(tags, None) != metadata.EXPERIMENT_TAG:
        return "none"
    return "only" if all(tag == metadata.EXPERIMENT_TAG for tag in tags) else "mixed"


def nested_experiments(root: Path) -> dict[str, list[Path]]:
    """The event files below root, outside run dirs (whose own files are never touched), that open
    with an experiment summary, by experiment_kind."""
    found: dict[str, list[Path]] = {"only": [], "mixed": [], "none": []}
    for path in sorted(root.rglob(EVENTS_GLOB)):
        if path.parent != root and not (path.parent / SUMMARY).is_file():
            found[experiment_kind(path)].append(path)
    return found


def refresh_root_experiment(root: Path) -> list[Path]:
    """Write root's experiment summary for every run dir below it; returns those run dirs."""
    nested = nested_experiments(root)
    for path in nested["only"]:
        path.unlink()
        log.info("removed %s: the experiment summary at %s replaces it", path, root)
    if nested["mixed"]:
        log.warning(
            "%d event files below %s hold an experiment summary beside a run's session (runs logged with "
            "torch's add_hparams, e.g. %s); TensorBoard may take its columns from one of them: move those "
            "runs out of %s or train them again",
            len(nested["mixed"]),
            root,
            nested["mixed"][0],
            root,
        )
    runs = find_runs([root])
    write_experiment(root, runs)
    return runs


def experiment_root(sweep_dir: Path, output_dir: Path) -> Path:
    """The root whose summary covers a sweep: output_dir when the sweep lies inside it, else the sweep dir."""
    return output_dir if sweep_dir.resolve().is_relative_to(output_dir.resolve()) else sweep_dir


def refresh_after_run(run_dir: Path, output_dir: Path) -> None:
    """After a single run inside output_dir, its keys join the root's columns; a failure here costs the
    HParams columns only, never the run, so it is a warning."""
    run_dir, output_dir = run_dir.resolve(), output_dir.resolve()
    if run_dir == output_dir or not run_dir.is_relative_to(output_dir):
        return
    refresh_or_warn(output_dir)


def refresh_or_warn(root: Path) -> None:
    """refresh_root_experiment, after runs whose own files are written: a failure costs the HParams columns
    only, so it is a warning."""
    try:
        refresh_root_experiment(root)
    except Exception as error:  # noqa: BLE001 - the runs' own files are written; report and go on
        log.warning("could not refresh the HParams summary of %s: %s", root, error)
