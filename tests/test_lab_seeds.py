"""The lab book over seeds: values as mean ± sample std with n, Welch's t-test verdicts (clear only when
p < 0.05), seed bands in the figures, the ladder and by_value analyses, and collect leaving no machine
path under experiments/."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from cnnlab.config.overrides import is_plumbing
from cnnlab.errors import ConfigError
from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.collect import collect_lab
from cnnlab.labs.book.collected_run import CollectedRun
from cnnlab.labs.book.figures import against_data
from cnnlab.labs.book.kinds import ladder
from cnnlab.labs.book.kinds import runs as runs_kind
from cnnlab.labs.book.kinds import sweep as sweep_kind
from cnnlab.labs.book.labs import load_lab
from cnnlab.labs.book.machine_paths import machine_paths_in, strip_tree
from cnnlab.labs.book.render import build_lab
from cnnlab.labs.book.seeds import Spread, seed_band, spread_text, stop_text
from cnnlab.labs.book.targets import make_text
from cnnlab.labs.book.welch import gap_text, welch

from .conftest import composed
from .labfakes import fake_run

ROOT = Path(__file__).resolve().parents[1]

SEEDED = """
title: x
text: x.md
recipes:
  a: {run: rdfia/q15, seeds: [0, 1, 2], label: "the base"}
  b: {run: rdfia/q19, seeds: [0, 1, 2], label: "+ standardisation"}
  c: {run: rdfia/q22, seeds: [0, 1, 2], label: "+ crop and flip"}
sections:
  - ids: [q1]
    question: a then b
    recipes: [a, b]
    answers: {q1: "a {a:final.test_acc}, b {b:final.test_acc} after {b:epochs} epochs, lr {a:epoch1.lr}"}
    analysis:
      - {kind: expect, claim: "b beats a", higher: "b:final.test_acc", lower: "a:final.test_acc"}
      - {kind: runs, runs: [a, b]}
  - ids: [q2]
    question: the ladder
    recipes: [a, b, c]
    answers: {q2: "c {c:final.test_acc}"}
    analysis:
      - {kind: ladder, runs: [a, b, c]}
      - {kind: by_value, key: step, path: final.test_acc, points: [[1, a], [2, b], [3, c]]}
"""


def _lab(tmp_path: Path, text: str = SEEDED):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "x.yaml").write_text(text)
    return load_lab("x", tmp_path / "conf")


def _seeds(root: Path, folder: str, finals: list[float], epochs: list[int] | None = None) -> None:
    """One fake run per seed whose last epoch's test accuracy is `finals[i]`, stopped by the rule."""
    for seed, final in enumerate(finals):
        n = (epochs or [3] * len(finals))[seed]
        accs = [final - 0.1 * (n - 1 - i) for i in range(n)]
        fake_run(
            root / folder / f"seed{seed}", accs, [f"trainer.seed={seed}"], extra={"stop_reason": "plateau"}
        )


def test_a_seeded_value_reads_as_the_mean_and_sample_std_over_its_seeds(tmp_path):
    lab = _lab(tmp_path)
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "a", [0.70, 0.72, 0.75], epochs=[3, 4, 3])
    _seeds(exp, "b", [0.80])
    # by hand: mean (0.70 + 0.72 + 0.75) / 3 = 0.723333; deviations -0.023333, -0.003333, +0.026667;
    # squares 0.00054444 + 0.00001111 + 0.00071111 = 0.00126667, over n - 1 = 2: 0.00063333; sqrt: 0.025166
    art = LabArtefacts(lab, tmp_path / "experiments")
    spread = art.value("a", "final.test_acc")
    assert spread.values == (0.70, 0.72, 0.75) and spread.n == 3
    assert spread.mean == pytest.approx(0.723333, abs=1e-6) and spread.std == pytest.approx(
        0.025166, abs=1e-6
    )
    assert art.fill("{a:final.test_acc}") == "72.33 ± 2.52% (n=3)"
    diverged = Spread((0.70, math.nan, 0.75), 3)  # a seed whose run diverged has no final accuracy
    assert math.isnan(diverged.mean) and math.isnan(diverged.std)
    assert spread_text(diverged, "final.test_acc") == "n/a ± n/a% (n=3)"
    assert spread_text(Spread((0.02, math.nan, 0.03), 3), "final.test_loss") == "n/a ± n/a (n=3)"
    assert art.fill("{a:epochs}") == "3, 4, 3"  # a count reads seed by seed
    assert art.fill("{a:epoch1.lr}") == "0.1"  # a value every seed shares, once
    assert art.fill("{b:final.test_acc}") == "80.00% (n=1 of 3)"
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| q1 | a 72.33 ± 2.52% (n=3), b 80.00% (n=1 of 3) after 3 epochs, lr 0.1 |" in readme
    assert "**Seeds still to land:** x/b (1 of 3 seeds landed)" in readme
    assert "| a: the base | 3 of 3 | 3, 4, 3 (plateau) | 3, 4, 3 |" in readme
    assert "the verdict waits for n ≥ 3 seeds of b." in readme


def test_welch_t_and_degrees_of_freedom_follow_the_formula():
    a, b = (0.70, 0.72, 0.75), (0.66, 0.69, 0.70)
    # by hand: means 0.723333 and 0.683333; sample variances 0.00063333 and 0.00043333
    va, vb = 0.00126667 / 2, (0.000544444 + 0.0000444444 + 0.000277778) / 2
    se2 = va / 3 + vb / 3
    t = (0.723333 - 0.683333) / math.sqrt(se2)
    df = se2**2 / ((va / 3) ** 2 / 2 + (vb / 3) ** 2 / 2)
    test = welch(a, b)
    assert test.diff == pytest.approx(0.04, abs=1e-9)
    assert test.t == pytest.approx(t, rel=1e-4) and test.df == pytest.approx(df, rel=1e-4)
    assert 0 < test.p < 1 and welch(b, a).t == pytest.approx(-t, rel=1e-4)
    assert welch(a, tuple(x - 0.2 for x in a)).p < test.p  # a larger gap, the same spread: a smaller p


def test_a_difference_of_means_is_rounded_to_its_standard_error_and_a_ratios_carries_no_x():
    """dd2427 t16: epoch-1 over final loss 1.234 ± 0.025x against 1.333 ± 0.079x, difference -0.09923 at
    Welch's t = -2.07: its standard error 0.09923 / 2.07 = 0.048 has two digits at the third decimal."""
    assert gap_text(-0.09923, "firstoverlast.test_loss", "x", t=-2.07) == "-0.099"
    assert gap_text(-0.002499, "final.test_loss", t=-12.82) == "-0.00250"  # standard error 0.000195
    assert gap_text(1234.4, "final.n", t=0.5) == "+1,234"  # standard error 2469: no decimals
    assert gap_text(-0.09923, "firstoverlast.test_loss", "x") == "-0.09923"  # no t: four digits
    assert gap_text(0.0123, "final.test_acc", t=2.0) == "+1.23 points"


@pytest.mark.parametrize(
    ("gap", "figure", "verdict"),
    [
        # spread 0.01 a side, n = 3: t = gap / sqrt(2 * 0.0001 / 3), df = 4; p = 0.05 at a gap of 2.27 points
        (0.020, "Welch's t = 2.45, p = 0.070 (n = 3 and 3)", "ours agrees in direction only"),
        (0.025, "Welch's t = 3.06, p = 0.038 (n = 3 and 3)", "As the lab expects (b beats a)"),
        (-0.025, "Welch's t = -3.06, p = 0.038 (n = 3 and 3)", "Unlike what the lab expects (b beats a)"),
    ],
)
def test_a_verdict_is_clear_only_when_welchs_p_is_below_005(tmp_path, gap, figure, verdict):
    lab = _lab(tmp_path)
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "a", [0.50, 0.51, 0.52])
    _seeds(exp, "b", [0.50 + gap, 0.51 + gap, 0.52 + gap])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert verdict in readme
    assert f"difference of means {100 * gap:+.2f} points, {figure}" in readme
    assert ("a clear difference" in readme) == (abs(gap) > 0.0227)


def test_seed_band_is_the_mean_min_and_max_over_the_seeds_still_training():
    seeds = [
        pd.DataFrame({"epoch": [1, 2, 3], "test_acc": [0.2, 0.4, 0.5]}),
        pd.DataFrame({"epoch": [1, 2], "test_acc": [0.3, 0.6]}),
        pd.DataFrame({"epoch": [1, 2, 3], "test_acc": [0.1, 0.5, 0.7]}),
    ]
    band = seed_band(seeds, "test_acc")
    assert list(band.index) == [1, 2, 3] and list(band["n"]) == [3, 3, 2]
    assert list(band["mean"]) == pytest.approx([0.2, 0.5, 0.6])
    assert list(band["low"]) == [0.1, 0.4, 0.5] and list(band["high"]) == [0.3, 0.6, 0.7]


def test_the_figure_draws_each_seeded_recipe_as_its_mean_and_band(tmp_path, monkeypatch):
    """The data plot_curves receives: per recipe, its seeds' runs, whose band is the hand-computed one."""
    received = []
    monkeypatch.setattr(runs_kind, "plot_curves", lambda curves, *a, **k: received.append(curves))
    lab = _lab(tmp_path)
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "a", [0.50, 0.52, 0.60], epochs=[3, 2, 3])
    _seeds(exp, "b", [0.60, 0.61, 0.62])
    build_lab(lab, tmp_path / "experiments")
    curves = received[0]
    assert [c.label for c in curves] == ["a: the base", "b: + standardisation"]
    assert [len(c.runs) for c in curves] == [3, 3] and all(c.seeded for c in curves)
    band = curves[0].band("test_acc")
    # epoch 1: 0.30, 0.42, 0.40; epoch 2: 0.40, 0.52, 0.50; epoch 3 (seed 1 stopped): 0.50, 0.60
    assert list(band["mean"]) == pytest.approx([(0.30 + 0.42 + 0.40) / 3, (0.40 + 0.52 + 0.50) / 3, 0.55])
    assert list(band["low"]) == pytest.approx([0.30, 0.40, 0.50])
    assert list(band["high"]) == pytest.approx([0.42, 0.52, 0.60]) and list(band["n"]) == [3, 3, 2]


def test_the_ladder_names_what_each_step_adds_and_tests_it_against_the_one_before(tmp_path, monkeypatch):
    received = []
    monkeypatch.setattr(ladder, "plot_curves", lambda curves, *a, **k: received.append((curves, k)))
    lab = _lab(tmp_path)
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "a", [0.50, 0.51, 0.52])
    _seeds(exp, "b", [0.60, 0.61, 0.62])
    _seeds(exp, "c", [0.60, 0.61, 0.62])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| a | the base | 51.00 ± 1.00% (n=3) | 3, 3, 3 (plateau) | - | - |" in readme
    assert (
        "| b | + standardisation | 61.00 ± 1.00% (n=3) | 3, 3, 3 (plateau) | +10.00 points, t = 12.25"
        in readme
    )
    assert (
        "| clear gain |" in readme and "| +0.00 points, t = 0.00, p = 1.000 | no clear difference |" in readme
    )
    curves, kwargs = received[0]
    assert [c.legend for c in curves] == [
        "a: the base (3 seeds)",
        "b: + standardisation (3 seeds)",
        "c: + crop and flip (3 seeds)",
    ]
    assert kwargs == {"splits": ("test",)}
    assert "Clear gain: b (+10.00 points, t = 12.25, p < 0.001)." in readme


def _diverge(run_dir: Path, epochs_completed: int) -> None:
    """Mark a fake run as one whose training loss went non-finite after `epochs_completed` epochs."""
    summary = json.loads((run_dir / "summary.json").read_text())
    summary |= {"status": "diverged", "stop_reason": "diverged", "epochs_completed": epochs_completed}
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_a_diverged_seed_is_counted_not_averaged_and_blocks_a_test_it_leaves_short(tmp_path, monkeypatch):
    """rdfia q32's p = 0.8 seeds: a seed whose loss went non-finite measured what it did before, not what
    its recipe trains to. It stays out of the mean, std and curve reading; it is named with its epoch, and
    a verdict it leaves with fewer than 3 seeds is not drawn; a value whose every seed diverged is not
    drawn or ranked."""
    received = []
    monkeypatch.setattr(runs_kind, "plot_curves", lambda curves, *a, **k: received.append(curves))
    lab = _lab(tmp_path)
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "a", [0.70, 0.72, 0.75])
    _seeds(exp, "b", [0.30, 0.60, 0.62])  # seed 0 diverged in epoch 3: its 30% is from epoch 2
    _diverge(exp / "b" / "seed0", 2)
    _seeds(exp, "c", [0.20, 0.25, 0.21])
    for seed in range(3):
        _diverge(exp / "c" / f"seed{seed}", 2)
    first = exp / "c" / "seed0"  # diverged in epoch 1: a metrics.csv with its header only
    (first / "metrics.csv").write_text((first / "metrics.csv").read_text().splitlines()[0] + "\n")
    _diverge(first, 0)
    art = LabArtefacts(lab, tmp_path / "experiments")
    spread = art.value("b", "final.test_acc")
    assert spread.values == (0.60, 0.62) and spread.diverged == 1 and spread.landed == 3
    # by hand: mean 0.61; std sqrt((0.01^2 + 0.01^2) / 1) = 0.014142
    assert art.fill("{b:final.test_acc}") == "61.00 ± 1.41% (n=2 of 3, 1 diverged)"
    assert art.fill("{c:final.test_acc}") == "diverged in every seed (3 of 3)"
    assert math.isnan(art.value("c", "final.test_acc").mean)
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "no test: 1 of b's 3 seeds diverged, leaving n=2." in readme  # the expect verdict
    assert "seed0 (epoch 3): the training loss became non-finite and the run ended" in readme
    stops = "0 (diverged in epoch 1), 2 (diverged in epoch 3), 2 (diverged in epoch 3)"
    assert f"| 3 | c | diverged in every seed (3 of 3) | {stops} |" in readme  # by_value's table
    assert "lowest to highest value. Not drawn: step = 3, diverged in every seed (3 of 3)." in readme
    assert "The highest mean test accuracy is at step = 1 (a, 72.33 ± 2.52% (n=3))." in readme
    assert "Against step = 2: no test: 1 of step = 2's 3 seeds diverged, leaving n=2." in readme
    assert "Against step = 3: no test: 3 of step = 3's 3 seeds diverged, leaving n=0." in readme
    assert "| 1 of b's 3 seeds diverged, leaving n=2 | no test (diverged seeds) |" in readme  # the ladder
    assert [c.legend for c in received[0]] == [
        "a: the base (3 seeds)",
        "b: + standardisation (3 seeds, 1 diverged in epoch 3)",
    ]


def test_by_value_draws_each_values_mean_and_its_lowest_and_highest_seed(tmp_path):
    spreads = [Spread((0.70, 0.72, 0.75), 3), Spread((0.60, 0.66), 3)]
    data = against_data([0.5, 0.2], spreads, 100)
    assert list(data["x"]) == [0.2, 0.5]  # in the order of the value
    assert list(data["mean"]) == pytest.approx([63.0, 72.3333333])
    assert list(data["low"]) == pytest.approx([60.0, 70.0]) and list(data["high"]) == pytest.approx(
        [66.0, 75.0]
    )
    assert list(data["n"]) == [2, 3]
    lab = _lab(tmp_path)
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "a", [0.50, 0.51, 0.52])
    _seeds(exp, "b", [0.60, 0.61, 0.62])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| 2 | b | 61.00 ± 1.00% (n=3) | 3, 3, 3 (plateau) |" in readme
    assert "The highest mean test accuracy is at step = 2 (b, 61.00 ± 1.00% (n=3))." in readme
    assert "Not yet in the table, not yet run at full budget: c." in readme


def test_spread_text_formats_errors_points_and_ratios():
    assert spread_text(Spread((0.1, 0.2), 3), "initial.test_acc", "error") == "85.00 ± 7.07% (n=2 of 3)"
    assert spread_text(Spread((0.02, 0.04), 2), "maxfall.test_acc", "points") == "3.00 ± 1.41 points (n=2)"
    assert spread_text(Spread((1.5, 2.5), 2), "firstoverlast.test_loss", "x") == "2.00 ± 0.71x (n=2)"
    # a loss: the spread to two significant digits, the mean to its decimal place (std of 0.180,
    # 0.184, 0.188 is 0.004 by hand)
    assert spread_text(Spread((0.180, 0.184, 0.188), 3), "final.val_loss") == "0.1840 ± 0.0040 (n=3)"
    assert spread_text(Spread((1200.0, 1300.0), 2), "final.n") == "1,250 ± 71 (n=2)"
    # wall times from an hour on in hours, as seconds() shows them: std of 3540 and 3660 is 84.85 s
    assert spread_text(Spread((3540.0, 3660.0), 2), "wall_s", "s") == "1.000 ± 0.024 h (n=2)"
    assert spread_text(Spread((3000.0, 3200.0), 2), "wall_s", "s") == "51.7 ± 2.4 min (n=2)"


def test_a_diverged_job_is_marked_in_the_sweep_figure(tmp_path, monkeypatch):
    received = []
    monkeypatch.setattr(sweep_kind, "plot_curves", lambda curves, *a, **k: received.append(curves))
    lab = _lab(
        tmp_path,
        """
title: x
text: x.md
recipes:
  q28: {sweep: rdfia/q26, grid: {scheduler: [cosine, onecycle]}}
sections:
  - ids: [q28]
    question: schedules
    recipes: [q28]
    answers: {q28: "{q28:jobs}"}
    analysis:
      - {kind: sweep, sweep: q28}
""",
    )
    sweep = tmp_path / "experiments" / "x" / "q28"
    fake_run(sweep / "0", [0.3, 0.5], ["scheduler=cosine"])
    fake_run(sweep / "1", [0.4, 0.6], ["scheduler=onecycle"])
    cosine = sweep / "0"
    (cosine / "metrics.csv").write_text((cosine / "metrics.csv").read_text().splitlines()[0] + "\n")
    summary = json.loads((cosine / "summary.json").read_text())
    summary |= {"status": "diverged", "epochs_completed": 0, "final": {}, "best": None}
    (cosine / "summary.json").write_text(json.dumps(summary))
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    legends = [c.legend for c in received[0]]
    assert legends == ["scheduler=cosine (diverged in epoch 1)", "scheduler=onecycle"]
    assert [c.diverged_at for c in received[0]] == [(1,), ()]
    assert "A dotted line and an x mark the epoch a job diverged in." in readme
    assert "Every job reaches a new high" not in readme  # the diverged job reaches none
    assert "still rising when the budget ends: scheduler=onecycle." in readme


def test_a_sweeps_pick_is_a_tie_where_it_leads_by_less_than_the_seed_spread_of_its_seeds_recipe(tmp_path):
    """A grid trains one seed per cell: the reading sets the pick's lead beside a seeded run's spread."""
    lab = _lab(
        tmp_path,
        """
title: x
text: x.md
recipes:
  q26: {run: rdfia/q26, seeds: [0, 1, 2]}
  q28: {sweep: rdfia/q26, grid: {scheduler: [cosine, onecycle, cosine_warmup]}, select: final}
sections:
  - ids: [q28]
    question: schedules
    recipes: [q26, q28]
    answers: {q28: "{q28:best_override.scheduler}"}
    analysis:
      - {kind: sweep, sweep: q28, seeds: q26}
""",
    )
    exp = tmp_path / "experiments" / "x"
    _seeds(exp, "q26", [0.70, 0.72, 0.75])
    for job, (scheduler, final) in enumerate((("cosine", 0.60), ("onecycle", 0.61), ("cosine_warmup", 0.50))):
        fake_run(exp / "q28" / str(job), [final - 0.1, final], [f"scheduler={scheduler}"])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    # by hand: q26's finals have mean 0.72333 and sample std sqrt((0.02333^2 + 0.00333^2 + 0.02667^2) / 2)
    assert (
        "scheduler=onecycle leads scheduler=cosine by 1.00 points of test accuracy at the last epoch, less "
        "than the 2.52-point sample standard deviation of q26's 3 seeds: a tie within the seed spread, not a "
        "finding." in readme
    )
    with pytest.raises(ConfigError, match=r"sweep analysis with seeds='q28'; name a recipe trained"):
        _lab(tmp_path, (tmp_path / "conf" / "x.yaml").read_text().replace("seeds: q26}", "seeds: q28}"))
    fake_run(exp / "q28" / "1", [0.60, 0.66], ["scheduler=onecycle"])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "by 6.00 points of test accuracy at the last epoch, more than the 2.52-point" in readme
    assert ": a lead beyond the seed spread." in readme


def _machine_lab_out(lab_out: Path) -> None:
    """A LAB_OUT whose files record machine paths the way real runs do."""
    run = lab_out / "full" / "keras7" / "e1"
    fake_run(run, [0.5, 0.6], ["dataset.image_folder=/work/shared/data/cifar10-jpeg.tar.gz"])
    summary = json.loads((run / "summary.json").read_text())
    summary["run_dir"] = str(run)
    summary["overrides"].append("paths.data_root=/root/cnnlab-data")
    (run / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["paths"] = {"data_root": "/root/cnnlab-data", "cache_dir": "/root/cnnlab-data/cache"}
    config["dataset"]["source"] = {"root": str(Path.home() / "data"), "image_folder": "/tmp/c.tar.gz"}
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def test_collect_leaves_no_machine_path_in_what_it_copies(tmp_path):
    lab_out, out = tmp_path / "lab_out", tmp_path / "experiments"
    _machine_lab_out(lab_out)
    collect_lab(load_lab("keras7"), lab_out, out)
    assert list(machine_paths_in(out)) == []
    summary = json.loads((out / "keras7" / "e1" / "summary.json").read_text())
    assert summary["run_dir"] == "experiments/keras7/e1"  # the path of its copy
    assert summary["overrides"][-2:] == [
        "dataset.image_folder=<local>/cifar10-jpeg.tar.gz",
        "paths.data_root=<local>/cnnlab-data",
    ]
    config = yaml.safe_load((out / "keras7" / "e1" / "config.yaml").read_text())
    assert config["paths"] == {"data_root": "<local>/cnnlab-data", "cache_dir": "<local>/cache"}
    assert config["dataset"]["source"] == {"root": "<local>/data", "image_folder": "<local>/c.tar.gz"}
    assert config["dataset"]["num_classes"] == 10 and config["budget"] == "full"  # the rest as it was
    readme = build_lab(load_lab("keras7"), out)[0].read_text()
    assert "60.00%" in readme


def test_stripping_keeps_a_sweeps_csv_and_a_tasks_results_readable(tmp_path):
    lab_out, out = tmp_path / "lab_out", tmp_path / "experiments"
    job = f"{lab_out}/full/vu3a/q3_17/lr/experiment=vu3a_q3_17_gp,optimizer.lr=0.004"
    (out / "vu3a").mkdir(parents=True)
    with (out / "vu3a" / "summary.csv").open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(
            [["run", "run_dir", "final_val_acc"], ["gp,0.004", job, "0.9801"]]
        )
    elsewhere = "/home/gpu/labs/full/vu3a/q2_7/seed1"  # a run trained on another machine, copied here
    results = {"run": f"{lab_out}/tasks/x", "n": 3, "read": elsewhere}
    (out / "vu3a" / "results.json").write_text(json.dumps(results, indent=2))
    changed = strip_tree(out, lab_out)
    assert sorted(p.name for p in changed) == ["results.json", "summary.csv"]
    with (out / "vu3a" / "summary.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[1] == [
        "gp,0.004",
        "experiments/vu3a/q3_17/lr/experiment=vu3a_q3_17_gp,optimizer.lr=0.004",
        "0.9801",
    ]
    assert json.loads((out / "vu3a" / "results.json").read_text()) == {
        "run": "<LAB_OUT>/tasks/x",
        "n": 3,
        "read": "experiments/vu3a/q2_7/seed1",
    }
    assert list(machine_paths_in(out)) == [] and strip_tree(out, lab_out) == []


def test_no_file_under_experiments_holds_a_machine_path():
    """What is committed: no run dir, data path or home of the machine that trained it."""
    assert [f"{p.relative_to(ROOT)}: {path}" for p, path in machine_paths_in(ROOT / "experiments")] == []


def test_a_seeded_recipe_collects_each_finished_seed_and_keeps_those_collected_before(tmp_path):
    lab = _lab(tmp_path)
    lab_out, out = tmp_path / "lab_out", tmp_path / "experiments"
    fake_run(lab_out / "full" / "x" / "a" / "seed0", [0.5, 0.6])
    fake_run(lab_out / "full" / "x" / "a" / "seed1", [0.5, 0.7], budget="smoke")  # never collected
    collect_lab(lab, lab_out, out)
    assert sorted(p.name for p in (out / "x" / "a").iterdir()) == ["seed0", "wall_times.json"]
    other = tmp_path / "gpu"  # seed 2 finished on another machine
    fake_run(other / "full" / "x" / "a" / "seed2", [0.5, 0.65], device="cuda:0")
    collect_lab(lab, other, out)
    assert sorted(p.name for p in (out / "x" / "a").iterdir()) == ["seed0", "seed2", "wall_times.json"]
    walls = json.loads((out / "x" / "a" / "wall_times.json").read_text())
    assert walls == {"cpu": 200.0, "gpu": 200.0}
    assert LabArtefacts(lab, out).fill("{a:final.test_acc}") == "62.50 ± 3.54% (n=2 of 3)"


def test_a_task_reading_a_seeded_recipe_reads_its_first_seed_or_the_one_named():
    text = make_text()
    assert "$(eval $(call lab_run_task,mainf6/c,mainf6/b5/seed0,task=activation_grid " in text
    assert "$(eval $(call lab_run_task,rdfia/dropout_modes,rdfia/q29/seed2,task=dropout_modes))" in text
    assert "$(eval $(call lab_run,rdfia/q32_p02/seed1,experiment=rdfia/q29 model.dropout=0.2" in text


@pytest.mark.parametrize(
    ("read_seed", "message"),
    [("5", "reads seed 5 of 'a', whose seeds are [0, 1, 2]"), ("one", "has read_seed='one'")],
)
def test_a_task_naming_a_seed_its_run_lacks_is_refused(tmp_path, read_seed, message):
    text = SEEDED.replace(
        "sections:", f"  t: {{task: dropout_modes, reads: a, read_seed: {read_seed}}}\nsections:"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        _lab(tmp_path, text)


@pytest.mark.parametrize("folder", ["q16", "q28"])
def test_a_grid_recipe_reproduces_the_setting_its_committed_jobs_were_trained_with(folder):
    """q16 and q28 map a grid with the stopping rule off: their recipes must still make their jobs."""
    recipe = load_lab("rdfia").recipes[folder]
    jobs = sorted((ROOT / "experiments" / "rdfia" / folder).glob("*/config.yaml"))
    assert len(jobs) == math.prod(len(values) for values in recipe.grid.values())
    for job in jobs:
        overrides = json.loads((job.parent / "summary.json").read_text())["overrides"]
        point = [o for o in overrides if o.split("=")[0] in recipe.grid]
        cfg = composed(f"experiment={recipe.preset[0]}", *recipe.overrides, *point, "+budget=full")
        ours = _flat(OmegaConf.to_container(cfg, resolve=True))
        theirs = _flat(yaml.safe_load(job.read_text()))
        differ = {k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k) and not is_plumbing(k)}
        # q16's jobs predate trainer.early_stopping; its recipe turns the rule off
        assert {k for k in differ if not k.startswith("trainer.early_stopping.")} == set(), job
        assert ours["trainer.early_stopping.enabled"] is False


def _flat(node: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_q32s_recipes_train_dropout_p_at_02_and_08_under_q29s_rule():
    """q32 varies p as a training hyper-parameter: q29's preset, its stopping rule, three seeds."""
    lab = load_lab("rdfia")
    for folder, p in (("q32_p02", 0.2), ("q32_p08", 0.8)):
        recipe = lab.recipes[folder]
        cfg = composed(f"experiment={recipe.preset[0]}", *recipe.overrides, "trainer.seed=1", "+budget=full")
        assert cfg.model.dropout == p and cfg.trainer.seed == 1 and recipe.seeds == (0, 1, 2)
        assert cfg.trainer.early_stopping.enabled and cfg.trainer.monitor == "val_acc"
    assert lab.recipes["q29"].seeds == (0, 1, 2) and composed("experiment=rdfia/q29").model.dropout == 0.5


TIMED = """
title: x
text: x.md
recipes:
  a: {run: rdfia/q15, seeds: [0, 1, 2]}
  b: {run: rdfia/q19, seeds: [0, 1, 2]}
sections:
  - ids: [q1]
    question: a against b in time
    recipes: [a, b]
    answers: {q1: "a {a:wall_s|s}"}
    analysis:
      - {kind: timing, runs: [a, b]}
"""


@pytest.mark.parametrize("b_seeds", [3, 2])
def test_timing_reads_each_recipe_over_its_seeds_and_tests_the_loss_only_with_three_a_side(tmp_path, b_seeds):
    lab = _lab(tmp_path, TIMED)
    exp = tmp_path / "experiments" / "x"
    for seed, (wall, loss) in enumerate([(240.0, 0.10), (250.0, 0.12), (260.0, 0.14)]):
        fake_run(exp / "a" / f"seed{seed}", [0.5] * 3, test_loss=[0.5, 0.3, loss], extra={"wall_s": wall})
    for seed, loss in enumerate([0.20, 0.22, 0.24][:b_seeds]):  # 5 epochs: epoch_s 10..14, mean 12
        fake_run(exp / "b" / f"seed{seed}", [0.5] * 5, test_loss=[0.5, 0.4, 0.3, 0.25, loss])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    # a: wall mean 250, sample std 10; epoch_s 10, 11, 12 in every seed (mean 11); loss 0.12 ± 0.02
    # the wall time in the mean's unit: 250 / 60 = 4.1667 min, 10 / 60 = 0.1667 min, two digits of spread
    assert "| a | 16 | 3 | 4.17 ± 0.17 min (n=3) | 11 | 501 | 0.120 ± 0.020 (n=3) | 50.00% |" in readme
    assert "a takes 11.0 s per epoch against 12.0 s for b (1.09x, means over the seeds)." in readme
    if b_seeds == 3:
        # by hand: t = (0.12 - 0.22) / sqrt(2 * 0.02**2 / 3) = -6.124 on 4 degrees of freedom (equal
        # spreads and n); Student's t with 4 df: F(|t|) = 1/2 + 3/8 v (1 - t^2 / (12 s)), s = 1 + t^2/4 =
        # 10.375, v = |t| / sqrt(s) = 1.9012: F = 0.99821, two-sided p = 2 (1 - F) = 0.0036
        # the difference to two digits of its standard error 0.1 / 6.124 = 0.0163, as 0.120 ± 0.020: -0.100
        assert (
            "Final evaluation loss is lower for a: a 0.120 ± 0.020 (n=3) against b 0.220 ± 0.020 (n=3); "
            "difference of means -0.100, Welch's t = -6.12, p = 0.004 (n = 3 and 3)." in readme
        )
    else:
        assert "| b | 16 | 5 | 8 min (n=2 of 3) |" in readme and "Final evaluation loss" not in readme


def test_a_run_from_before_stop_reason_that_ran_its_epochs_reads_as_stopped_at_max_epochs():
    """mainf6's seed 0 runs predate stop_reason; beside later seeds they must not read as another reason."""

    def run(summary: dict) -> CollectedRun:
        return CollectedRun(Path("r"), summary, pd.DataFrame(), {"trainer": {"epochs": 25}})

    older = run({"status": "completed", "epochs_completed": 25})
    newer = run({"status": "completed", "stop_reason": "max_epochs", "epochs_completed": 25})
    assert stop_text([older, newer]) == "25, 25 (max_epochs)"
    short = run(
        {"status": "completed", "epochs_completed": 3}
    )  # fewer epochs than configured: say only what it says
    assert stop_text([short, newer]) == "3 (completed), 25 (max_epochs)"
