"""cnnlab works as an installed tool: its console scripts answer from any directory (their configs ship
inside the package), Hydra's bash completion works through them, and a wheel built from the
repository, installed into a fresh venv, trains, evaluates, runs a lab task and reports from an empty
directory, where Hydra finds cnnlab's sweeper and launcher and an Optuna search runs (`make test-wheel`)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from cnnlab.config.paths import CONF_DIR

ROOT = Path(__file__).resolve().parents[1]
# cnnlab's Hydra plugins (a launcher, a sweeper), which Hydra discovers under hydra_plugins/.
PLUGINS = ("cnnlab_slurm/slurm_launcher", "cnnlab_optuna/optuna_sweeper")
BIN = Path(sys.executable).parent
TIMEOUT = 300


def run_in(cwd: Path, *command: str | Path, bin_dir: Path = BIN) -> str:
    """A command run in cwd with bin_dir first on PATH; its output, which must end with exit status 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "CNNLAB_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def completions(cwd: Path, script: str, line: str, bin_dir: Path = BIN) -> list[str]:
    """What bash offers at the end of `line` once `<script> -sc install=bash` is installed, as a shell
    would call Hydra's completion function."""
    shell = (
        f'eval "$({script} -sc install=bash)" && complete -p {script} >/dev/null && COMP_LINE="{line}" && '
        "COMP_POINT=${#COMP_LINE} && words=($COMP_LINE) && COMP_CWORD=$((${#words[@]} - 1)) && "
        'hydra_bash_completion && printf "%s\\n" "${COMPREPLY[@]}"'
    )
    return run_in(cwd, "bash", "-c", shell, bin_dir=bin_dir).split()


def test_conf_dir_is_the_checkouts_conf_when_running_from_one():
    assert CONF_DIR == ROOT / "conf" and (CONF_DIR / "train.yaml").is_file()


# Each script's own help (not Hydra's generic page), as its first line says it.
HELP = {
    "cnnlab-train": "cnnlab-train: train a convolutional network",
    "cnnlab-evaluate": "cnnlab-evaluate: score a trained classification run",
    "cnnlab-lab": "cnnlab-lab: run one lab question",
    "cnnlab-report": "Compare runs: collect summary.json",
}


@pytest.mark.parametrize("script", sorted(HELP))
def test_each_console_script_answers_help_from_an_empty_dir(tmp_path, script):
    assert HELP[script] in run_in(tmp_path, script, "--help")
    assert list(tmp_path.iterdir()) == []  # --help writes nothing


def test_bash_completion_works_through_the_console_script(tmp_path):
    assert completions(tmp_path, "cnnlab-train", "cnnlab-train trainer.ep") == ["trainer.epochs="]


def _wheel(tmp_path: Path) -> Path:
    """The wheel of a copy of the repository's sources (so the checkout gets no build/), built offline
    with this venv's setuptools."""
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("src", "conf"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    pip_wheel = ["pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist]
    run_in(tmp_path, sys.executable, "-m", *pip_wheel, source)
    (wheel,) = dist.glob("cnnlab-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv holding only the wheel; its dependencies (torch, hydra, ...) are read from this venv's
    site-packages through a .pth, which adds that folder without running its own .pth files (so the
    checkout's editable install stays out)."""
    venv = tmp_path / "venv"
    run_in(tmp_path, sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = run_in(tmp_path, python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    dependencies = {sysconfig.get_path("purelib"), *site.getsitepackages()}
    pth = Path(purelib.strip()) / "cnnlab_test_dependencies.pth"
    pth.write_text("".join(f"{folder}\n" for folder in sorted(dependencies)))
    pip_install = ["pip", "--python", python, "install", "-q", "--no-deps", "--no-index"]
    run_in(tmp_path, sys.executable, "-m", *pip_install, wheel)
    return venv / "bin"


@pytest.mark.slow
def test_a_wheel_in_a_fresh_venv_trains_evaluates_and_reports_from_an_empty_dir(tmp_path):
    wheel = _wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        assert {f"hydra_plugins/{plugin}.py" for plugin in PLUGINS} <= set(archive.namelist())
    venv_bin = _fresh_venv(tmp_path, wheel)
    work = tmp_path / "empty"
    work.mkdir()
    where = "import cnnlab.config.paths as c; print(c.__file__, c.CONF_DIR)"
    module_file, conf_dir = run_in(work, venv_bin / "python", "-c", where).split()
    venv = venv_bin.parent
    assert Path(module_file).is_relative_to(venv) and Path(conf_dir).is_relative_to(venv)
    assert (Path(conf_dir) / "experiment" / "rdfia" / "q15.yaml").is_file()  # the whole tree shipped

    for script, first_line in HELP.items():
        assert (venv_bin / script).is_file()
        assert first_line in run_in(work, script, "--help", bin_dir=venv_bin)
    assert completions(work, "cnnlab-train", "cnnlab-train model=le", bin_dir=venv_bin) == ["model=lenet"]

    # A user's own config folder joins through Hydra's search path: a model option of its own.
    own = tmp_path / "my_conf" / "model"
    own.mkdir(parents=True)
    own.joinpath("small_lenet.yaml").write_text((Path(conf_dir) / "model" / "lenet.yaml").read_text())
    searchpath = f"hydra.searchpath=[file://{own.parent}]"
    train = ["cnnlab-train", searchpath, "model=small_lenet", "trainer.epochs=1", "hydra.run.dir=run"]
    run_in(work, *train, bin_dir=venv_bin)
    summary = json.loads((work / "run" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 1
    assert summary["overrides"] == ["model=small_lenet", "trainer.epochs=1"]
    assert (work / "data" / "cache").is_dir() and (work / "run" / "checkpoints" / "best.pt").is_file()

    said = run_in(work, "cnnlab-evaluate", "run=run", "checkpoint=best", bin_dir=venv_bin)
    evaluation = json.loads((work / "run" / "evaluation" / "test-best" / "evaluation.json").read_text())
    assert f"accuracy {100 * evaluation['accuracy']:.2f}%" in said
    run_in(work, "cnnlab-lab", "task=activation_grid", "task.run=run", "output_dir=grid", bin_dir=venv_bin)
    assert json.loads((work / "grid" / "results.json").read_text())["task"] == "activation_grid"
    run_in(work, "cnnlab-report", "run", "--out", "report", bin_dir=venv_bin)
    assert "completed" in (work / "report" / "summary.md").read_text()

    # Hydra finds cnnlab's own plugins in the installed wheel, and a one-trial Optuna search runs there.
    found = (
        "from hydra.core.plugins import Plugins; "
        "print(*(p.__module__ for p in Plugins.instance().discover()))"
    )
    discovered = run_in(work, venv_bin / "python", "-c", found).split()
    assert {f"hydra_plugins.{plugin.replace('/', '.')}" for plugin in PLUGINS} <= set(discovered)
    search = ["cnnlab-train", "-m", "hydra/sweeper=optuna", "optimizer.lr=interval(0.001,0.01)"]
    search += ["hydra.sweeper.n_trials=1", "trainer.epochs=1", "hydra.sweep.dir=search"]
    run_in(work, *search, bin_dir=venv_bin)
    table = pd.read_csv(work / "search" / "summary.csv")
    assert table[["status", "trial", "trial_state"]].values.tolist() == [["completed", 0, "COMPLETE"]]
    assert {"optuna.db", "optimization_results.yaml"} <= {p.name for p in (work / "search").iterdir()}
