"""Every question id of LABS.md has a `make` target, and every lab preset composes and builds."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from cnnlab.config.paths import CONF_DIR
from cnnlab.labs.book.labs import all_labs
from cnnlab.labs.book.targets import make_text
from cnnlab.models import build_model, count_parameters

ROOT = Path(__file__).resolve().parents[1]
CONF = CONF_DIR
PRESETS = sorted(
    p.relative_to(CONF / "experiment").with_suffix("").as_posix() for p in CONF.glob("experiment/**/*.yaml")
)


def expand(token: str) -> list[str]:
    """'t5-t7' -> t5, t6, t7; 'q1.1-q1.3' -> q1.1, q1.2, q1.3; anything else as it is."""
    token = token.strip()
    dotted = re.fullmatch(r"([a-z]+)(\d+)\.(\d+)-\1\2\.(\d+)", token)
    if dotted:
        prefix, major, low, high = dotted.groups()
        return [f"{prefix}{major}.{i}" for i in range(int(low), int(high) + 1)]
    plain = re.fullmatch(r"([a-z]+)(\d+)-\1(\d+)", token)
    if plain:
        prefix, low, high = plain.groups()
        return [f"{prefix}{i}" for i in range(int(low), int(high) + 1)]
    return [token]


def lab_question_ids(text: str) -> list[str]:
    """<lab>-<id> for every id in the first column of each lab's table."""
    ids, lab = [], None
    for line in text.splitlines():
        heading = re.match(r"## (\w+) —", line)
        if heading:
            lab = heading.group(1)
            continue
        cell = re.match(r"\| ([^|]+) \|", line)
        if lab and cell and cell.group(1).strip() not in ("id", "---"):
            ids += [f"{lab}-{i}" for token in cell.group(1).split(",") for i in expand(token)]
    return ids


def test_expand_ranges():
    assert expand("t5-t7") == ["t5", "t6", "t7"]
    assert expand("q1.4-q1.6") == ["q1.4", "q1.5", "q1.6"]
    assert expand(" q10b") == ["q10b"]


def test_make_help_lists_a_target_for_every_question_id(labs_md):
    ids = lab_question_ids(labs_md.read_text())
    assert len(ids) == len(set(ids)) == 105
    assert "dd2427-q10b" in ids and "dd2427-q10" in ids
    listed = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True)
    # A line lists the targets that share one recipe, then its help text once.
    targets = {
        name for line in listed.stdout.splitlines() for name in line.split("  ")[1].split() if line.strip()
    }
    labs = ("dd2427", "keras7", "mainf6", "vu3a", "rdfia")
    questions = {t for t in targets if t.split("-")[0] in labs and "-" in t and t != "labs-clean"}
    assert questions == set(ids)
    assert {*labs, "labs", "report"} <= targets


def test_generated_targets_are_up_to_date():
    """mk/labs.targets is what `make lab-targets` writes from conf/lab/*.yaml."""
    assert (ROOT / "mk" / "labs.targets").read_text() == make_text()


def test_every_registry_preset_and_task_exists():
    tasks = {p.stem for p in CONF.glob("task/*.yaml")}
    for lab in all_labs():
        for recipe in lab.recipes.values():
            for preset in recipe.preset:
                assert preset in PRESETS, (lab.name, preset)
            assert recipe.task is None or recipe.task in tasks


def _compose(preset: str, budget: str = "full"):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=[f"experiment={preset}", f"+budget={budget}"])


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_builds_its_model(preset):
    cfg = _compose(preset)
    augmentation = instantiate(cfg.augmentation)
    size = cfg.dataset.image_size or (cfg.dataset.get("resize_to") or min(cfg.dataset.get("sizes", [32])))
    model = build_model(
        cfg.model, (cfg.dataset.channels, augmentation.output_size(size), augmentation.output_size(size))
    )
    assert count_parameters(model) > 0
    instantiate(cfg.optimizer)(model.parameters())
    assert cfg.budget == "full"


def test_short_budget_cuts_epochs_and_keeps_the_rest():
    full, smoke = _compose("rdfia/q34"), _compose("rdfia/q34", "smoke")
    assert smoke.trainer.epochs < full.trainer.epochs and smoke.trainer.limit_batches
    assert smoke.budget == "smoke"
    assert smoke.dataset.max_eval and "max_eval" not in full.dataset
    for key in ("model", "optimizer", "scheduler", "augmentation"):
        assert OmegaConf.to_container(smoke[key]) == OmegaConf.to_container(full[key])


def _flat(cfg) -> dict:
    def walk(node, prefix=""):
        for key, value in node.items():
            if isinstance(value, dict):
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    return dict(walk(OmegaConf.to_container(cfg)))


LADDER = [
    ("q15", "q19", {"dataset.normalize"}),
    (
        "q19",
        "q22",
        {"augmentation.hflip", "augmentation.crop_size", "augmentation.crop_padding", "model.ceil_mode"},
    ),
    (
        "q22",
        "q26",
        {
            "optimizer.momentum",
            "scheduler.build._target_",
            "scheduler.build._partial_",
            "scheduler.build.gamma",
        },
    ),
    ("q26", "q29", {"model.dropout"}),
    ("q29", "q34", {"model.batch_norm"}),
]


@pytest.mark.parametrize(("before", "after", "changed"), LADDER)
def test_rdfia_ladder_is_cumulative(before, after, changed):
    a, b = _flat(_compose(f"rdfia/{before}")), _flat(_compose(f"rdfia/{after}"))
    differing = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} - {"name"}
    assert differing == changed


def test_a_tuned_run_trains_each_seed_at_the_best_final_epoch_job_of_its_sweep(tmp_path):
    """make vu3a-q3.17's third step: `best --by final` reads the finished batch-size sweep and its job's
    lr and batch size become the overrides of every seed's run (training replaced by echo here)."""
    from .labfakes import fake_run

    sweep = tmp_path / "smoke" / "vu3a" / "q3_17" / "bs" / "gp"
    (tmp_path / "smoke" / "vu3a" / "q3_17" / "lr").mkdir(parents=True)
    (tmp_path / "smoke" / "vu3a" / "q3_17" / "lr" / "done").touch()  # step 1, older than step 2
    fake_run(sweep / "a", [0.5, 0.9, 0.6], ["optimizer.lr=0.002", "trainer.batch_size=4"], "smoke")
    fake_run(sweep / "b", [0.5, 0.7, 0.8], ["optimizer.lr=0.002", "trainer.batch_size=16"], "smoke")
    (sweep / "done").touch()
    done = tmp_path / "smoke" / "vu3a" / "q3_17" / "tuned" / "gp" / "seed1" / "done"
    done.parent.mkdir(parents=True)  # the run dir a real training run would make
    made = subprocess.run(
        ["make", "-s", f"LAB_OUT={tmp_path}", "BUDGET=smoke", "TRAIN=echo TRAIN", str(done)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    line = next(x for x in made.stdout.splitlines() if x.startswith("TRAIN"))
    assert line.split()[:4] == [
        "TRAIN",
        "experiment=vu3a/q3_17_gp",
        "optimizer.lr=0.002",
        "trainer.batch_size=16",
    ]
    assert "trainer.seed=1" in line and f"hydra.run.dir={done.parent}" in line and done.exists()


@pytest.mark.parametrize(("status", "made"), [("diverged", True), ("failed", False), (None, False)])
def test_a_lab_run_that_diverged_is_made_and_one_that_failed_is_not(tmp_path, status, made):
    """Training exits 1 both when the loss went non-finite and when the run failed; only the first is
    a result (rdfia q32's p = 0.8 seeds), so only its done file is made and the queue moves on."""
    from cnnlab.rundir.files import write_summary

    done = tmp_path / "smoke" / "rdfia" / "q32_p08" / "seed0" / "done"
    done.parent.mkdir(parents=True)
    if status:
        write_summary(done.parent / "summary.json", {"name": "rdfia-q29", "status": status})
    result = subprocess.run(
        ["make", "-s", f"LAB_OUT={tmp_path}", "BUDGET=smoke", "TRAIN=false", str(done)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (result.returncode == 0) is made, result.stderr
    assert done.exists() is made
