"""The `sweep` analysis: every job of a sweep, a row each with its largest fall between epochs, their
curves (or the metric against the swept value beyond MAX_CURVE_RUNS jobs), the best and worst, each
key's effect, jobs at chance or diverged. Spec: {kind: sweep, sweep: <folder>, name: <job name>}."""

from __future__ import annotations

import math
from typing import Any

from cnnlab.compare.collect import collect, varying_keys
from cnnlab.compare.plots import MAX_CURVE_RUNS, plot_metric_vs_value, swept_axis
from cnnlab.labs.book.artefacts import LabArtefacts, Missing, run_value, selected_value
from cnnlab.labs.book.block import Block, Figures, table
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.figures import curve, plot_curves
from cnnlab.labs.book.formatting import fmt_value, seconds
from cnnlab.labs.book.kind import Kind, fetched
from cnnlab.labs.book.readings import SCORE_NAMES, metric_text
from cnnlab.labs.book.ties import RULE_VALUES, lead, monitor_of

# A job whose final score ends this many points (accuracy) or dB (PSNR) below its best lost ground.
SLIP = 1.0
# A job whose last learning rate is at most this fraction of its peak was annealed: its schedule, not a
# cut-off budget, ended its rise, so a best last epoch does not mean it was still rising.
ANNEALED = 0.05


# A preset, not a hyper-parameter: a sweep over several presets (vu3a q3.17's two nets) is ranked and
# its keys' effects averaged within each preset, never across different nets.
PRESET = "experiment"


def _job_label(run: CollectedRun, keys: list[str]) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={run.overrides.get(k, '-')}" for k in keys) or run.path.name


def _ranked_by(jobs: list[CollectedRun]) -> str:
    """The metric the sweep's pick ranks its jobs by: their `monitor` (artefacts.selected_value), where
    the jobs record it and their metrics.csv has it; else the run's own score."""
    for job in jobs:
        monitor = monitor_of(job)
        if monitor and monitor in job.metrics and job.metrics[monitor].notna().any():
            return monitor
    return next((j.score for j in jobs if j.score), None) or "train_loss"


def _presets(jobs: list[tuple[str, CollectedRun]], keys: list[str]) -> list[tuple[str, list]]:
    """The jobs of each preset (`experiment=`) when several are swept, each job labelled by the other
    keys; one group of all jobs otherwise."""
    if PRESET not in keys:
        return [("", jobs)]
    others = [k for k in keys if k != PRESET]
    groups: dict[str, list[tuple[str, CollectedRun]]] = {}
    for _, job in jobs:
        groups.setdefault(str(job.overrides.get(PRESET, "-")), []).append((_job_label(job, others), job))
    return [(f"{PRESET}={preset}", group) for preset, group in groups.items()]


def _fall(score: str, value: float) -> str:
    """The largest epoch-to-epoch fall of the score: how unsteady a job learned (a loss has none)."""
    if score.endswith("_psnr"):
        return f"{value:.2f} dB"
    return fmt_value(value, score, "points") if score.endswith("_acc") else "-"


def _effects(keys: list[str], jobs: list[tuple[str, CollectedRun]], score: str, among: str = "") -> str:
    """Each swept key's effect: the final score averaged over the jobs at each of its values (of one
    preset: `among`)."""
    parts = []
    for key in keys:
        finals: dict[str, list[float]] = {}
        for _, job in jobs:
            finals.setdefault(str(job.overrides.get(key, "-")), []).append(float(job.metrics[score].iloc[-1]))
        means = ", ".join(f"{value} {metric_text(score, sum(f) / len(f))}" for value, f in finals.items())
        parts.append(f"{key.rsplit('.', 1)[-1]} {means}")
    where = f" of the jobs with {among}" if among else ""
    return (
        f"Final {SCORE_NAMES[score]}{where} averaged over the other keys' values, by {'; by '.join(parts)}."
    )


def _course(jobs: list[tuple[str, CollectedRun]], score: str, named: bool = False) -> list[str]:
    """How the jobs got to their final score: which lost ground after their best epoch (with their
    largest fall, a sign of unsteady learning) and which are still at their best when the budget ends,
    rising or at the annealed end of their schedule (a diverged job is neither, and never lets the
    reading say "every job");
    `named`: the score is named (where the table shows another accuracy beside it)."""
    if score.endswith("loss"):
        return []
    scale, unit = (100, "points") if score.endswith("_acc") else (1, "dB")
    out, rising, annealed = [], [], []
    for label, job in jobs:
        series = job.metrics.set_index("epoch")[score].dropna() if score in job.metrics else []
        if len(series) < 2 or job.diverged:  # a diverged job's last epoch is where it broke, not a high
            continue
        best, last = series.idxmax(), series.index[-1]
        slip = (series[best] - series[last]) * scale
        if slip > SLIP:
            fall = run_value(job, f"maxfall.{score}") * scale
            out.append(
                f"{label} ends {slip:.2f} {unit} below its best{' ' + SCORE_NAMES[score] if named else ''} "
                f"({metric_text(score, series[best])} at epoch "
                f"{best}), with a fall of up to {fall:.2f} {unit} from one epoch to the next."
            )
        elif best == last:
            (annealed if _annealed(job) else rising).append(label)
    others = [label for label, _ in jobs if label not in rising]
    if rising and not others:
        out.append("Every job reaches a new high in its last epoch: all still rising when the budget ends.")
    elif 2 * len(rising) > len(jobs) and not annealed:
        out.append(
            f"All jobs but {', '.join(others)} reach a new high in their last epoch, still rising when the "
            "budget ends."
        )
    elif rising:
        names = ", ".join(rising)
        out.append(f"At a new high in their last epoch, still rising when the budget ends: {names}.")
    if annealed:
        out.append(
            f"At their best in their last epoch, where their schedule has annealed the learning rate to "
            f"{ANNEALED:.0%} of its peak or less, so the schedule's end, not a cut-off, ends their rise: "
            f"{', '.join(annealed)}."
        )
    return out


def _annealed(job: CollectedRun) -> bool:
    """Whether the job's schedule brought its learning rate down to ANNEALED of its peak by its last epoch."""
    lr = job.metrics["lr"].dropna() if "lr" in job.metrics else []
    return len(lr) > 0 and lr.iloc[-1] <= ANNEALED * lr.max()


def sweep(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Every job of a sweep: one row each, their curves, the best and worst, and jobs at chance. Jobs are
    ranked by the metric the sweep's pick ranks them by (their `monitor`): the table, the figure, the
    reading and the pick (`select:`) read the same metric; test accuracy, where another metric picks,
    is shown beside it and never ranks."""
    block = Block()
    jobs = fetched(art.sweep, spec["sweep"], block)
    if jobs is None:
        return block
    if spec.get("name"):
        jobs = [j for j in jobs if j.name == spec["name"]]
    keys = varying_keys([j.overrides for j in jobs])
    labelled = [(_job_label(j, keys), j) for j in jobs]
    score = _ranked_by(jobs)
    # the test figure each job reports, beside the metric that ranks it when that is another one
    test = "test_acc" if score != "test_acc" and any("test_acc" in j.metrics for j in jobs) else None
    rule = art.recipe(spec["sweep"]).select
    rows = []
    intro = f"Sweep `{spec['sweep']}`, {len(jobs)} jobs"
    if test:
        intro += (
            f", ranked by {SCORE_NAMES[score]} as its pick is (`select: {rule}`); their "
            f"{SCORE_NAMES[test]} is shown beside it and chooses nothing"
        )
    block.lines += [f"{intro}:", ""]
    for label, job in labelled:
        metrics = job.metrics.set_index("epoch")
        wall = seconds(float(job.summary.get("wall_s", math.nan)))
        if metrics.empty:  # diverged in its first epoch
            rows.append(
                [label, str(job.summary.get("status")), "0", "-", "-", "-", "-", *["-"][: bool(test)], wall]
            )
            continue
        best = metrics[score].idxmax()
        reported = [metric_text(test, metrics[test].iloc[-1])] if test else []
        rows.append(
            [
                label,
                str(job.summary.get("status")),
                str(len(metrics)),
                f"{metrics['train_loss'].iloc[-1]:.3g}",
                metric_text(score, metrics[score].iloc[-1]),
                f"{metric_text(score, metrics[score][best])} (epoch {best})",
                _fall(score, run_value(job, f"maxfall.{score}")),
                *reported,
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
            *([f"final {SCORE_NAMES[test]}"] if test else []),
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
    heads = []
    for preset, group in _presets(trained, keys):
        of_preset = [j for j in jobs if not preset or f"{PRESET}={j.overrides.get(PRESET, '-')}" == preset]
        heads += _ranking(spec["sweep"], preset, group, len(of_preset), score, rule, block)
        hyper = [k for k in keys if k != PRESET]
        if len(hyper) > 1 and len(group) == len(of_preset):
            block.reading.append(_effects(hyper, group, score, preset))
    if heads:
        block.headline = "; ".join(heads)
    if spec.get("seeds"):
        block.reading += _lead(art, spec, {j.path: label for label, j in labelled})
    block.reading += _course(labelled, score, named=bool(test))
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


def _ranking(
    folder: str,
    preset: str,
    group: list[tuple[str, CollectedRun]],
    total: int,
    score: str,
    rule: str,
    block: Block,
) -> list[str]:
    """The highest and lowest job of one preset's jobs by their final `score`, the sweep's pick where its
    rule (best epoch) picks another, and the headline: the pick with its final score."""
    if not group:
        return []
    ranked = sorted(group, key=lambda lj: -float(lj[1].metrics[score].iloc[-1]))
    (top_label, top), (low_label, low) = ranked[0], ranked[-1]
    finished = "" if len(group) == total else " with a finished epoch"
    whose = f"with {preset} in `{folder}`" if preset else f"of `{folder}`"
    block.reading.append(
        f"Of the {len(ranked)} jobs{finished} {whose}, {top_label} ends highest "
        f"({SCORE_NAMES[score]} {metric_text(score, top.metrics[score].iloc[-1])}) "
        f"and {low_label} lowest ({metric_text(score, low.metrics[score].iloc[-1])})."
    )
    scored = [(label, j) for label, j in group if selected_value(j, rule) is not None]
    label, pick = max(scored, key=lambda lj: selected_value(lj[1], rule)) if scored else (top_label, top)
    if pick is not top:
        epoch = f" at epoch {pick.summary['best']['epoch']}" if rule == "best" else ""
        block.reading.append(
            f"The sweep's pick (`select: {rule}`), by {RULE_VALUES[rule].format(metric=SCORE_NAMES[score])}, "
            f"is {label} ({metric_text(score, selected_value(pick, rule))}{epoch})."
        )
    named = f"{preset} {label}" if preset else label
    return [f"best {named}: {SCORE_NAMES[score]} {metric_text(score, pick.metrics[score].iloc[-1])}"]


def _lead(art: LabArtefacts, spec: dict[str, Any], labels: dict) -> list[str]:
    """Whether the pick leads its runner-up by more than the seed spread of the seeded recipe `seeds:`
    (a grid trains one seed per cell, so a smaller lead is a tie); nothing while either is missing."""
    try:
        picked = lead(art, spec["sweep"], spec["seeds"], spec.get("name"))
    except Missing:
        return []
    return [f"{picked.text(lambda job: labels[job.path])}."] if picked else []


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads: the sweep, and the seeded recipe its ties are judged by."""
    return [spec["sweep"], *([spec["seeds"]] if spec.get("seeds") else [])]


KIND = Kind("sweep", sweep, reads)
