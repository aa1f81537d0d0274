"""A sweep read by the metric its pick ranks by, a pick told from a tie by the spread between seeds,
and the lab's figures beside ours with their spread (vu3a q3.17's review): each against a hand
calculation on fake runs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cnnlab.errors import ConfigError
from cnnlab.labs.book.labs import load_lab
from cnnlab.labs.book.render import build_lab

from .labfakes import TUNING_RECIPES, fake_run


def _lab(tmp_path: Path, text: str):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "x.yaml").write_text(text)
    return load_lab("x", tmp_path / "conf")


def _job(path: Path, test: list[float], val: list[float], overrides: list[str], name: str = "net") -> None:
    """A run monitored on validation accuracy (as vu3a's are): `val` per epoch in metrics.csv and in
    summary.json's final and best, `test` its test accuracy per epoch."""
    fake_run(path, test, overrides, name=name)
    metrics = pd.read_csv(path / "metrics.csv")
    metrics["val_acc"] = val
    metrics.to_csv(path / "metrics.csv", index=False)
    summary = json.loads((path / "summary.json").read_text())
    best = max(range(len(val)), key=lambda i: val[i])
    summary["monitor"] = "val_acc"
    summary["final"]["val_acc"] = val[-1]
    summary["best"] = {"metric": "val_acc", "value": val[best], "epoch": best + 1}
    (path / "summary.json").write_text(json.dumps(summary))


SWEEP = """
title: x
text: x.md
recipes:
  s:
    sweep: [vu3a/q3_17_gp, vu3a/q3_17_resize]
    grid: {optimizer.lr: [0.1, 0.01], trainer.batch_size: [4, 16]}
    select: final
sections:
  - ids: [q1]
    question: two nets, lr x batch
    recipes: [s]
    answers: {q1: "{s:jobs} jobs"}
    analysis:
      - {kind: sweep, sweep: s}
"""
# (net, lr, batch) -> (final test accuracy, final validation accuracy): on test lr 0.1 ends highest
# for both nets, on validation lr 0.01 does.
FINALS = {
    ("gp", "0.1", "4"): (0.95, 0.80),
    ("gp", "0.1", "16"): (0.94, 0.82),
    ("gp", "0.01", "4"): (0.90, 0.90),
    ("gp", "0.01", "16"): (0.91, 0.86),
    ("resize", "0.1", "4"): (0.85, 0.60),
    ("resize", "0.1", "16"): (0.84, 0.62),
    ("resize", "0.01", "4"): (0.70, 0.70),
    ("resize", "0.01", "16"): (0.71, 0.66),
}


def test_a_sweep_ranks_its_jobs_by_the_metric_its_pick_uses_within_each_net(tmp_path):
    lab = _lab(tmp_path, SWEEP)
    for job, ((net, lr, bs), (test, val)) in enumerate(FINALS.items()):
        overrides = [f"experiment=vu3a/q3_17_{net}", f"optimizer.lr={lr}", f"trainer.batch_size={bs}"]
        _job(tmp_path / "experiments" / "x" / "s" / str(job), [test - 0.1, test], [val - 0.1, val], overrides)
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    # the table ranks by validation accuracy, the pick's metric, and shows test accuracy beside it
    assert "ranked by validation accuracy as its pick is (`select: final`)" in readme
    assert (
        "| job | status | epochs | final train loss | final validation accuracy | best (epoch) | "
        "largest fall between epochs | final test accuracy | wall time |" in readme
    )
    assert (
        "| experiment=vu3a/q3_17_gp lr=0.1 batch_size=4 | completed | 2 | 0.45 | 80.00% | 80.00% (epoch 2) |"
        in (readme)
    )
    # highest and lowest by final validation accuracy, within each net (by test: gp lr=0.1 bs=4, 95%)
    assert (
        "Of the 4 jobs with experiment=vu3a/q3_17_gp in `s`, lr=0.01 batch_size=4 ends highest "
        "(validation accuracy 90.00%) and lr=0.1 batch_size=4 lowest (80.00%)." in readme
    )
    assert (
        "Of the 4 jobs with experiment=vu3a/q3_17_resize in `s`, lr=0.01 batch_size=4 ends highest "
        "(validation accuracy 70.00%) and lr=0.1 batch_size=4 lowest (60.00%)." in readme
    )
    # each key's effect averaged within one net, never across the two; by hand for gp: lr 0.1
    # (80 + 82) / 2 = 81, lr 0.01 (90 + 86) / 2 = 88; batch 4 (80 + 90) / 2 = 85, 16 (82 + 86) / 2 = 84
    assert (
        "Final validation accuracy of the jobs with experiment=vu3a/q3_17_gp averaged over the other keys' "
        "values, by lr 0.1 81.00%, 0.01 88.00%; by batch_size 4 85.00%, 16 84.00%." in readme
    )
    assert "by experiment" not in readme
    # the scoreboard names each net's pick by the same metric
    assert (
        "| best experiment=vu3a/q3_17_gp lr=0.01 batch_size=4: validation accuracy 90.00%; "
        "best experiment=vu3a/q3_17_resize lr=0.01 batch_size=4: validation accuracy 70.00% |" in readme
    )


TUNED = (
    TUNING_RECIPES
    + """  tuned:
    run: vu3a/q3_17_gp
    at_best: {sweep: bs, key: [optimizer.lr, trainer.batch_size]}
    seeds: [0, 1, 2]
sections:
  - ids: [q3.17]
    question: tuning
    recipes: [lr, bs, tuned]
    answers: {q3.17: "lr {bs:best_override.optimizer.lr}, test {tuned:final.test_acc}"}
    analysis:
      - kind: tuned
        nets: [{label: net, lr_sweep: lr, name: net, bs_sweep: bs, lr_seeds: tuned, bs_seeds: tuned}]
    reference:
      - {label: test accuracy, lab: 80.0, unit: "%", ours: "tuned:final.test_acc", tolerance: 0.5}
      - label: best lr
        lab: 0.01
        unit: ""
        ours: "bs:best_override.optimizer.lr"
        pick: {sweep: lr, name: net, seeds: tuned}
      - label: best batch size
        lab: 4
        unit: ""
        ours: "bs:best_override.trainer.batch_size"
        pick: {sweep: bs, seeds: tuned}
"""
)


def _tuning(root: Path, seed_vals: list[float]) -> None:
    """lr 0.01 ends 1 point above lr 0.1 on validation (91% against 90%); batch 16 ends 3 points above
    batch 4 (88% against 85%); the tuned net's seeds end at `seed_vals` on validation."""
    _job(root / "lr" / "a", [0.5, 0.95], [0.5, 0.90], ["optimizer.lr=0.1"])
    _job(root / "lr" / "b", [0.5, 0.80], [0.5, 0.91], ["optimizer.lr=0.01"])
    _job(root / "bs" / "a", [0.5, 0.86], [0.5, 0.85], ["optimizer.lr=0.01", "trainer.batch_size=4"])
    _job(root / "bs" / "b", [0.5, 0.87], [0.5, 0.88], ["optimizer.lr=0.01", "trainer.batch_size=16"])
    for seed, val in enumerate(seed_vals):
        _job(root / "tuned" / f"seed{seed}", [0.5, val + 0.01], [0.5, val], [f"trainer.seed={seed}"])


def test_a_pick_closer_to_its_runner_up_than_the_seed_spread_reads_as_a_tie(tmp_path):
    lab = _lab(tmp_path, TUNED)
    # seeds 86%, 88%, 90%: mean 88%, sample std sqrt((4 + 0 + 4) / 2) = 2 points. lr leads by 1 point
    # (a tie), batch by 3 points (beyond the spread).
    _tuning(tmp_path / "experiments" / "x", [0.86, 0.88, 0.90])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| net | 0.01 (91.00%; a tie) | 16 (88.00%, epoch 2) | 87.00% |" in readme
    assert (
        "Net's picks against the spread between seeds: lr 0.01 leads lr 0.1 by 1.00 points of validation "
        "accuracy at the last epoch, less than the 2.00-point sample standard deviation of tuned's 3 seeds: "
        "a tie within the seed spread, not a finding; batch 16 leads batch 4 by 3.00 points of validation "
        "accuracy at the last epoch, more than the 2.00-point sample standard deviation of tuned's 3 seeds: "
        "a lead beyond the seed spread." in readme
    )
    # the lab's figures: a seeded value with its spread and n (test 87%, 89%, 91%: 89 ± 2), a pick equal
    # to the lab's that is a tie said to be one, never "Ours equals the lab's figure" flatly
    assert "| test accuracy | 80.00% | 89.00 ± 2.00% (n=3) | +9.00 points |" in readme
    assert "| best lr | 0.01 | 0.01 (a tie within the seed spread) | +0 |" in readme
    assert "| best batch size | 4 | 16 | +12 |" in readme
    assert "test accuracy: ours 89.00 ± 2.00% (n=3) differs from the lab's 80.00% by +9.00 points." in readme
    assert (
        "best lr: ours 0.01 equals the lab's 0.01, but lr=0.01 leads lr=0.1 by 1.00 points of validation "
        "accuracy at the last epoch, less than the 2.00-point sample standard deviation of tuned's 3 "
        "seeds: a tie within the seed spread, not a finding." in readme
    )
    assert "best batch size: ours 16 differs from the lab's 4 by +12, and batch_size=16 leads" in readme
    assert "Ours equals the lab's figure" not in readme


def test_a_pick_beyond_a_narrow_seed_spread_is_no_tie(tmp_path):
    lab = _lab(tmp_path, TUNED)
    # seeds 88.0%, 88.1%, 88.2%: sample std 0.1 points, below both leads (1 and 3 points)
    _tuning(tmp_path / "experiments" / "x", [0.880, 0.881, 0.882])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| net | 0.01 (91.00%) | 16 (88.00%, epoch 2) |" in readme and "a tie" not in readme
    assert "more than the 0.10-point sample standard deviation of tuned's 3 seeds" in readme


SCOREBOARD = """
title: x
text: x.md
recipes:
  a: {run: rdfia/q15, seeds: [0, 1, 2]}
sections:
  - ids: [q1]
    question: one net
    recipes: [a]
    answers: {q1: "validation accuracy {a:final.val_acc}"}
    scoreboard: "validation accuracy {a:final.val_acc}"
    analysis:
      - {kind: runs, runs: [a]}
"""


def test_the_scoreboard_reads_the_metric_the_section_answers_with(tmp_path):
    lab = _lab(tmp_path, SCOREBOARD)
    for seed, val in enumerate([0.70, 0.72, 0.75]):
        _job(tmp_path / "experiments" / "x" / "a" / f"seed{seed}", [0.5, val + 0.1], [0.5, val], [])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    # by hand: mean 72.33%, sample std 2.52 points (tests/test_lab_seeds.py); test accuracy would be 82.33%
    board = readme.split("## Scoreboard", 1)[1].split("\n## ", 1)[0]
    assert "| q1 | one net | - | validation accuracy 72.33 ± 2.52% (n=3) |" in board
    assert "test accuracy" not in board
    with pytest.raises(ConfigError, match="scoreboard"):
        _lab(
            tmp_path,
            SCOREBOARD.replace(
                '"validation accuracy {a:final.val_acc}"\n    analysis', '"typed"\n    analysis'
            ),
        )


def test_a_pick_names_a_sweep_and_a_seeded_recipe(tmp_path):
    with pytest.raises(ConfigError, match="has pick="):
        _lab(tmp_path, TUNED.replace("pick: {sweep: bs, seeds: tuned}", "pick: {sweep: bs, seeds: lr}"))
    with pytest.raises(ConfigError, match="has pick="):
        _lab(tmp_path, TUNED.replace("pick: {sweep: bs, seeds: tuned}", "pick: {sweep: tuned, seeds: tuned}"))
