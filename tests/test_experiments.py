"""experiments/: full-budget artefacts are collected from LAB_OUT, and the READMEs are rendered from
them alone, one row per LABS.md id, with readings computed from the numbers."""

from __future__ import annotations

import filecmp
import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cnnlab.compare.plots import MAX_CURVE_RUNS
from cnnlab.errors import ConfigError
from cnnlab.experiments import main
from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.collect import collect_lab
from cnnlab.labs.book.labs import all_labs, load_lab
from cnnlab.labs.book.render import END, START, build_all, build_lab

from .labfakes import TUNING_RECIPES, fake_recipe, fake_run
from .test_labs_targets import lab_question_ids

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    """experiments/ collected from fake full-budget outputs of every recipe, and the READMEs built."""
    tmp = tmp_path_factory.mktemp("labs")
    lab_out, out = tmp / "lab_out", tmp / "experiments"
    for lab in all_labs():
        for recipe in lab.recipes.values():
            fake_recipe(lab, recipe, lab_out)
            if recipe.trains:
                fake_recipe(lab, recipe, lab_out, budget="smoke")
        collect_lab(lab, lab_out, out)
    readme = tmp / "README.md"
    readme.write_text(f"# x\n\n{START}\n{END}\n\nafter\n")
    build_all(out, readme)
    return tmp


def _rows(readme: str) -> dict[str, str]:
    """id -> answer cell of every section's answer table."""
    rows = {}
    for section in readme.split("\n## ")[1:]:
        if "| id | answer (measured) |" not in section:
            continue
        answers = section.split("| id | answer (measured) |\n|---|---|\n", 1)[1].split("\n\n", 1)[0]
        for line in answers.splitlines():
            ident, answer = re.fullmatch(r"\| ([a-z0-9.]+) \| (.*) \|", line).groups()
            rows[ident] = answer
    return rows


def test_collect_copies_small_full_budget_files_only(full):
    out = full / "experiments"
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for seed in ("seed0", "seed1", "seed2"):  # a seeded recipe: one run dir per seed
        run = {f"rdfia/q15/{seed}/{name}" for name in ("summary.json", "metrics.csv", "config.yaml")}
        assert run <= files
    assert "rdfia/q15/wall_times.json" in files and "rdfia/q15/summary.json" not in files
    assert "rdfia/q16/0/summary.json" in files
    assert "rdfia/q16/summary.csv" in files and "rdfia/q16/wall_times.json" in files
    assert "dd2427/t16_bs16/seed0/images_train.png" in files and "mainf6/c/results.json" in files
    assert "keras7/sobel_keras7/results.json" in files and "keras7/sobel_keras7/sobel_keras7.png" in files
    assert not [f for f in files if "checkpoints" in f or "tfevents" in f or ".hydra" in f]
    budgets = {json.loads(p.read_text())["name"] for p in out.rglob("summary.json")}
    assert budgets and all("smoke" not in str(p) for p in out.rglob("*"))


def test_collect_skips_smoke_and_unfinished_runs(tmp_path):
    lab = load_lab("keras7")
    fake_run(tmp_path / "out" / "smoke" / "keras7" / "e1", [0.5], budget="smoke")
    assert collect_lab(lab, tmp_path / "out", tmp_path / "exp") == {}
    fake_run(tmp_path / "out" / "full" / "keras7" / "e1", [0.5, 0.6])
    summary = tmp_path / "out" / "full" / "keras7" / "e1" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "status": "running"}))
    assert collect_lab(lab, tmp_path / "out", tmp_path / "exp") == {}
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "status": "completed"}))
    assert collect_lab(lab, tmp_path / "out", tmp_path / "exp") == {"e1": 4}


def test_a_gpu_collect_keeps_the_cpu_wall_time(tmp_path):
    """Collected from the 2-core machine, then from a GPU one: the scoreboard shows both times."""
    lab = load_lab("keras7")
    fake_run(tmp_path / "cpu" / "full" / "keras7" / "e1", [0.5, 0.6])
    fake_run(tmp_path / "gpu" / "full" / "keras7" / "e1", [0.5, 0.61] * 3, device="cuda:0")
    for machine in ("cpu", "gpu"):
        collect_lab(lab, tmp_path / machine, tmp_path / "exp")
    walls = json.loads((tmp_path / "exp" / "keras7" / "e1" / "wall_times.json").read_text())
    assert walls == {"cpu": 200.0, "gpu": 600.0}
    readme = build_lab(lab, tmp_path / "exp")[0].read_text()
    assert "| e1 | " in readme and "| 3 min | 10 min |" in readme and "61.00%" in readme


def test_every_labs_md_id_has_a_row_with_a_measured_number(full, labs_md):
    ids = lab_question_ids(labs_md.read_text())
    for lab in ("dd2427", "keras7", "mainf6", "vu3a", "rdfia"):
        rows = _rows((full / "experiments" / lab / "README.md").read_text())
        wanted = [i.split("-", 1)[1] for i in ids if i.startswith(lab + "-")]
        assert sorted(rows) == sorted(wanted), lab
        for ident, answer in rows.items():
            assert re.search(r"\d", answer) and "not yet" not in answer, (lab, ident, answer)


def test_no_table_or_figure_is_repeated(full):
    for lab in all_labs():
        readme = (full / "experiments" / lab.name / "README.md").read_text()
        tables = [t for t in re.findall(r"((?:^\|.*\|\n)+)", readme, re.M) if "| id |" not in t]
        assert len(tables) == len(set(tables)), lab.name
    digests = [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in (full / "experiments").rglob("figures/*.png")
    ]
    assert digests and len(digests) == len(set(digests))


def test_report_is_deterministic_from_experiments_alone(full, tmp_path):
    shutil.copytree(full / "experiments", tmp_path / "experiments")
    shutil.copyfile(full / "README.md", tmp_path / "README.md")
    build_all(tmp_path / "experiments", tmp_path / "README.md")
    compared = filecmp.dircmp(full / "experiments", tmp_path / "experiments")
    assert not compared.diff_files and not compared.left_only and not compared.right_only
    for lab in all_labs():
        sub = filecmp.dircmp(
            full / "experiments" / lab.name / "figures", tmp_path / "experiments" / lab.name / "figures"
        )
        _, mismatch, errors = filecmp.cmpfiles(sub.left, sub.right, sub.common_files, shallow=False)
        assert not mismatch and not errors
        assert (full / "experiments" / lab.name / "README.md").read_bytes() == (
            tmp_path / "experiments" / lab.name / "README.md"
        ).read_bytes()
    assert (full / "README.md").read_text() == (tmp_path / "README.md").read_text()


def test_committed_readmes_are_what_report_writes(tmp_path):
    """A fresh clone: `make report` on the committed experiments/ gives the committed READMEs."""
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    shutil.copyfile(ROOT / "README.md", tmp_path / "README.md")
    build_all(tmp_path / "experiments", tmp_path / "README.md")
    for lab in all_labs():
        assert (tmp_path / "experiments" / lab.name / "README.md").read_bytes() == (
            ROOT / "experiments" / lab.name / "README.md"
        ).read_bytes()
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.glob("experiments/*/figures/*.png"))
    assert written == sorted(p.relative_to(ROOT) for p in ROOT.glob("experiments/*/figures/*.png"))
    assert all((tmp_path / p).read_bytes() == (ROOT / p).read_bytes() for p in written)
    assert (tmp_path / "README.md").read_bytes() == (ROOT / "README.md").read_bytes()


def test_scoreboards_have_every_training_question(full):
    main_readme = (full / "README.md").read_text()
    assert main_readme.endswith("after\n") and main_readme.count(START) == 1
    for lab in all_labs():
        readme = (full / "experiments" / lab.name / "README.md").read_text()
        board = readme.split("## Scoreboard", 1)[1].split("\n## ", 1)[0]
        for section in lab.sections:
            if any(lab.recipes[f].trains for f in section.recipes):
                row = next(
                    line for line in board.splitlines() if line.startswith(f"| {', '.join(section.ids)} |")
                )
                assert "not yet" not in row and re.search(r"\d", row.split(" | ")[3]), row
                assert f"| {lab.name} | {', '.join(section.ids)} |" in main_readme
    assert "not yet measured" not in main_readme
    walls = re.findall(r"^\| rdfia \| (q[^|]*) \|.*\| (\d+ min|-) \| - \|$", main_readme, re.M)
    # each run's wall time is counted once, in the first section that uses it; a seeded recipe (three
    # fake seeds of 6, 5 and 6 epochs, 100 s each) counts all its seeds
    assert (
        dict(walls)["q15, q18"] == "28 min" and dict(walls)["q17"] == "-" and dict(walls)["q34"] == "28 min"
    )


def _lab_with(tmp_path, yaml_text: str):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "x.yaml").write_text(yaml_text)
    return load_lab("x", tmp_path / "conf")


ONE_RUN = """
title: x
text: x.md
recipes:
  q15: {run: rdfia/q15}
sections:
  - ids: [q15, q17]
    question: the net
    recipes: [q15]
    answers: {q15: "final {q15:final.test_acc}", q17: "start {q15:initial.test_acc|error}"}
    analysis:
      - {kind: runs, runs: [q15]}
      - {kind: initial, run: q15}
    reference:
      - {label: test accuracy, lab: 80.0, unit: "%", ours: "q15:final.test_acc", tolerance: 1.0}
"""


def test_readings_follow_the_numbers(tmp_path):
    lab = _lab_with(tmp_path, ONE_RUN)
    losses = [2.0 - 0.1 * i for i in range(11)] + [0.94 + 0.0642 * i for i in range(1, 20)]
    losses[10] = 0.94
    accs = [0.3 + 0.01 * i for i in range(30)]
    fake_run(tmp_path / "experiments" / "x" / "q15", accs, test_loss=losses)
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert (
        "test loss is lowest at epoch 11 (0.94) and rises to 2.16 by epoch 30, "
        "while its train loss falls from 0.0818 to 0.03: the net over-fits" in readme
    )
    assert "| q15 | final 59.00% |" in readme and "| q17 | start 90.10% |" in readme
    assert "ours 59.00% differs from the lab's 80.00% by -21.00 points" in readme
    assert "| test accuracy | 80.00% | 59.00% | -21.00 points |" in readme
    assert "Before any step the error is 90.00% on train and 90.10% on test" in readme
    assert "ln(10) = 2.303" in readme


def test_chance_level_runs_are_marked_and_smoke_runs_never_answer(tmp_path):
    lab = _lab_with(tmp_path, ONE_RUN)
    run = tmp_path / "experiments" / "x" / "q15"
    fake_run(run, [0.1, 0.11], budget="smoke")
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "not yet run at full budget: `make x-q15`" in readme and "11.00%" not in readme
    shutil.rmtree(run)
    fake_run(run, [0.1, 0.11])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert (
        "q15 stays at chance level: test accuracy 11.00% after 2 epochs, "
        "against 10% for guessing among 10 classes" in readme
    )


def test_registry_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="recipe 'q99'"):
        _lab_with(tmp_path, ONE_RUN.replace("recipes: [q15]", "recipes: [q99]"))
    with pytest.raises(ConfigError, match="one answer template per id"):
        _lab_with(tmp_path, ONE_RUN.replace('q17: "start', 'q18: "start'))


def test_best_prints_the_best_jobs_override_at_any_budget(tmp_path, capsys):
    for job, (lr, acc) in enumerate((("0.001", [0.9, 0.96]), ("0.002", [0.95, 0.97]))):
        fake_run(tmp_path / str(job), acc, [f"optimizer.lr={lr}"], budget="smoke", name="net")
    main(["best", str(tmp_path), "--key", "optimizer.lr", "--name", "net"])
    assert capsys.readouterr().out.strip() == "0.002"
    with pytest.raises(SystemExit) as exit_info:
        main(["best", str(tmp_path), "--key", "optimizer.lr", "--name", "other"])
    assert exit_info.value.code == 2


def test_values_are_formatted_by_unit(full):
    lab = load_lab("keras7")
    art = LabArtefacts(lab, full / "experiments")
    assert art.fill("{e1:final.test_acc}") == "55.00%" and art.fill("{e1:initial.test_acc|error}") == "90.10%"
    assert art.fill("{e1:wall_s|s}") == "10 min" and art.fill("{e1:n_params}") == "1,234"


TWO_RUNS = """
title: x
text: x.md
recipes:
  a: {run: mainf6/a1}
  b: {run: mainf6/a2}
sections:
  - ids: [a3]
    question: both
    recipes: [a, b]
    answers: {a3: "b {b:final.test_acc}, a {a:final.test_acc}, a's missing column {a:last.val_psnr}"}
    analysis:
      - {kind: runs, runs: [a, b], compare: true}
      - {kind: expect, claim: "b beats a", higher: "b:final.test_acc", lower: "a:final.test_acc"}
"""


@pytest.mark.parametrize(
    ("a", "b", "verdict"), [(0.5, 0.6, "As the lab expects"), (0.6, 0.5, "Unlike what the lab expects")]
)
def test_what_the_lab_expects_is_checked_against_ours(tmp_path, a, b, verdict):
    lab = _lab_with(tmp_path, TWO_RUNS)
    fake_run(tmp_path / "experiments" / "x" / "a", [0.3, a])
    fake_run(tmp_path / "experiments" / "x" / "b", [0.3, b])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    ours = f"b {100 * b:.2f}% against a {100 * a:.2f}%"
    assert f"{verdict} (b beats a): {ours}." in readme
    assert "not recorded in experiments/x/a: last.val_psnr" in readme
    assert f"Final test accuracy: {'b' if b > a else 'a'} {100 * max(a, b):.2f}%" in readme


@pytest.mark.parametrize(
    ("b", "verdict"),
    [
        (0.505, "agrees in direction only"),
        (0.52, "As the lab expects"),
        (0.4963, "ours shows no clear difference"),
        (0.48, "Unlike what the lab expects"),
    ],
)
def test_a_gap_below_the_margin_is_not_called_the_labs_effect(tmp_path, b, verdict):
    with_margin = TWO_RUNS.replace('lower: "a:final.test_acc"}', 'lower: "a:final.test_acc", margin: 1.0}')
    lab = _lab_with(tmp_path, with_margin)
    fake_run(tmp_path / "experiments" / "x" / "a", [0.3, 0.5])
    fake_run(tmp_path / "experiments" / "x" / "b", [0.3, b])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert verdict in readme
    if b == 0.505:
        assert "b 50.50% against a 50.00%, 0.50 points apart, less than the 1.00 points" in readme
    if b == 0.4963:
        assert "b 49.63% against a 50.00%, 0.37 points the other way, less than the 1.00 points" in readme


def test_maxfall_is_the_largest_fall_between_epochs_in_points(tmp_path):
    lab = _lab_with(tmp_path, TWO_RUNS)
    fake_run(tmp_path / "experiments" / "x" / "a", [0.30, 0.50, 0.45, 0.60, 0.52, 0.70])
    fake_run(tmp_path / "experiments" / "x" / "b", [0.30, 0.40, 0.50])
    art = LabArtefacts(lab, tmp_path / "experiments")
    assert art.fill("{a:maxfall.test_acc|points}") == "8.00 points"  # 0.60 -> 0.52
    assert art.fill("{b:maxfall.test_acc|points}") == "0.00 points"  # it never falls


def test_firstoverlast_is_the_first_epochs_value_over_the_last(tmp_path):
    lab = _lab_with(tmp_path, TWO_RUNS)
    fake_run(tmp_path / "experiments" / "x" / "a", [0.30, 0.50, 0.60])
    art = LabArtefacts(lab, tmp_path / "experiments")
    assert art.fill("{a:firstoverlast.test_acc|x}") == "0.5x"  # 0.30 / 0.60
    assert art.fill("{a:trainminus.test_acc|points}") == "2.00 points"  # fake train_acc is test_acc + 0.02


def test_committed_readmes_have_a_row_per_labs_md_id(labs_md):
    ids = lab_question_ids(labs_md.read_text())
    for lab in ("dd2427", "keras7", "mainf6", "vu3a", "rdfia"):
        rows = _rows((ROOT / "experiments" / lab / "README.md").read_text())
        assert sorted(rows) == sorted(i.split("-", 1)[1] for i in ids if i.startswith(lab + "-"))
        assert not any("%" in a for a in rows.values() if "not yet run" in a)


SWEEP = """
title: x
text: x.md
recipes:
  q28: {sweep: rdfia/q26, grid: {scheduler: [cosine, onecycle, cosine_warmup]}}
sections:
  - ids: [q28]
    question: schedules
    recipes: [q28]
    answers: {q28: "best {q28:best_override.scheduler} of {q28:jobs}"}
    analysis:
      - {kind: sweep, sweep: q28}
"""


def test_a_sweep_answers_once_every_job_finished_and_a_job_that_diverged_at_once_is_a_row(tmp_path):
    lab = _lab_with(tmp_path, SWEEP)
    sweep = tmp_path / "experiments" / "x" / "q28"
    for job, (scheduler, acc) in enumerate((("cosine", 0.5), ("onecycle", 0.7))):
        fake_run(sweep / str(job), [acc - 0.1, acc], [f"scheduler={scheduler}"])
    cosine = sweep / "0"
    (cosine / "metrics.csv").write_text((cosine / "metrics.csv").read_text().splitlines()[0] + "\n")
    summary = json.loads((cosine / "summary.json").read_text())
    summary |= {"status": "diverged", "epochs_completed": 0, "final": {}, "best": None}
    summary["message"] = "the training loss became nan at step 100 in epoch 1; the run stopped."
    (cosine / "summary.json").write_text(json.dumps(summary))
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "x/q28 (2 of 3 jobs finished)" in readme and "| q28 | not yet run at full budget" in readme
    fake_run(sweep / "2", [0.6, 0.65], ["scheduler=cosine_warmup"])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| q28 | best onecycle of 3 |" in readme
    assert "| scheduler=cosine | diverged | 0 | - | - | - | - |" in readme
    assert (
        "Of the 2 jobs with a finished epoch of `q28`, scheduler=onecycle ends highest (test accuracy 70.00%)"
        in readme
    )
    assert "Diverged: scheduler=cosine (the training loss became nan at step 100 in epoch 1)." in readme


def test_a_two_key_sweep_reads_each_keys_effect_and_each_jobs_largest_fall(tmp_path):
    lab = _lab_with(
        tmp_path, SWEEP.replace("{scheduler: [cosine, onecycle, cosine_warmup]}", "{a: [1, 2], b: [x, y]}")
    )
    finals = {("1", "x"): 0.50, ("1", "y"): 0.60, ("2", "x"): 0.70, ("2", "y"): 0.90}
    for job, ((a, b), acc) in enumerate(finals.items()):
        fake_run(
            tmp_path / "experiments" / "x" / "q28" / str(job),
            [acc, acc - 0.04 * job, acc],
            [f"a={a}", f"b={b}"],
        )
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "by a 1 55.00%, 2 80.00%; by b x 60.00%, y 75.00%." in readme
    assert "| a=2 b=y | completed | 3 | 0.3 | 90.00% | 90.00% (epoch 1) | 12.00 points |" in readme


def test_a_job_at_its_best_where_its_schedule_annealed_the_lr_is_not_read_as_still_rising(tmp_path):
    """A cosine job ends at its best because its lr has gone to nearly 0, not because a budget cut it off."""
    lab = _lab_with(tmp_path, SWEEP)
    sweep = tmp_path / "experiments" / "x" / "q28"
    for job, scheduler in enumerate(("cosine", "onecycle", "cosine_warmup")):
        fake_run(sweep / str(job), [0.4, 0.5, 0.6], [f"scheduler={scheduler}"])
    metrics = pd.read_csv(sweep / "0" / "metrics.csv")
    metrics["lr"] = [0.1, 0.05, 0.005]  # 5% of its peak: annealed
    metrics.to_csv(sweep / "0" / "metrics.csv", index=False)
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "still rising when the budget ends: scheduler=onecycle, scheduler=cosine_warmup." in readme
    assert "annealed the learning rate to 5% of its peak or less" in readme
    assert "ends their rise: scheduler=cosine." in readme
    assert "All jobs but" not in readme and "Every job reaches" not in readme


def test_a_sweep_names_a_job_by_its_overrides_and_reads_how_each_job_got_there(tmp_path):
    grid = SWEEP.replace("{scheduler: [cosine, onecycle, cosine_warmup]}", "{optimizer.lr: [0.1, 0.01]}")
    lab = _lab_with(
        tmp_path,
        grid.replace("best {q28:best_override.scheduler} of {q28:jobs}", "{q28:job[lr=0.1].max.test_acc}"),
    )
    fake_run(tmp_path / "experiments" / "x" / "q28" / "0", [0.3, 0.6, 0.45, 0.5], ["optimizer.lr=0.1"])
    fake_run(tmp_path / "experiments" / "x" / "q28" / "1", [0.3, 0.4, 0.5, 0.55], ["optimizer.lr=0.01"])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| q28 | 60.00% |" in readme
    assert (
        "lr=0.1 ends 10.00 points below its best (60.00% at epoch 2), with a fall of up to 15.00 points "
        "from one epoch to the next." in readme
    )
    assert "At a new high in their last epoch, still rising when the budget ends: lr=0.01." in readme
    art = LabArtefacts(lab, tmp_path / "experiments")
    assert art.fill("{q28:job[optimizer.lr=0.01].argmax.test_acc}") == "4"
    with pytest.raises(ValueError, match=r"job\[lr=0.5\] in a q28 reference matches 0 of its 2 jobs"):
        art.fill("{q28:job[lr=0.5].last.test_acc}")


def test_a_sweeps_jobs_come_in_the_order_of_their_values_not_of_their_names(tmp_path):
    from cnnlab.labs.book.artefacts import read_sweep

    for bs in (16, 4, 64, 32):
        fake_run(tmp_path / "bs" / f"trainer.batch_size={bs}", [0.5], [f"trainer.batch_size={bs}"])
    for job in (10, 2, 1):
        fake_run(tmp_path / "numbered" / str(job), [0.5])
    assert [r.path.name for r in read_sweep(tmp_path / "bs")] == [
        f"trainer.batch_size={b}" for b in (4, 16, 32, 64)
    ]
    assert [r.path.name for r in read_sweep(tmp_path / "numbered")] == ["1", "2", "10"]


def test_a_sweep_of_more_jobs_than_curves_can_show_plots_its_scores_against_the_swept_value(tmp_path):
    lrs = [round(0.001 * (i + 1), 3) for i in range(MAX_CURVE_RUNS + 1)]
    lab = _lab_with(
        tmp_path, SWEEP.replace("{scheduler: [cosine, onecycle, cosine_warmup]}", f"{{optimizer.lr: {lrs}}}")
    )
    for job, lr in enumerate(lrs):
        fake_run(
            tmp_path / "experiments" / "x" / "q28" / str(job), [0.5, 0.9 - lr * 10], [f"optimizer.lr={lr}"]
        )
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    figure = "best and final test accuracy of each job against optimizer.lr, sweep q28](figures/q28_1.png)"
    assert figure in readme and "curves of the sweep" not in readme
    png = tmp_path / "experiments" / "x" / "figures" / "q28_1.png"
    assert png.read_bytes().startswith(b"\x89PNG")


def test_a_sweeps_wall_time_counts_jobs_that_trained_side_by_side_once():
    import pandas as pd

    from cnnlab.labs.book.artefacts import device_walls
    from cnnlab.labs.book.collected_run import CollectedRun

    def job(start_s: int, wall_s: float) -> CollectedRun:
        started = f"2026-11-23T21:{start_s // 60:02d}:{start_s % 60:02d}+00:00"
        end = start_s + int(wall_s)
        beat = f"2026-11-23T21:{end // 60:02d}:{end % 60:02d}+00:00"
        summary = {"device": "cpu", "wall_s": wall_s, "started": started, "heartbeat": beat}
        return CollectedRun(Path("j"), summary, pd.DataFrame(), {})

    assert device_walls([job(0, 100), job(10, 100)]) == {"cpu": 110.0}
    assert device_walls([job(0, 100), job(500, 100)]) == {"cpu": 200.0}
    assert device_walls([job(0, 100)]) == {"cpu": 100.0}


def test_a_layer_trend_says_whether_it_holds_at_every_layer():
    from cnnlab.labs.book.kinds.layers import _trend

    rows = [("conv1", {"f": 0.6}), ("conv2", {"f": 0.4}), ("conv3", {"f": 0.45}), ("conv4", {"f": 0.3})]
    assert _trend(rows, "f") == (
        "The f falls from 0.6 at conv1 to 0.3 at conv4, but not at every layer: "
        "conv3 (0.45) is above conv2 (0.4)."
    )
    assert _trend([rows[0], rows[1], rows[3]], "f").endswith("to 0.3 at conv4, falling at every layer.")
    assert (
        _trend([rows[3], rows[1]], "f")
        == "The f rises from 0.3 at conv4 to 0.4 at conv2, rising at every layer."
    )
    flat = [rows[0], ("conv2", {"f": 0.6})]
    assert _trend(flat, "f") == "The f is 0.6 at both conv1 and conv2, and at every layer between."
    assert _trend([*flat, rows[2], ("conv4", {"f": 0.6})], "f").endswith(
        "but not at every layer: conv3 has 0.45."
    )
    assert _trend(rows, "f", percent=True).startswith("The f falls from 60.00% at conv1 to 30.00% at conv4")


def test_a_wall_time_reads_in_seconds_minutes_or_hours_and_minutes():
    """Below 2 min in seconds, below an hour in whole minutes, from an hour on always as h and min (never
    118 min beside 2 h 00 min): minutes rounded to the nearest."""
    from cnnlab.labs.book.formatting import seconds

    assert [seconds(s) for s in (4.26, 61.4, 119.4, 125, 1799.9, 3569)] == [
        "4.3 s",
        "61 s",
        "119 s",
        "2 min",
        "30 min",
        "59 min",
    ]
    # 3590 s = 59.8 min rounds to an hour; 7080 s = 118 min; 7199 s = 119.98 min; 99,780 s = 1663 min
    assert [seconds(s) for s in (3590, 3600, 7080, 7199, 8040, 99780)] == [
        "1 h 00 min",
        "1 h 00 min",
        "1 h 58 min",
        "2 h 00 min",
        "2 h 14 min",
        "27 h 43 min",
    ]
    assert seconds(float("nan")) == "-"


def test_pctrange_gives_a_lists_smallest_and_largest_share():
    from cnnlab.labs.book.formatting import fmt_value

    assert fmt_value([0.5, 0.0007, 1.0], "q17_by_init", "pctrange") == "0.07% to 100.00%"


REASONED = ONE_RUN.replace(
    "text: x.md\n",
    'text: x.md\nsetup:\n  - {what: data, lab: "their copy", ours: "a | b copy",'
    ' why: "offline; {q15:n_params} weights"}\n',
).replace(
    "    analysis:\n      - {kind: runs, runs: [q15]}",
    "    reasons:\n"
    "      q15: |\n"
    "        Because $\\frac{a}{b}$ and the net ends at {q15:final.test_acc}\n"
    "        after {q15:epochs} epochs.\n"
    "    analysis:\n      - {kind: runs, runs: [q15]}",
)


def test_reasons_follow_the_answers_and_a_value_not_yet_measured_names_its_target(tmp_path):
    lab = _lab_with(tmp_path, REASONED)
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert (
        "**q15, the reasoning.** Because $\\frac{a}{b}$ and the net ends at "
        "*(not yet run at full budget: `make x-q15`)*\n"
        "after *(not yet run at full budget: `make x-q15`)* epochs." in readme
    )
    fake_run(tmp_path / "experiments" / "x" / "q15", [0.3, 0.5])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    answers, reason = readme.index("| q17 | start 90.10% |"), readme.index("**q15, the reasoning.**")
    assert answers < reason < readme.index("The lab's figures (typed in from the lab text) against ours")
    assert "the net ends at 50.00%\nafter 2 epochs." in readme
    assert "**q17, the reasoning.**" not in readme


def test_the_setup_table_opens_the_readme_before_the_scoreboard(tmp_path):
    lab = _lab_with(tmp_path, REASONED)
    fake_run(tmp_path / "experiments" / "x" / "q15", [0.3, 0.5])
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    table = (
        "## Our setup against the lab's\n\n| what | the lab's | ours | why |\n|---|---|---|---|\n"
        "| data | their copy | a \\| b copy | offline; 1,234 weights |\n"
    )
    assert table in readme and readme.index(table) < readme.index("## Scoreboard")
    assert (
        "## Our setup" not in build_lab(_lab_with(tmp_path, ONE_RUN), tmp_path / "experiments")[0].read_text()
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("    reasons:\n      q15:", "    reasons:\n      q99:"), "has reasons for \\['q99'\\]"),
        (("{q15:final.test_acc}\n", "{q98:final.test_acc}\n"), "names recipe 'q98'"),
        (('why: "offline; {q15:n_params} weights"', 'why: "{q97:n_params}"'), "names recipe 'q97'"),
        (("{what: data, lab:", "{lab:"), "exactly the keys"),
        (("q15: {run: rdfia/q15}", "q15: {run: rdfia/q15, select: final}"), "a sweep takes select"),
        (("q15: {run: rdfia/q15}", "q15: {run: rdfia/q15, at_best: {sweep: q15}}"), "at_best"),
    ],
)
def test_reasons_setup_and_selection_mistakes_are_named(tmp_path, change, message):
    assert change[0] in REASONED
    with pytest.raises(ConfigError, match=message):
        _lab_with(tmp_path, REASONED.replace(*change))


def _two_jobs(sweep: Path) -> None:
    """Job lr=0.1 peaks higher (0.9 at epoch 2) but ends lower (0.6) than job lr=0.01 (0.8 at the end)."""
    fake_run(sweep / "a", [0.5, 0.9, 0.6], ["optimizer.lr=0.1", "trainer.batch_size=4"], name="net")
    fake_run(sweep / "b", [0.5, 0.7, 0.8], ["optimizer.lr=0.01", "trainer.batch_size=16"], name="net")


def test_best_picks_by_the_best_or_the_final_epoch_and_prints_several_overrides(tmp_path, capsys):
    _two_jobs(tmp_path)
    main(["best", str(tmp_path), "--key", "optimizer.lr"])
    main(["best", str(tmp_path), "--key", "optimizer.lr", "--by", "final"])
    main(
        [
            "best",
            str(tmp_path),
            "--key",
            "optimizer.lr",
            "--key",
            "trainer.batch_size",
            "--by",
            "final",
            "--overrides",
        ]
    )
    assert capsys.readouterr().out.splitlines() == ["0.1", "0.01", "optimizer.lr=0.01 trainer.batch_size=16"]
    with pytest.raises(SystemExit) as exit_info:
        main(["best", str(tmp_path), "--key", "model.pool"])
    assert exit_info.value.code == 2
    assert "was not started with model.pool" in capsys.readouterr().err


def test_a_sweeps_select_rule_decides_its_best_job_in_references(tmp_path):
    text = SWEEP.replace(
        "q28: {sweep: rdfia/q26, grid: {scheduler: [cosine, onecycle, cosine_warmup]}}",
        "q28: {sweep: rdfia/q26, grid: {optimizer.lr: [0.1, 0.01]}, select: final}",
    ).replace('"best {q28:best_override.scheduler} of {q28:jobs}"', '"best {q28:best_override.optimizer.lr}"')
    _two_jobs(tmp_path / "experiments" / "x" / "q28")
    for selection, picked in (("final", "0.01"), ("best", "0.1")):
        lab = _lab_with(tmp_path, text.replace("select: final", f"select: {selection}"))
        readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
        assert f"| q28 | best {picked} |" in readme


TUNED = (
    TUNING_RECIPES
    + """sections:
  - ids: [q3.17]
    question: tuning
    recipes: [lr, bs]
    answers: {q3.17: "lr {bs:best_override.optimizer.lr}, batch {bs:best_override.trainer.batch_size}"}
    analysis:
      - kind: tuned
        nets: [{label: net, lr_sweep: lr, name: net, bs_sweep: bs}]
"""
)


def test_two_step_tuning_picks_each_step_by_its_final_epoch(tmp_path):
    lab = _lab_with(tmp_path, TUNED)
    _two_jobs(tmp_path / "experiments" / "x" / "lr")
    bs = tmp_path / "experiments" / "x" / "bs"
    fake_run(bs / "a", [0.5, 0.95, 0.7], ["optimizer.lr=0.01", "trainer.batch_size=4"], name="net")
    fake_run(bs / "b", [0.5, 0.8, 0.85], ["optimizer.lr=0.01", "trainer.batch_size=16"], name="net")
    readme = build_lab(lab, tmp_path / "experiments")[0].read_text()
    assert "| q3.17 | lr 0.01, batch 16 |" in readme
    assert (
        "| net | best lr (final val acc) | best batch size (final val acc, epoch) | test acc of that job |"
        in readme
    )
    assert "| net | 0.01 (80.00%) | 16 (85.00%, epoch 3) | 85.00% |" in readme
    assert "by validation accuracy at the last epoch, lr 0.01 is best" in readme
    assert "(the 2 batch sizes lie within 15.00 points, 70.00% to 85.00%)" in readme
