"""The analyses a section of an experiments README runs on its committed artefacts: each returns the
tables and figures it draws and a reading that states only what those numbers show."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from cnnlab.labbook import seeded_runs
from cnnlab.labbook.artefacts import LabArtefacts, Missing, Run, run_value, selected_value
from cnnlab.labbook.block import NOT_RUN, Block, Figures, table
from cnnlab.labbook.figures import curve, draw_grid, plot_curves
from cnnlab.labbook.formatting import fmt_value, is_percent, num, pct, seconds, with_unit
from cnnlab.labbook.readings import SCORE_NAMES, loss_reading, metric_text
from cnnlab.labbook.seeds import Spread, spread_text
from cnnlab.labbook.welch import expect_verdict
from cnnlab.report import MAX_CURVE_RUNS, collect, plot_metric_vs_value, swept_axis, varying_keys

# A job whose final score ends this many points (accuracy) or dB (PSNR) below its best lost ground.
SLIP = 1.0


def _curve_reading(label: str, run: Run) -> list[str]:
    """Final and best score, chance level, and whether the evaluation loss turns up again."""
    score = run.score
    if score is None:
        return []
    series = run.metrics.set_index("epoch")[score].dropna()
    epochs = len(run.metrics)
    final = metric_text(score, series.iloc[-1])
    if run.at_chance(score):
        out = [
            f"{label} stays at chance level: {SCORE_NAMES[score]} {final} after {epochs} epochs, against "
            f"{run.chance:.0f}% for guessing among {run.num_classes} classes."
        ]
    else:
        best = series.idxmax() if not score.endswith("loss") else series.idxmin()
        out = [
            f"{label}: {SCORE_NAMES[score]} {final} after {epochs} epochs "
            f"(highest {metric_text(score, series[best])} "
            f"at epoch {best})."
        ]
    return out + loss_reading(run.metrics, run.eval_split)


def _ranking(labelled: list[tuple[str, Run]]) -> str | None:
    """The runs ordered by their final score, with the gap in points (or dB) to the next."""
    scores = {r.score for _, r in labelled}
    if len(labelled) < 2 or len(scores) != 1 or None in scores:
        return None
    score = scores.pop()
    ranked = sorted(labelled, key=lambda lr: -float(lr[1].metrics[score].iloc[-1]))
    parts = []
    for i, (label, run) in enumerate(ranked):
        value = float(run.metrics[score].iloc[-1])
        if i:
            before = float(ranked[i - 1][1].metrics[score].iloc[-1])
            gap = (before - value) * (100 if score.endswith("acc") else 1)
            unit = "points" if score.endswith("acc") else "dB"
            if round(gap, 2) == 0:
                parts.append(f"= {label} {metric_text(score, value)}")
            else:
                parts.append(
                    f"> {label} {metric_text(score, value)} ({gap:.2f} {unit} below {ranked[i - 1][0]})"
                )
        else:
            parts.append(f"{label} {metric_text(score, value)}")
    return f"Final {SCORE_NAMES[score]}: " + " ".join(parts) + "."


def _found(fetch: Any, name: str, block: Block) -> Any:
    """fetch(name), or None with the name noted in the block as missing."""
    try:
        return fetch(name)
    except Missing:
        block.missing.append(name)
        return None


def _present(art: LabArtefacts, folders: list[str], block: Block) -> list[tuple[str, list[Run]]]:
    """The landed runs (one, or a seeded recipe's seeds) of these folders that are in experiments/;
    the others are noted as missing."""
    found = [(folder, _found(art.trained, folder, block)) for folder in folders]
    return [(folder, runs) for folder, runs in found if runs is not None]


def _row(label: str, run: Run) -> list[str]:
    """One run's row: epochs, final train accuracy, final and best score, lowest and final eval loss,
    parameters, wall time and device."""
    score = run.score or "train_loss"
    train = "train_" + score.split("_", 1)[1]
    loss = f"{run.eval_split}_loss"
    metrics = run.metrics.set_index("epoch")
    best = metrics[score].idxmin() if score == "train_loss" else metrics[score].idxmax()
    low = metrics[loss].idxmin() if loss in metrics and metrics[loss].notna().any() else None
    return [
        label,
        str(len(metrics)),
        metric_text(train, metrics[train].iloc[-1]) if train in metrics else "",
        f"{SCORE_NAMES[score]} {metric_text(score, metrics[score].iloc[-1])}",
        f"{metric_text(score, metrics[score][best])} (epoch {best})",
        f"{metrics[loss][low]:.3g} (epoch {low})" if low is not None else "",
        f"{metrics[loss].iloc[-1]:.3g}" if low is not None else "",
        f"{run.summary.get('n_params', 0):,}",
        seconds(float(run.summary.get("wall_s", math.nan))),
        str(run.summary.get("device", "")),
    ]


def runs(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Training runs: a table, curves (unless `figure: false`, where another section draws them) and a
    reading per run; with `compare: true` (runs whose own sections hold their tables) only the joint
    figure and the ranking, with `table: true` a compact table too."""
    block = Block()
    present = _present(art, spec["runs"], block)
    if not present:
        return block
    if any(art.recipe(folder).seeds for folder, _ in present):
        return _seeded(art, spec, figures, present, block)
    labelled = [(folder, found[0]) for folder, found in present]
    if spec.get("compare"):
        if len(labelled) < 2:  # one run alone is its own section's figure; drawing it again repeats it
            block.reading.append(f"Nothing to compare yet, {NOT_RUN}: {', '.join(block.missing)}.")
            return block
        if spec.get("table"):
            block.lines += table(
                ["run", "epochs", "final train score", "final score", "best (epoch)"],
                [_row(f, r)[:5] for f, r in labelled],
            )
            block.lines.append("")
        path, link = figures.next()
        plot_curves([curve(f, [r]) for f, r in labelled], path, ", ".join(label for label, _ in labelled))
        block.lines += [f"![curves of {', '.join(label for label, _ in labelled)}]({link})"]
        block.reading += [r for r in [_ranking(labelled)] if r]
        if block.missing:
            block.reading.append(f"Not in the figure, {NOT_RUN}: {', '.join(block.missing)}.")
        return block
    rows = [_row(label, run) for label, run in labelled]
    block.lines += table(
        [
            "run",
            "epochs",
            "final train score",
            "final score",
            "best (epoch)",
            "lowest eval loss (epoch)",
            "final eval loss",
            "params",
            "wall time",
            "device",
        ],
        rows,
    )
    if spec.get("figure", True):
        path, link = figures.next()
        plot_curves([curve(f, [r]) for f, r in labelled], path, ", ".join(label for label, _ in labelled))
        block.lines += ["", f"![curves of {', '.join(label for label, _ in labelled)}]({link})"]
    for label, run in labelled:
        block.reading += _curve_reading(label, run)
    ranking = _ranking(labelled)
    if ranking:
        block.reading.append(ranking)
    block.headline = "; ".join(
        f"{label} {SCORE_NAMES[r.score]} {metric_text(r.score, r.metrics[r.score].iloc[-1])}"
        for label, r in labelled
        if r.score
    )
    return block


def _seeded(
    art: LabArtefacts,
    spec: dict[str, Any],
    figures: Figures,
    present: list[tuple[str, list[Run]]],
    block: Block,
) -> Block:
    """`runs` over recipes trained with seeds: mean ± std, n and stop epochs per recipe, curves as a mean
    line with a min-max band (figures.BAND), a reading per recipe and the ranking by means with each gap's
    Welch test; with `compare: true` the joint figure (and `table: true` the rows) only."""
    groups, unscored = seeded_runs.scored([(art.recipe(folder), found) for folder, found in present])
    block.missing += unscored
    if not groups:
        return block
    folders = ", ".join(recipe.folder for recipe, _ in groups)
    compare = spec.get("compare")
    if compare and len(groups) < 2:
        block.reading.append(f"Nothing to compare yet, {NOT_RUN}: {', '.join(block.missing)}.")
        return block
    if not compare or spec.get("table"):
        block.lines += [*seeded_runs.rows(groups), ""]
    if spec.get("figure", True):
        path, link = figures.next()
        plot_curves([curve(recipe.caption, found) for recipe, found in groups], path, folders)
        block.lines += [f"![curves of {folders}]({link})"]
    if not compare:  # a compared pair's verdict is its section's `expect`, tested over the seeds
        for group in groups:
            block.reading += seeded_runs.reading(group)
        block.reading += [r for r in [seeded_runs.ranking(groups)] if r]
    if compare and block.missing:
        block.reading.append(f"Not in the figure, {NOT_RUN}: {', '.join(block.missing)}.")
    if not compare:
        block.headline = "; ".join(
            f"{recipe.folder} {SCORE_NAMES[seeded_runs.score_of(found)]} "
            f"{spread_text(seeded_runs.final((recipe, found)), 'final.' + seeded_runs.score_of(found))}"
            for recipe, found in groups
        )
    return block


def _job_label(run: Run, keys: list[str]) -> str:
    return " ".join(f"{k.rsplit('.', 1)[-1]}={run.overrides.get(k, '-')}" for k in keys) or run.path.name


def _fall(score: str, value: float) -> str:
    """The largest epoch-to-epoch fall of the score: how unsteady a job learned (a loss has none)."""
    if score.endswith("_psnr"):
        return f"{value:.2f} dB"
    return fmt_value(value, score, "points") if score.endswith("_acc") else "-"


def _effects(keys: list[str], jobs: list[tuple[str, Run]], score: str) -> str:
    """Each swept key's effect: the final score averaged over the jobs at each of its values."""
    parts = []
    for key in keys:
        finals: dict[str, list[float]] = {}
        for _, job in jobs:
            finals.setdefault(str(job.overrides.get(key, "-")), []).append(float(job.metrics[score].iloc[-1]))
        means = ", ".join(f"{value} {metric_text(score, sum(f) / len(f))}" for value, f in finals.items())
        parts.append(f"{key.rsplit('.', 1)[-1]} {means}")
    return f"Final {SCORE_NAMES[score]} averaged over the other keys' values, by {'; by '.join(parts)}."


def _course(jobs: list[tuple[str, Run]], score: str) -> list[str]:
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
    jobs = _found(art.sweep, spec["sweep"], block)
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
        drawn = [curve(label, [j]) for label, j in labelled if not j.metrics.empty or _diverged(j)]
        plot_curves(drawn, path, f"sweep {spec['sweep']}")
        block.lines += ["", f"![curves of the sweep {spec['sweep']}]({link})"]
        if any(c.diverged_at is not None for c in drawn):
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
        if _diverged(j)
    ]
    if diverged:
        block.reading.append(f"Diverged: {', '.join(diverged)}.")
    return block


def _diverged(job: Run) -> bool:
    return job.summary.get("status") == "diverged"


def initial(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """The error of the untrained net (summary.json `initial`) against the one after epoch 1; over the
    seeds of a seeded recipe, as mean ± std."""
    block = Block()
    try:
        found = art.trained(spec["run"])
        starts = [r.summary["initial"] for r in found]
    except (Missing, KeyError):
        block.missing.append(spec["run"])
        return block
    run = found[0]
    firsts = [r.metrics.iloc[0] for r in found]
    wanted = len(art.recipe(spec["run"]).seeds)

    def error(rows: list[Any], key: str) -> str:
        if not wanted:
            return pct(1 - rows[0][key])
        return spread_text(Spread(tuple(1 - float(r[key]) for r in rows), wanted), fmt="pct")

    def loss(rows: list[Any], key: str) -> str:
        if not wanted:
            return f"{rows[0][key]:.3f}"
        return spread_text(Spread(tuple(float(r[key]) for r in rows), wanted))

    split = run.eval_split
    rows = [
        [when, *(f"{loss(r, f'{s}_loss')}, {error(r, f'{s}_acc')}" for s in ("train", split))]
        for when, r in (("before any step", starts), ("after epoch 1", firsts))
    ]
    block.lines += table(["when", "train loss, error", f"{split} loss, error"], rows)
    n = run.num_classes or 0
    chance_error = 100 - (run.chance or 0)
    nets = "untrained nets'" if wanted else "untrained net's"
    text = (
        f"Before any step the error is {error(starts, 'train_acc')} on train and "
        f"{error(starts, f'{split}_acc')} on {split}; guessing among {n} classes errs {chance_error:.0f}% "
        f"of the time and has loss ln({n}) = {math.log(n):.3f}, against the {nets} "
        f"{loss(starts, 'train_loss')}."
    )
    block.reading.append(text)
    block.reading.append(
        f"After epoch 1 the train error, averaged over the epoch while the weights moved, is "
        f"{error(firsts, 'train_acc')}; the {split} error of the weights at the end of it is "
        f"{error(firsts, f'{split}_acc')}."
    )
    block.headline = (
        f"start {error(starts, 'train_acc')} / {error(starts, f'{split}_acc')} error, "
        f"epoch 1 {error(firsts, 'train_acc')} / {error(firsts, f'{split}_acc')}"
    )
    return block


def gap(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Train accuracy (running mean, train mode) against evaluation accuracy (eval mode) per epoch."""
    block = Block()
    run = _found(art.run, spec["run"], block)
    if run is None:
        return block
    split = run.eval_split
    metrics = run.metrics
    diff = (metrics["train_acc"] - metrics[f"{split}_acc"]) * 100
    rows = [
        [str(e), pct(t), pct(v), f"{d:+.2f}"]
        for e, t, v, d in zip(
            metrics["epoch"], metrics["train_acc"], metrics[f"{split}_acc"], diff, strict=True
        )
    ]
    block.lines += table(
        ["epoch", "train acc (running, train mode)", f"{split} acc (eval mode)", "train - eval, points"], rows
    )
    first, last = diff.iloc[0], diff.iloc[-1]
    block.reading.append(
        f"At epoch 1 the running train accuracy is {abs(first):.2f} points "
        f"{'below' if first < 0 else 'above'} "
        f"the {split} accuracy; at epoch {len(metrics)} it is {abs(last):.2f} points "
        f"{'below' if last < 0 else 'above'}."
    )
    block.headline = f"train - {split}: {first:+.2f} points at epoch 1, {last:+.2f} at epoch {len(metrics)}"
    return block


def timing(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Wall time, time per epoch and final evaluation loss of runs that differ in speed settings."""
    block = Block()
    found = [(folder, _found(art.run, folder, block)) for folder in spec["runs"]]
    present = [(folder, run) for folder, run in found if run is not None]
    if not present:
        return block
    rows, per_epoch = [], {}
    for folder, run in present:
        m = run.metrics
        per_epoch[folder] = float(m["epoch_s"].mean())
        split = run.eval_split
        rows.append(
            [
                folder,
                str(run.config.get("trainer", {}).get("batch_size", "")),
                str(len(m)),
                seconds(float(run.summary["wall_s"])),
                f"{per_epoch[folder]:.1f} s",
                f"{m['images_per_s'].mean():,.0f}",
                f"{m[f'{split}_loss'].iloc[-1]:.4g}",
                metric_text(run.score, m[run.score].iloc[-1]) if run.score else "",
            ]
        )
    block.lines += table(
        [
            "run",
            "batch size",
            "epochs",
            "wall time",
            "s per epoch",
            "images/s",
            "final eval loss",
            "final score",
        ],
        rows,
    )
    fastest = min(per_epoch, key=per_epoch.get)
    slowest = max(per_epoch, key=per_epoch.get)
    if fastest != slowest:
        block.reading.append(
            f"{fastest} takes {per_epoch[fastest]:.1f} s per epoch against {per_epoch[slowest]:.1f} s for "
            f"{slowest} ({per_epoch[slowest] / per_epoch[fastest]:.2f}x)."
        )
    losses = {f: float(r.metrics[f"{r.eval_split}_loss"].iloc[-1]) for f, r in present}
    if len(set(losses.values())) > 1:
        low = min(losses, key=losses.get)
        others = ", ".join(f"{f} {v:.4g}" for f, v in losses.items() if f != low)
        block.reading.append(f"Final evaluation loss is lowest for {low} ({losses[low]:.4g}; {others}).")
    block.headline = "; ".join(f"{f} {seconds(float(r.summary['wall_s']))}" for f, r in present)
    return block


# How each selection rule (a sweep recipe's `select:`) reads in a table head and in a reading.
RULE_NAMES = {"best": "best val acc", "final": "final val acc"}
RULE_WORDS = {
    "best": "best validation accuracy (any epoch)",
    "final": "validation accuracy at the last epoch",
}


def _spread(jobs: list[Run], by: str) -> str:
    """How far apart the jobs' ranking values lie: a choice inside a narrow spread is a weak one."""
    values = [v for v in (selected_value(j, by) for j in jobs) if v is not None]
    low, high = min(values), max(values)
    return f"lie within {100 * (high - low):.2f} points, {pct(low)} to {pct(high)}"


def tuned(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Two-step tuning: each net's best lr in the first sweep, best batch size at that lr in the second,
    each picked by its sweep's rule (`select:`)."""
    block = Block()
    rows, heads = [], []
    for net in spec["nets"]:
        by1, by2 = art.recipe(net["lr_sweep"]).select, art.recipe(net["bs_sweep"]).select
        try:
            step1 = art.best(net["lr_sweep"], net["name"])
            step2_jobs = art.sweep(net["bs_sweep"])
            step2 = art.best(net["bs_sweep"])
        except Missing:
            block.missing.append(net["bs_sweep"])
            continue
        score = step2.score
        rows.append(
            [
                net["label"],
                f"{step1.overrides.get('optimizer.lr')} ({pct(selected_value(step1, by1))})",
                f"{step2.overrides.get('trainer.batch_size')} ({pct(selected_value(step2, by2))}, "
                f"epoch {step2.summary['best']['epoch'] if by2 == 'best' else len(step2.metrics)})",
                pct(float(step2.metrics["test_acc"].iloc[-1])) if "test_acc" in step2.metrics else "",
            ]
        )
        heads.append(f"{net['label']} {rows[-1][-1]}")
        lr_jobs = [j for j in art.sweep(net["lr_sweep"]) if j.name == net["name"]]
        lr, batch = step1.overrides.get("optimizer.lr"), step2.overrides.get("trainer.batch_size")
        block.reading.append(
            f"{net['label'][:1].upper()}{net['label'][1:]}: by {RULE_WORDS[by1]}, lr {lr} is best at "
            f"batch {step1.config.get('trainer', {}).get('batch_size')} (the {len(lr_jobs)} lrs "
            f"{_spread(lr_jobs, by1)}), then by {RULE_WORDS[by2]} batch {batch} at that lr (the "
            f"{len(step2_jobs)} batch sizes {_spread(step2_jobs, by2)}); that job's "
            f"{SCORE_NAMES[score]} at its last epoch is {metric_text(score, step2.metrics[score].iloc[-1])}."
        )
    if rows:
        rules = [RULE_NAMES[art.recipe(spec["nets"][0][k]).select] for k in ("lr_sweep", "bs_sweep")]
        block.lines += table(
            ["net", f"best lr ({rules[0]})", f"best batch size ({rules[1]}, epoch)", "test acc of that job"],
            rows,
        )
        block.headline = "; ".join(heads)
    return block


def checks(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Numerical checks: every error against a tolerance."""
    block = Block()
    rows, bad, worst = [], [], (None, -1.0)
    for label, ref in spec["values"].items():
        try:
            value = float(art.ref(ref))
        except Missing as missing:
            block.missing.append(missing.args[0])
            continue
        rows.append([label, fmt_value(value, fmt="sci")])
        if value > spec["tol"]:
            bad.append(f"{label} ({value:.1e})")
        if value > worst[1]:
            worst = (label, value)
    if not rows:
        return block
    block.lines += table(["check", "max error"], rows)
    if bad:
        block.reading.append(f"Above the tolerance {spec['tol']:.0e}: {', '.join(bad)}.")
    else:
        largest = fmt_value(worst[1], fmt="sci")
        agree = "The check agrees" if len(rows) == 1 else f"All {len(rows)} checks agree"
        block.reading.append(
            f"{agree} within {spec['tol']:.0e}; the largest error is {largest} ({worst[0]})."
        )
    block.headline = f"max error {fmt_value(worst[1], fmt='sci')}"
    return block


def equal(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Pairs of values that should agree (a closed form and a real layer, ours and the lab's)."""
    block = Block()
    rows, differ = [], []
    for label, ref_a, ref_b in spec["pairs"]:
        try:
            a, b = art.ref(ref_a), art.ref(ref_b)
        except Missing as missing:
            block.missing.append(missing.args[0])
            continue
        rows.append([label, fmt_value(a), fmt_value(b), "yes" if a == b else "no"])
        if a != b:
            differ.append(f"{label} ({fmt_value(a)} vs {fmt_value(b)})")
    if rows:
        head = spec.get("head", ["value", "a", "b"])
        block.lines += table([*head, "equal"], rows)
        agree = "The pair agrees exactly." if len(rows) == 1 else f"All {len(rows)} pairs agree exactly."
        block.reading.append(f"They differ: {', '.join(differ)}." if differ else agree)
    return block


def layers(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """A per-layer table from a task's results (a list of rows or a mapping of name to row)."""
    block = Block()
    try:
        found = art.ref(spec["rows"])
    except Missing as missing:
        block.missing.append(missing.args[0])
        return block
    key = spec.get("label", "name")
    items = (
        list(found.items()) if isinstance(found, dict) else [(fmt_value(r.get(key, "")), r) for r in found]
    )
    columns = spec["columns"]
    fmt = "pct" if spec.get("percent") else None
    block.lines += table(
        [key if key != "name" else "layer", *(c.replace("_", " ") for c in columns)],
        [[name, *(fmt_value(row.get(c), c, fmt) for c in columns)] for name, row in items],
    )
    share = spec.get("share")
    if share:
        total = sum(row.get(share) or 0 for _, row in items)
        name, row = max(items, key=lambda item: item[1].get(share) or 0)
        block.reading.append(
            f"{name} holds {row[share]:,} of the {total:,} {share} ({100 * row[share] / total:.1f}%)."
        )
    trend = spec.get("trend")
    if trend:
        block.reading.append(_trend(items, trend))
    return block


def _trend(items: list[tuple[str, dict[str, Any]]], key: str) -> str:
    """How a per-layer value moves from the first layer to the last, and whether it does at every step."""
    (first, a), (last, b) = items[0], items[-1]
    shown = {name: f"{name} ({fmt_value(row[key], key)})" for name, row in items}
    text = f"{key.replace('_', ' ')} goes from {shown[first]} to {shown[last]}"
    sign = 1 if b[key] >= a[key] else -1
    for (before, x), (name, y) in zip(items, items[1:], strict=False):
        if sign * (y[key] - x[key]) < 0:
            way = "below" if sign > 0 else "above"
            return f"{text}, not at every layer: {shown[name]} is {way} {shown[before]}."
    return f"{text}, {'rising' if sign > 0 else 'falling'} at every layer."


def figures_of(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Figures a task or run drew, linked where collect put them (never copied); an image grid named in
    `titles` is redrawn into figures/ with its title and its rows named (`grid_rows`)."""
    block = Block()
    titles = spec.get("titles") or {}
    for name in spec["files"]:
        folder = name.rsplit("/", 1)[0]
        if (art.root / name).is_file() and name in titles:
            path, link = figures.next()
            draw_grid(art.root / name, path, titles[name], spec["grid_rows"])
            block.lines += [*([""] if block.lines else []), f"![{titles[name]}]({link})"]
        elif (art.root / name).is_file():
            alt = name.removesuffix(".png").replace("/", " ")
            block.lines += [*([""] if block.lines else []), f"![{alt}]({name})"]
        elif folder not in block.missing:
            block.missing.append(folder)
    return block


def expect(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """What the lab text expects of two runs (`higher` ends above `lower` in `value`), checked. Where a
    side is trained over seeds, Welch's t-test over the seeds decides (welch.expect_verdict); between
    two single runs, `margin` (in points for accuracies) is the smallest gap that counts as clear."""
    block = Block()
    try:
        high, low = art.ref(spec["higher"]), art.ref(spec["lower"])
    except Missing as missing:
        block.missing.append(missing.args[0])
        return block
    path = spec["higher"].split(":", 1)[1]
    names = [spec[k].split(":", 1)[0] for k in ("higher", "lower")]
    fmt = spec.get("format")
    if isinstance(high, Spread) or isinstance(low, Spread):
        high, low = (v if isinstance(v, Spread) else Spread((float(v),), 1) for v in (high, low))
        block.reading.append(expect_verdict(spec["claim"], (names[0], names[1]), high, low, path, fmt))
        return block
    high, low = float(high), float(low)
    shown = f"{names[0]} {fmt_value(high, path, fmt)} against {names[1]} {fmt_value(low, path, fmt)}"
    percent = is_percent(high, path, fmt) or fmt == "points"
    margin = float(spec.get("margin", 0)) / (100 if percent else 1)
    gap = abs(high - low)
    if gap < margin:
        as_gap = "points" if percent else fmt
        verdict, way = (
            ("agrees in direction only", "apart")
            if high > low
            else ("shows no clear difference", "the other way")
        )
        block.reading.append(
            f"The lab expects that {spec['claim']}; ours {verdict}: {shown}, {fmt_value(gap, path, as_gap)} "
            f"{way}, less than the {fmt_value(margin, path, as_gap)} this section counts as a clear "
            "difference."
        )
    elif high > low:
        block.reading.append(f"As the lab expects ({spec['claim']}): {shown}.")
    else:
        block.reading.append(f"Unlike what the lab expects ({spec['claim']}): {shown}.")
    return block


ANALYSES: dict[str, Callable[[LabArtefacts, dict[str, Any], Figures], Block]] = {
    "runs": runs,
    "sweep": sweep,
    "initial": initial,
    "gap": gap,
    "timing": timing,
    "tuned": tuned,
    "checks": checks,
    "equal": equal,
    "layers": layers,
    "figures": figures_of,
    "expect": expect,
}


def reference_block(art: LabArtefacts, references: tuple) -> Block:
    """The lab's figures beside ours, and a sentence for each that says whether they agree."""
    block = Block()
    rows, matches = [], []
    for ref in references:
        path = ref.ours.partition(":")[2]
        try:
            raw = art.ref(ref.ours)
        except Missing as missing:
            block.missing.append(missing.args[0])
            rows.append([ref.label, with_unit(ref.lab, ref.unit), "not yet measured", ""])
            continue
        raw = raw.mean if isinstance(raw, Spread) else raw  # over seeds: their mean
        ours = float(raw) * (100 if ref.unit == "%" and "acc" in path else 1)
        diff = ours - ref.lab
        unit = "points" if ref.unit == "%" else ref.unit
        shown, theirs = with_unit(ours, ref.unit), with_unit(ref.lab, ref.unit)
        gap, tolerance = f"{diff:+.4g} {unit}".strip(), f"{num(ref.tolerance)} {unit}".strip()
        rows.append([ref.label, theirs, shown, gap])
        if diff == 0:
            matches.append(ref.label)
        elif abs(diff) <= ref.tolerance:
            block.reading.append(f"{ref.label}: ours {shown} is within {tolerance} of the lab's {theirs}.")
        else:
            block.reading.append(f"{ref.label}: ours {shown} differs from the lab's {theirs} by {gap}.")
    if matches:
        block.reading.insert(0, f"Ours equals the lab's figure for {'; '.join(matches)}.")
    block.lines += table(["figure", "the lab's", "ours", "ours - lab's"], rows)
    block.headline = "; ".join(f"{r[0]} {r[2]}" for r in rows)
    return block
