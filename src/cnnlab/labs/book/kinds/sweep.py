"""The `sweep` analysis: every job of a sweep, a row each with its largest fall between epochs, their
curves (or the metric against the swept value beyond MAX_CURVE_RUNS jobs), the best and worst, each
key's effect, jobs at chance or diverged. Spec: {kind: sweep, sweep: <folder>, name: <job name>}."""

from __future__ import annotations

import math
from typing import Any

from cnnlab.compare.collect import collect, varying_keys
from cnnlab.compare.plots import MAX_CURVE_RUNS, plot_metric_vs_value, swept_axis
from cnnlab.labs.book.artefacts import LabArtefacts, run_value
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.figures import curve, plot_curves
from cnnlab.labs.book.formatting import fmt_value, seconds
from cnnlab.labs.book.kind import Kind, fetched
from cnnlab.labs.book.readings import SCORE_NAMES, metric_text

# A job whose final score ends this many points (accuracy) or dB (PSNR) below its best lost ground.
SLIP = 1.0


def _job_label(run: CollectedRun, keys: list[str]) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={run.overrides.get(k, '-')}" for k in keys) or run.path.name


def _fall(score: str, value: float) -> str:
    """The largest epoch-to-epoch fall of the score: how unsteady a job learned (a loss has none)."""
    if score.endswith("_psnr"):
        return f"{value:.2f} dB"
    return fmt_value(value, score, "points") if score.endswith("_acc") else "-"


def _effects(keys: list[str], jobs: list[tuple[str, CollectedRun]], score: str) -> str:
    """Each swept key's effect: the final score averaged over the jobs at each of its values."""
    parts = []
    for key in keys:
        finals: dict[str, list[float]] = {}
        for _, job in jobs:
            finals.setdefault(str(job.overrides.get(key, "-")), []).append(float(job.metrics[score].iloc[-1]))
        means = ", ".join(f"{value} {metric_text(score, sum(f) / len(f))}" for value, f in finals.items())
        parts.append(f"{key.rsplit('.', 1)[-1]} {means}")
    return f"Final {SCORE_NAMES[score]} averaged over the other keys' values, by {'; by '.join(parts)}."


def _course(jobs: list[tuple[str, CollectedRun]], score: str) -> list[str]:
    """How the jobs got to their final score: which lost ground after their best epoch (with their
    largest fall, a sign of unsteady learning) and which are still at their best when the budget ends."""
    if score.endswith("loss"):
        return []
    scale, unit = (100, "points") if score.endswith("_acc") else (1, "dB")
    out, rising = [], []
    for label, job in jobs:
        series = job.metrics.set_index("epoch")[score].dropna()
        if len(series) < 2:
            continue
        best, last = series.idxmax(), series.index[-1]
        slip = (series[best] - series[last]) * scale
        if slip > SLIP:
            fall = run_value(job, f"maxfall.{score}") * scale
            out.append(
                f"{label} ends {slip:.2f} {unit} below its best ({metric_text(score, series[best])} at epoch "
                f"{best}), with a fall of up to {fall:.2f} {unit} from one epoch to the next."
            )
        elif best == last:
            rising.append(label)
    others = [label for label, _ in jobs if label not in rising]
    if rising and not others:
        out.append("Every job reaches a new high in its last epoch: all still rising when the budget ends.")
    elif 2 * len(rising) > len(jobs):
        out.append(
            f"All jobs but {', '.join(others)} reach a new high in their last epoch, still rising when the "
            "budget ends."
        )
    elif rising:
        names = ", ".join(rising)
        out.append(f"At a new high in their last epoch, still rising when the budget ends: {names}.")
    return out


def sweep(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Every job of a sweep: one row each, their curves, the best and worst, and jobs at chance."""
    block = Block()
    jobs = fetched(art.sweep, spec["sweep"], block)
    if jobs is None:
        return block
    if spec.get("name"):
        jobs = [j for j in jobs if j.name == spec["name"]]
    keys = varying_keys([j.overrides for j in jobs])
    labelled = [(_job_label(j, keys), j) for j in jobs]
    score = next((j.score for j in jobs if j.score), None) or "train_loss"
    rows = []
    block.lines += [f"Sweep `{spec['sweep']}`, {len(jobs)} jobs:", ""]
    for label, job in labelled:
        metrics = job.metrics.set_index("epoch")
        wall = seconds(float(job.summary.get("wall_s", math.nan)))
        if metrics.empty:  # diverged in its first epoch
            rows.append([label, str(job.summary.get("status")), "0", "-", "-", "-", "-", wall])
            continue
        best = metrics[score].idxmax()
        rows.append(
            [
                label,
                str(job.summary.get("status")),
                str(len(metrics)),
                f"{metrics['train_loss'].iloc[-1]:.3g}",
                metric_text(score, metrics[score].iloc[-1]),
                f"{metric_text(score, metrics[score][best])} (epoch {best})",
                _fall(score, run_value(job, f"maxfall.{score}")),
                wall,
            ]
        )
    block.lines += table(
        [
            "job",
            "status",
            "epochs",
            "final train loss",
            f"final {SCORE_NAMES[score]}",
            "best (epoch)",
            "largest fall between epochs",
            "wall time",
        ],
        rows,
    )
    trained = [(label, j) for label, j in labelled if not j.metrics.empty]
    path, link = figures.next()
    if len(trained) > MAX_CURVE_RUNS:
        report = collect([j.path for _, j in trained])
        path.parent.mkdir(parents=True, exist_ok=True)
        plot_metric_vs_value(report, path)
        monitor = str(trained[0][1].summary.get("monitor"))
        what = f"best and final {SCORE_NAMES.get(monitor, monitor)} of each job against {swept_axis(report)}"
        block.lines += ["", f"![{what}, sweep {spec['sweep']}]({link})"]
    else:
        drawn = [curve(label, [j]) for label, j in labelled if not j.metrics.empty or j.diverged]
        plot_curves(drawn, path, f"sweep {spec['sweep']}")
        block.lines += ["", f"![curves of the sweep {spec['sweep']}]({link})"]
        if any(c.diverged_at for c in drawn):
            block.lines += ["", "A dotted line and an x mark the epoch a job diverged in."]
    ranked = sorted(trained, key=lambda lj: -float(lj[1].metrics[score].iloc[-1]))
    if ranked:
        (top_label, top), (low_label, low) = ranked[0], ranked[-1]
        counted = f"{len(ranked)} jobs" + ("" if len(ranked) == len(jobs) else " with a finished epoch")
        block.reading.append(
            f"Of the {counted} of `{spec['sweep']}`, {top_label} ends highest "
            f"({SCORE_NAMES[score]} {metric_text(score, top.metrics[score].iloc[-1])}) "
            f"and {low_label} lowest ({metric_text(score, low.metrics[score].iloc[-1])})."
        )
        block.headline = (
            f"best {top_label}: {SCORE_NAMES[score]} {metric_text(score, top.metrics[score].iloc[-1])}"
        )
    if len(keys) > 1 and len(ranked) == len(jobs):
        block.reading.append(_effects(keys, trained, score))
    block.reading += _course(trained, score)
    at_chance = [label for label, j in labelled if j.at_chance(score)]
    if at_chance:
        block.reading.append(f"At chance level: {', '.join(at_chance)}.")
    diverged = [
        f"{label} ({str(j.summary.get('message', '')).split(';')[0] or 'no message'})"
        for label, j in labelled
        if j.diverged
    ]
    if diverged:
        block.reading.append(f"Diverged: {', '.join(diverged)}.")
    return block


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [spec["sweep"]]


KIND = Kind("sweep", sweep, reads)
