"""The reliability battery (issue 13): every bad value, file and fault a careful or adversarial user tried
ends in exit code 2 and one paragraph naming the key or file, before any work and without a traceback.

The entry points' `main` functions run in-process with a patched argv (the same code path as the
command line, minus the interpreter start); the lock and SIGKILL cases need real processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from cnnlab import evaluate, lab, report, train
from cnnlab.compare.collect import collect
from tests.conftest import fake_image_folder, fake_mnist, read_only

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["trainer.epochs=1", "trainer.limit_batches=2", "trainer.device=cpu"]


def call_main(main: Callable[[], object], argv: list[str], capsys) -> tuple[int, str]:
    """Run an entry point's main as the command line would: its exit code and everything it printed.

    Hydra finds conf/ relative to `python -m`'s module; in-process it is given by --config-path."""
    old = sys.argv
    sys.argv = ["cnnlab", f"--config-path={ROOT / 'conf'}", *argv]  # in-process: no module-relative path
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    finally:
        sys.argv = old
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def paths(tmp_path: Path) -> list[str]:
    return [
        f"paths.data_root={tmp_path / 'data'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]


def _truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def truncated_idx(tmp: Path) -> tuple[list[str], str]:
    fake_mnist(tmp / "data")
    _truncate(tmp / "data" / "MNIST" / "raw" / "train-images-idx3-ubyte")
    return ["dataset=mnist", "dataset.source.download=false"], "train-images-idx3-ubyte"


def truncated_gzip(tmp: Path) -> tuple[list[str], str]:
    fake_mnist(tmp / "data", gz=True)
    _truncate(tmp / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz", 0.6)
    return ["dataset=mnist", "dataset.source.download=false"], "t10k-labels-idx1-ubyte.gz"


def _folder(tmp: Path) -> Path:
    return fake_image_folder(tmp / "cifar", n_per_class=2, size=8)


def corrupt_jpeg(tmp: Path) -> tuple[list[str], str]:
    from PIL import Image

    folder = _folder(tmp)
    bad = folder / "train" / "class3" / "photo.jpg"
    Image.new("RGB", (8, 8), "red").save(bad)
    _truncate(bad, 0.3)
    return ["dataset=cifar10", f"dataset.image_folder={folder}"], str(bad)


def _damaged_after_caching(tmp: Path, workers: int) -> tuple[list[str], str]:
    """The classic path reads every file again with PIL: one overwritten in place after its folder was
    cached (same size and mtime, so the cache still matches) fails there, in a DataLoader worker or not."""
    from cnnlab.data.cache import cached_split
    from cnnlab.data.torchvision_source import TorchvisionSource

    folder = fake_image_folder(tmp / "cifar", n_per_class=2, size=32)
    source = TorchvisionSource("CIFAR10", str(tmp / "data"), image_folder=str(folder))
    for split in ("train", "test"):
        cached_split(source, split, tmp / "cache")
    bad = folder / "train" / "class3" / "0001.png"
    stat = bad.stat()
    bad.write_bytes(b"\0" * stat.st_size)
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    overrides = ["dataset=cifar10", f"dataset.image_folder={folder}", "dataset.loader=torch"]
    return [*overrides, f"dataset.num_workers={workers}"], str(bad)


def corrupt_image_classic_loader(tmp: Path) -> tuple[list[str], str]:
    return _damaged_after_caching(tmp, workers=0)


def corrupt_image_classic_loader_worker(tmp: Path) -> tuple[list[str], str]:
    return _damaged_after_caching(tmp, workers=1)


def images_of_two_sizes(tmp: Path) -> tuple[list[str], str]:
    from PIL import Image

    folder = _folder(tmp)
    odd = folder / "test" / "class5" / "0000.png"
    Image.new("RGB", (12, 10), "blue").save(odd)
    return ["dataset=cifar10", f"dataset.image_folder={folder}"], f"{odd} is 10x12 pixels"


def images_too_small_for_the_model(tmp: Path) -> tuple[list[str], str]:
    """LeNet's two 5x5 convolutions and pools leave nothing of an 8x8 image."""
    return ["dataset=cifar10", f"dataset.image_folder={_folder(tmp)}"], "model=lenet cannot take 3x8x8 inputs"


def truncated_tar(tmp: Path) -> tuple[list[str], str]:
    folder = _folder(tmp)
    archive = tmp / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar")
    _truncate(archive)
    return ["dataset=cifar10", f"dataset.image_folder={archive}"], str(archive)


def class_folders_differ(tmp: Path) -> tuple[list[str], str]:
    folder = _folder(tmp)
    (folder / "test" / "class9").rename(folder / "test" / "klass9")
    return ["dataset=cifar10", f"dataset.image_folder={folder}"], "klass9"


def disk_full(tmp: Path) -> tuple[list[str], str]:
    """The checkpoint's temporary file is a link to /dev/full: the kernel's own ENOSPC."""
    checkpoints = tmp / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / f".last.pt.{os.getpid()}.tmp").symlink_to("/dev/full")
    return [], "disk holding it is full"


CONFIG_CASES = {
    "val_fraction_empties_train": (["dataset.val_fraction=0.9999"], "dataset.val_fraction"),
    "betas_scalar": (["optimizer.betas=0.9"], "optimizer.betas"),
    "betas_one": (["optimizer.betas=[0.9]"], "optimizer.betas"),
    "betas_strings": (["optimizer.betas=[a,b]"], "optimizer.betas"),
    "onecycle_without_max_lr": (["scheduler=onecycle", "~scheduler.build.max_lr"], "max_lr"),
    "onecycle_max_lr_null": (["scheduler=onecycle", "scheduler.build.max_lr=null"], "scheduler.build.max_lr"),
    "step_size_zero": (["scheduler=step", "scheduler.build.step_size=0"], "scheduler.build.step_size"),
    "gamma_negative": (["scheduler=step", "scheduler.build.gamma=-1"], "scheduler.build.gamma"),
    "compile_no": (["trainer.compile=no"], "trainer.compile"),
    "deterministic_yes": (["trainer.deterministic=yes"], "trainer.deterministic"),
    "channels_last_2": (["trainer.channels_last=2"], "trainer.channels_last"),
    "image_size_zero": (["dataset.image_size=0"], "dataset.image_size"),
    "num_classes_too_few": (["dataset.num_classes=3"], "dataset.num_classes"),
    "prepare_chunk_negative": (["trainer.prepare_chunk=-5"], "trainer.prepare_chunk"),
    "lr_inf": (["optimizer.lr=inf"], "optimizer.lr"),
    "plus_key_nothing_reads": (["+trainer.epoch=3"], "trainer.epochs"),
}
FILE_CASES = {
    "truncated_idx": truncated_idx,
    "truncated_gzip": truncated_gzip,
    "corrupt_jpeg": corrupt_jpeg,
    "corrupt_image_classic_loader": corrupt_image_classic_loader,
    "corrupt_image_classic_loader_worker": corrupt_image_classic_loader_worker,
    "truncated_tar": truncated_tar,
    "images_of_two_sizes": images_of_two_sizes,
    "images_too_small_for_the_model": images_too_small_for_the_model,
    "class_folders_differ": class_folders_differ,
    "disk_full": disk_full,
}


def assert_clear_error(code: int, output: str, named: str) -> None:
    """Exit 2, no traceback, and a one-line message (one paragraph) naming `named`."""
    assert code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if named in line]
    assert lines, f"{named!r} not named in:\n{output}"


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_bad_config_value_is_refused_before_any_work(case, tmp_path, capsys):
    overrides, named = CONFIG_CASES[case]
    code, output = call_main(train.main, [*overrides, *QUICK, *paths(tmp_path)], capsys)
    assert_clear_error(code, output, named)
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before a single step


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_file_is_named_with_its_fix(case, tmp_path, capsys):
    overrides, named = FILE_CASES[case](tmp_path)
    code, output = call_main(train.main, [*overrides, *QUICK, *paths(tmp_path)], capsys)
    assert_clear_error(code, output, named)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".partial"))]
    assert leftovers == [], leftovers


COMPOSITION_CASES = {
    "misspelt_option": (train.main, ["model=lenett"], "did you mean model=lenet?"),
    "misspelt_nested_option": (train.main, ["experiment=rdfiaa/q13"], "did you mean experiment=rdfia/q13?"),
    "misspelt_key": (train.main, ["trainer.epoch=3"], "Did you mean trainer.epochs?"),
    "key_without_group": (train.main, ["epochs=3"], "Did you mean trainer.epochs?"),
    "malformed_override": (train.main, ["model=[a"], "model=[a"),
    "evaluate_misspelt_key": (evaluate.main, ["runn=x"], "Did you mean run?"),
    "lab_misspelt_task": (lab.main, ["task=summry"], "did you mean task=summary?"),
}


@pytest.mark.parametrize("case", list(COMPOSITION_CASES))
def test_hydra_composition_error_is_one_paragraph(case, tmp_path, capsys):
    """Hydra's own errors (an option with no file, a key the config lacks) come out like cnnlab's: exit 2,
    one line naming the bad value and the close match, instead of Hydra's report and exit 1."""
    main, overrides, named = COMPOSITION_CASES[case]
    code, output = call_main(main, [*overrides, *paths(tmp_path)[:2]], capsys)
    assert_clear_error(code, output, named)
    assert len(output.strip().splitlines()) == 1, output
    assert "HYDRA_FULL_ERROR" not in os.environ  # set only while Hydra ran


def test_missing_data_set_is_one_paragraph_naming_where_to_put_it(tmp_path, capsys, monkeypatch):
    """Offline, torchvision's download error spans a line per mirror; the user gets one line naming the
    folder searched and both fixes, and with downloading switched off, no advice to download."""
    import torchvision

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading t10k.gz:\nTried https://mirror-a/, got:\n<urlopen error>\n")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    code, output = call_main(train.main, ["dataset=mnist", *QUICK, *paths(tmp_path)], capsys)
    assert_clear_error(code, output, str(tmp_path / "data" / "MNIST"))
    (line,) = output.strip().splitlines()
    assert "Tried https://mirror-a/, got: <urlopen error>" in line and "paths.data_root=" in line
    monkeypatch.undo()
    code, output = call_main(
        train.main, ["dataset=mnist", "dataset.source.download=false", *QUICK, *paths(tmp_path)], capsys
    )
    assert_clear_error(code, output, "dataset.source.download=false forbids downloading it")


def test_second_run_into_a_busy_run_dir_is_refused(tmp_path, capsys):
    from cnnlab.rundir.lock import hold_run_dir

    with hold_run_dir(tmp_path / "run"):
        code, output = call_main(train.main, [*QUICK, *paths(tmp_path)], capsys)
    assert_clear_error(code, output, str(tmp_path / "run"))
    assert f"pid {os.getpid()}" in output


def test_summary_task_names_the_missing_model_file(tmp_path, capsys):
    code, output = call_main(lab.main, ["task=summary", "model=lenett", f"output_dir={tmp_path}"], capsys)
    assert_clear_error(code, output, "model=lenett")
    assert "did you mean model=lenet" in output


def test_report_skips_a_corrupt_summary_with_a_warning_naming_it(make_cfg, tmp_path, capsys):
    train.run(make_cfg(*QUICK), run_dir=tmp_path / "good")
    capsys.readouterr()  # the run's own log lines (through handlers an earlier in-process main left)
    broken = tmp_path / "broken" / "summary.json"
    broken.parent.mkdir()
    broken.write_text('{"status": "compl')
    report.main([str(tmp_path)])
    output = capsys.readouterr()
    assert "1 runs" in output.out
    assert f"skipping {broken}" in output.err and "Traceback" not in output.err
    shutil.rmtree(tmp_path / "good")
    code, output = call_main(lambda: report.main([str(tmp_path)]), [], capsys)
    assert_clear_error(code, output, str(broken))


def test_a_diverged_run_alone_exits_non_zero(tmp_path, capsys):
    argv = ["optimizer=sgd", "optimizer.lr=1e8", "trainer.log_every_n_steps=1", "trainer.epochs=2"]
    argv += ["trainer.device=cpu", *paths(tmp_path)]
    code, output = call_main(train.main, argv, capsys)
    assert code == 1
    assert (
        "Traceback" not in output
        and "Lower the learning rate (it is 1e+08: try optimizer.lr=5e+07)" in output
    )
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "diverged"


def test_concurrent_run_is_refused_and_a_killed_run_reads_as_died(tmp_path, capsys):
    """A real second process into a busy dir is refused; after SIGKILL the report says `died`, and
    resuming names the dead run and continues it."""
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "cnnlab.train", "trainer.epochs=10000", "trainer.limit_batches=3"]
    argv += paths(tmp_path)
    first = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    summary = run_dir / "summary.json"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            summary.exists() and json.loads(summary.read_text()).get("epochs_completed", 0) >= 1
        ):
            time.sleep(0.2)
        second = subprocess.run(
            [*argv[:3], "trainer.epochs=1", *argv[5:]], cwd=ROOT, capture_output=True, text=True
        )
        assert_clear_error(second.returncode, second.stdout + second.stderr, f"pid {first.pid}")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    state = json.loads(summary.read_text())
    assert state["status"] == "running" and state["pid"] == first.pid and state["heartbeat"]
    epochs = pd.read_csv(run_dir / "metrics.csv")["epoch"].tolist()
    assert epochs[: state["epochs_completed"]] == list(range(1, state["epochs_completed"] + 1))
    runs = collect([run_dir]).runs
    assert list(runs["status"]) == ["died"]
    assert f"pid {first.pid}" in runs["message"][0] and "trainer.resume=true" in runs["message"][0]

    done = state["epochs_completed"]
    resume = [
        f"trainer.epochs={done + 1}",
        "trainer.limit_batches=3",
        "trainer.resume=true",
        *paths(tmp_path),
    ]
    code, output = call_main(train.main, resume, capsys)
    assert code == 0, output
    assert "died" in output and f"pid {first.pid}" in output
    assert json.loads(summary.read_text())["status"] == "completed"


# ---------------------------------------------------------------------------------------------------
# Issue 29, the second round: sweeps that clobber or crash, files that are not what they claim, paths of
# the wrong kind, values that pass the checks but break later, image folders that lie, messages that
# mislead. Each case ends in a clear error (exit 2, one paragraph naming the file or key, no traceback)
# or in the right behaviour, and never writes into another run's files.


def one_paragraph(code: int, output: str, *named: str) -> None:
    """Exit 2, no traceback, and one line of output (the message is one paragraph) naming all of `named`."""
    assert code == 2, output
    assert "Traceback" not in output, output
    assert any(all(n in line for n in named) for line in output.splitlines()), (
        f"{named} not named on one line of:\n{output}"
    )


def clean_exit(code: int, output: str) -> None:
    assert code == 0, output
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A completed 2-epoch digits run (config.yaml, metrics.csv, last.pt and best.pt), trained once for
    the module; each case damages its own copy (`own_run`)."""
    from hydra import compose, initialize_config_dir

    root = tmp_path_factory.mktemp("finished")
    overrides = ["trainer.epochs=2", "trainer.limit_batches=2", "trainer.device=cpu"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[f"paths.data_root={root / 'data'}", f"paths.cache_dir={root / 'cache'}", *overrides],
        )
    train.run(cfg, run_dir=root / "run", overrides=overrides)
    return root / "run"


def own_run(finished: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    return run_dir


def resume(run_dir: Path, tmp_path: Path, capsys, *extra: str) -> tuple[int, str]:
    argv = [f"hydra.run.dir={run_dir}", "trainer.resume=true", "trainer.epochs=2", "trainer.limit_batches=2"]
    argv += ["trainer.device=cpu", *paths(tmp_path)[:2], *extra]
    return call_main(train.main, argv, capsys)


def evaluate_cli(capsys, *argv: str) -> tuple[int, str]:
    return call_main(evaluate.cli, list(argv), capsys)


def random_bytes(n: int, seed: int = 0) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def sweep_argv(tmp_path: Path, *overrides: str) -> list[str]:
    """A tiny in-process multirun into tmp_path/sweep, its TensorBoard root tmp_path/outputs."""
    return [
        "-m",
        *overrides,
        "trainer.epochs=1",
        "trainer.limit_batches=2",
        "trainer.device=cpu",
        "trainer.evaluate_at_end=false",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        f"paths.output_dir={tmp_path / 'outputs'}",
        *paths(tmp_path)[:2],
    ]


def status_of(run_dir: Path) -> str:
    return json.loads((run_dir / "summary.json").read_text())["status"]


# --- Sweeps that clobber or crash ------------------------------------------------------------------


def test_i29_second_sweep_into_a_sweep_dir_in_use_is_refused(tmp_path, capsys):
    """A sweep into a sweep dir another sweep is running in is refused (its pid named) before it writes
    anything: the holder's record of swept keys and its jobs' summaries stay its own."""
    sweep_dir = tmp_path / "sweep"
    argv = sweep_argv(tmp_path, "trainer.seed=0,1")
    argv = [a for a in argv if not a.startswith(("trainer.epochs", "trainer.limit_batches"))]
    first = subprocess.Popen(
        [sys.executable, "-m", "cnnlab.train", *argv, "trainer.epochs=100000", "trainer.limit_batches=1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    job = sweep_dir / "trainer.seed=0" / "summary.json"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            job.exists() and json.loads(job.read_text()).get("epochs_completed", 0) >= 1
        ):
            time.sleep(0.2)
        keys = (sweep_dir / ".swept_keys").read_text()
        code, output = call_main(train.main, sweep_argv(tmp_path, "optimizer.lr=0.01,0.001"), capsys)
        still = json.loads(job.read_text())
    finally:
        first.kill()
        first.wait(timeout=60)
    one_paragraph(code, output, str(sweep_dir), f"pid {first.pid}")
    assert (sweep_dir / ".swept_keys").read_text() == keys
    assert still["status"] == "running" and still["pid"] == first.pid
    assert not list(sweep_dir.glob("optimizer.lr=*"))


@contextlib.contextmanager
def held_by_another_process(run_dir: Path) -> Iterator[int]:
    """run_dir's lock held by a process of its own (as by a run that has not yet written its summary)."""
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom cnnlab.rundir.lock import hold_run_dir\n"
        "with hold_run_dir(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_i29_job_refused_by_a_run_lock_writes_nothing_into_the_holders_dir(tmp_path, capsys):
    """A job whose dir another process holds (and has not yet written a summary into) is refused by the
    lock: it names the holder and leaves no summary, metrics or checkpoint there."""
    held = tmp_path / "sweep" / "trainer.seed=3"
    with held_by_another_process(held) as pid:
        code, output = call_main(train.main, sweep_argv(tmp_path, "trainer.seed=3,4"), capsys)
    assert "Traceback" not in output and f"pid {pid}" in output, output
    assert not [p.name for p in held.iterdir() if p.name not in (".hydra", "train.log", ".lock")]
    assert status_of(tmp_path / "sweep" / "trainer.seed=4") == "completed"


def test_i29_sweeping_the_name_key_writes_the_report(tmp_path, capsys):
    code, output = call_main(train.main, sweep_argv(tmp_path, "name=first,second"), capsys)
    clean_exit(code, output)
    table = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert sorted(table["name"]) == ["first", "second"] and set(table["status"]) == {"completed"}


def test_i29_sweep_dir_that_is_a_file(tmp_path, capsys):
    blocker = tmp_path / "sweep"
    blocker.write_text("not a folder\n")
    code, output = call_main(train.main, sweep_argv(tmp_path, "trainer.seed=0,1"), capsys)
    one_paragraph(code, output, str(blocker), "hydra.sweep.dir")
    assert blocker.read_text() == "not a folder\n"


@pytest.mark.parametrize("content", [random_bytes(300), b"[1, 2]\n"], ids=["binary", "json_list"])
def test_i29_sweep_rerun_over_a_job_whose_summary_is_not_a_summary(content, tmp_path, capsys):
    """A job dir whose summary.json is not a run summary is named in a warning and trained afresh."""
    job = tmp_path / "sweep" / "trainer.seed=5"
    job.mkdir(parents=True)
    (job / "summary.json").write_bytes(content)
    code, output = call_main(train.main, sweep_argv(tmp_path, "trainer.seed=5,6"), capsys)
    clean_exit(code, output)
    assert str(job / "summary.json") in output
    assert status_of(job) == "completed" and status_of(job.with_name("trainer.seed=6")) == "completed"


def test_i29_a_damaged_run_elsewhere_in_outputs_does_not_stop_the_sweep_report(tmp_path, capsys):
    other = tmp_path / "outputs" / "runs" / "other"
    other.mkdir(parents=True)
    (other / "summary.json").write_text('{"status": "completed"}')
    (other / "config.yaml").write_text("model:\n  name: [lenet\n")
    sweep_dir = tmp_path / "outputs" / "sweeps" / "s"
    argv = [*sweep_argv(tmp_path, "trainer.seed=0,1"), f"hydra.sweep.dir={sweep_dir}"]
    code, output = call_main(train.main, argv, capsys)
    clean_exit(code, output)
    assert len(pd.read_csv(sweep_dir / "summary.csv")) == 2
    assert str(other / "config.yaml") in output


# --- Files that are not what they claim ------------------------------------------------------------


def _plain_tensor(path: Path) -> None:
    import torch

    torch.save(torch.zeros(3), path)


def _dict_without_model(path: Path) -> None:
    import torch

    torch.save({"epoch": 1, "wall_s": 1.0}, path)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


CHECKPOINT_DAMAGE: dict[str, Callable[[Path], object]] = {
    "empty": lambda p: p.write_bytes(b""),
    "random_bytes": lambda p: p.write_bytes(random_bytes(4096)),
    "text": lambda p: p.write_text("not a checkpoint\n"),
    "directory": _directory,
    "plain_tensor": _plain_tensor,
    "dict_without_model": _dict_without_model,
}


@pytest.mark.parametrize("damage", list(CHECKPOINT_DAMAGE))
def test_i29_resume_from_a_last_pt_that_is_not_a_checkpoint(damage, finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    last = run_dir / "checkpoints" / "last.pt"
    CHECKPOINT_DAMAGE[damage](last)
    summary = (run_dir / "summary.json").read_bytes()
    code, output = resume(run_dir, tmp_path, capsys)
    one_paragraph(code, output, str(last))
    assert "could run code" not in output  # it holds no code: it is just not a checkpoint
    assert (run_dir / "summary.json").read_bytes() == summary


def _half(path: Path) -> None:
    text = path.read_text()
    path.write_text(text[: len(text) // 2] + "\n  - [unclosed\n")


CONFIG_DAMAGE: dict[str, Callable[[Path], object]] = {
    "cut_in_half": _half,
    "yaml_list": lambda p: p.write_text("- model\n- dataset\n"),
    "empty": lambda p: p.write_text(""),
    "binary": lambda p: p.write_bytes(random_bytes(500)),
    "mapping_without_model": lambda p: p.write_text("name: digits-lenet\ntrainer:\n  epochs: 2\n"),
}


@pytest.mark.parametrize("damage", list(CONFIG_DAMAGE))
def test_i29_evaluate_a_run_whose_config_yaml_is_damaged(damage, finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    config = run_dir / "config.yaml"
    CONFIG_DAMAGE[damage](config)
    code, output = evaluate_cli(capsys, f"run={run_dir}", "device=cpu")
    one_paragraph(code, output, str(config))


def test_i29_evaluate_a_best_pt_of_random_bytes(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    best = run_dir / "checkpoints" / "best.pt"
    best.write_bytes(random_bytes(2048, seed=1))
    code, output = evaluate_cli(capsys, f"run={run_dir}", "checkpoint=best", "device=cpu")
    one_paragraph(code, output, str(best))
    assert "could run code" not in output


def test_i29_evaluate_a_checkpoint_path_that_is_a_directory(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    last = run_dir / "checkpoints" / "last.pt"
    _directory(last)
    code, output = evaluate_cli(capsys, f"run={run_dir}", "device=cpu")
    one_paragraph(code, output, str(last), "directory")
    assert "does not exist" not in output


@pytest.mark.parametrize(
    "content", [random_bytes(700, seed=2), b"epoch,lr\n1,0.1\n2,0.2,9,9\n"], ids=["binary", "ragged"]
)
def test_i29_report_over_a_run_whose_metrics_csv_is_not_csv(content, finished, tmp_path, capsys):
    """The run is still a row of the report (from its summary.json), with a warning naming the file."""
    run_dir = own_run(finished, tmp_path)
    (run_dir / "metrics.csv").write_bytes(content)
    code, output = call_main(lambda: report.main([str(run_dir)]), [], capsys)
    clean_exit(code, output)
    assert str(run_dir / "metrics.csv") in output
    assert list(pd.read_csv(run_dir / "summary.csv")["status"]) == ["completed"]


def test_i29_report_over_a_run_whose_config_yaml_is_binary(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    (run_dir / "config.yaml").write_bytes(random_bytes(600, seed=3))
    code, output = call_main(lambda: report.main([str(run_dir)]), [], capsys)
    clean_exit(code, output)
    assert str(run_dir / "config.yaml") in output


@pytest.mark.parametrize(
    "content", [random_bytes(700, seed=4), b"step,loss\n1,0.5\n"], ids=["binary", "no_epoch_column"]
)
def test_i29_resume_with_a_metrics_csv_that_is_not_its_own(content, finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    (run_dir / "metrics.csv").write_bytes(content)
    config = (run_dir / "config.yaml").read_bytes()
    code, output = resume(run_dir, tmp_path, capsys, "trainer.epochs=3")
    one_paragraph(code, output, str(run_dir / "metrics.csv"))
    assert (run_dir / "metrics.csv").read_bytes() == content  # nothing already written is lost
    assert (run_dir / "config.yaml").read_bytes() == config


def _mnist_with(tmp: Path, change: Callable[[Path], object]) -> list[str]:
    fake_mnist(tmp / "data")
    change(tmp / "data" / "MNIST" / "raw")
    return ["dataset=mnist", "dataset.source.download=false", *QUICK, *paths(tmp)]


def _fewer_labels(raw: Path) -> None:
    import numpy as np

    from tests.conftest import write_idx

    images = np.zeros((96, 28, 28), dtype=np.uint8)
    labels = np.zeros(80, dtype=np.uint8)
    write_idx(raw, "train", images, np.zeros(96, dtype=np.uint8))
    (raw / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, len(labels)) + labels.tobytes())


def _swapped(raw: Path) -> None:
    images, labels = raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"
    images.rename(raw / "tmp")
    labels.rename(images)
    (raw / "tmp").rename(labels)


def _no_images(raw: Path) -> None:
    import numpy as np

    from tests.conftest import write_idx

    write_idx(raw, "train", np.zeros((0, 28, 28), dtype=np.uint8), np.zeros(0, dtype=np.uint8))


@pytest.mark.parametrize(
    "change, named",
    [
        (_fewer_labels, "train-labels-idx1-ubyte"),
        (_swapped, "train-images-idx3-ubyte"),
        (_no_images, "train-images-idx3-ubyte"),
    ],
    ids=["image_and_label_counts_differ", "images_and_labels_swapped", "no_images"],
)
def test_i29_mnist_idx_files_that_do_not_pair_up(change, named, tmp_path, capsys):
    code, output = call_main(train.main, _mnist_with(tmp_path, change), capsys)
    one_paragraph(code, output, named)
    assert "dataset.val_fraction" not in output


# --- Paths of the wrong kind ------------------------------------------------------------------------


def _a_file(tmp: Path, name: str) -> Path:
    path = tmp / name
    path.write_text("a file, not a folder\n")
    return path


FILE_WHERE_A_FOLDER_BELONGS: dict[str, tuple[str, str | None, Callable[[Path], list[str]], str]] = {
    # case: (the file's name in tmp_path, the environment variable set to it, arguments, the setting named)
    "run_dir": ("run", None, paths, "hydra.run.dir"),
    "output_dir_env": ("outputs", "CNNLAB_OUTPUT_DIR", lambda tmp: paths(tmp)[:2], "CNNLAB_OUTPUT_DIR"),
    "data_root_env": ("data", "CNNLAB_DATA_ROOT", lambda tmp: paths(tmp)[2:], "CNNLAB_DATA_ROOT"),
    "cache_dir": ("cache", None, paths, "paths.cache_dir"),
}


@pytest.mark.parametrize("case", list(FILE_WHERE_A_FOLDER_BELONGS))
def test_i29_a_file_where_a_folder_belongs(case, tmp_path, capsys, monkeypatch):
    name, variable, arguments, named = FILE_WHERE_A_FOLDER_BELONGS[case]
    blocker = _a_file(tmp_path, name)
    if variable:
        monkeypatch.setenv(variable, str(blocker))
    code, output = call_main(train.main, [*QUICK, *arguments(tmp_path)], capsys)
    one_paragraph(code, output, str(blocker), named)


def test_i29_report_out_that_is_a_file(finished, tmp_path, capsys):
    blocker = _a_file(tmp_path, "report")
    code, output = call_main(lambda: report.main([str(finished), "--out", str(blocker)]), [], capsys)
    one_paragraph(code, output, str(blocker), "--out")


def test_i29_read_only_output_dir(tmp_path, capsys, monkeypatch):
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("CNNLAB_OUTPUT_DIR", str(outputs))
    with read_only(outputs):
        code, output = call_main(train.main, [*QUICK, *paths(tmp_path)[:2]], capsys)
    one_paragraph(code, output, str(outputs))
    assert list(outputs.iterdir()) == []


def test_i29_read_only_sweep_dir(tmp_path, capsys):
    with read_only(tmp_path / "sweep"):
        code, output = call_main(train.main, sweep_argv(tmp_path, "trainer.seed=0,1"), capsys)
    one_paragraph(code, output, str(tmp_path / "sweep"))


def test_i29_resume_a_read_only_run_dir(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with read_only(run_dir):
        code, output = resume(run_dir, tmp_path, capsys, "trainer.epochs=3")
    one_paragraph(code, output, str(run_dir))
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_i29_evaluate_a_read_only_run_dir(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    with read_only(run_dir):
        code, output = evaluate_cli(capsys, f"run={run_dir}", "device=cpu")
    one_paragraph(code, output, str(run_dir))


def test_i29_run_dir_with_a_space_unquoted(tmp_path, capsys):
    """The shell splits `hydra.run.dir=/x/my runs/a` in two; the message says to quote the whole value."""
    code, output = call_main(
        train.main, [*QUICK, *paths(tmp_path)[:2], f"hydra.run.dir={tmp_path}/my", "runs/a"], capsys
    )
    one_paragraph(code, output, "runs/a", f"'hydra.run.dir={tmp_path}/my runs/a'")
    assert not (tmp_path / "my").exists()


def test_i29_run_dir_with_non_ascii_characters_unquoted(tmp_path, capsys):
    """Hydra's override grammar takes only ASCII unquoted; the message shows the quoting that works."""
    run_dir = f"{tmp_path}/données"
    code, output = call_main(train.main, [*QUICK, *paths(tmp_path)[:2], f"hydra.run.dir={run_dir}"], capsys)
    one_paragraph(code, output, f'hydra.run.dir="{run_dir}"')
    code, output = call_main(train.main, [*QUICK, *paths(tmp_path)[:2], f'hydra.run.dir="{run_dir}"'], capsys)
    clean_exit(code, output)
    assert status_of(Path(run_dir)) == "completed"


def test_i29_evaluate_run_dir_with_a_space_unquoted(finished, tmp_path, capsys):
    spaced = tmp_path / "my runs"
    shutil.copytree(finished, spaced)
    code, output = evaluate_cli(capsys, f"run={tmp_path}/my", "runs", "device=cpu")
    one_paragraph(code, output, f"'run={spaced}'")
    code, output = evaluate_cli(capsys, f"run={spaced}", "device=cpu")
    clean_exit(code, output)


# --- Values that pass the checks but break later ------------------------------------------------------


@pytest.mark.parametrize("monitor", ["val_acc", "train_loss"])
def test_i29_val_fraction_that_rounds_to_no_images(monitor, tmp_path, capsys):
    argv = ["dataset.val_fraction=0.0001", f"trainer.monitor={monitor}", *QUICK, *paths(tmp_path)]
    code, output = call_main(train.main, argv, capsys)
    one_paragraph(code, output, "dataset.val_fraction=0.0001")
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.parametrize("key", ["trainer.seed", "dataset.split_seed"])
def test_i29_seed_beyond_what_the_generators_take(key, tmp_path, capsys):
    code, output = call_main(train.main, [f"{key}={2**64}", *QUICK, *paths(tmp_path)], capsys)
    one_paragraph(code, output, key)
    code, output = call_main(train.main, [f"{key}={2**32}", *QUICK, *paths(tmp_path)], capsys)
    assert code in (0, 2) and "Traceback" not in output, output
    if code == 2:
        one_paragraph(code, output, key)


def _corrupt_sqlite(tmp: Path) -> tuple[str, str]:
    db = tmp / "study.db"
    db.write_bytes(b"SQLite format 3\x00" + random_bytes(4000, seed=5))
    return f"sqlite:///{db}", str(db)


def _sqlite_in_missing_folder(tmp: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp / 'no' / 'such' / 'study.db'}", str(tmp / "no" / "such")


def _missing_driver(tmp: Path) -> tuple[str, str]:
    return "postgresql+psycopg2://user@localhost/cnnlab", "psycopg2"


def _unknown_scheme(tmp: Path) -> tuple[str, str]:
    return "sqlitee:///study.db", "sqlitee"


STORAGE_CASES = {
    "corrupt_sqlite_file": _corrupt_sqlite,
    "sqlite_in_a_missing_folder": _sqlite_in_missing_folder,
    "driver_not_installed": _missing_driver,
    "unknown_scheme": _unknown_scheme,
}


@pytest.mark.parametrize("case", list(STORAGE_CASES))
def test_i29_optuna_storage_that_cannot_be_opened(case, tmp_path, capsys):
    import importlib.util

    if case == "driver_not_installed" and importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here, so its driver is not missing")
    url, named = STORAGE_CASES[case](tmp_path)
    argv = ["hparams_search=lr_batch_size", f"hydra.sweeper.storage={url}", "hydra.sweeper.n_trials=1"]
    code, output = call_main(train.main, sweep_argv(tmp_path, *argv)[1:], capsys)
    one_paragraph(code, output, named, "hydra.sweeper.storage")
    assert not (tmp_path / "sweep").exists() or not list((tmp_path / "sweep").glob("*/summary.json"))


def test_i29_resume_with_fewer_epochs_than_already_done(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    code, output = resume(run_dir, tmp_path, capsys, "trainer.epochs=1")
    one_paragraph(code, output, "trainer.epochs=1", "2 epochs")
    assert all(p.read_bytes() == content for p, content in files.items())


def test_i29_resume_with_as_many_epochs_as_done_completes_unchanged(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    rows = pd.read_csv(run_dir / "metrics.csv")
    code, output = resume(run_dir, tmp_path, capsys)
    clean_exit(code, output)
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "metrics.csv"), rows)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2


@pytest.mark.parametrize("value", [-1, 0])
def test_i29_max_eval_out_of_range(value, tmp_path, capsys):
    code, output = call_main(train.main, [f"+dataset.max_eval={value}", *QUICK, *paths(tmp_path)], capsys)
    one_paragraph(code, output, "dataset.max_eval")


# --- Image folders that lie -------------------------------------------------------------------------


def _images(folder: Path, split: str = "train") -> tuple[int, list[int]]:
    from cnnlab.data.torchvision_source import TorchvisionSource

    data = TorchvisionSource("CIFAR10", str(folder.parent / "data"), image_folder=str(folder)).load(split)
    return len(data), data.y.tolist()


def _linked_folder(tmp: Path, link: str, target: str | Path) -> Path:
    folder = fake_image_folder(tmp / "cifar", n_per_class=2, size=32)
    (folder / "train" / "class0" / link).symlink_to(target)
    return folder


def _outside_image(tmp: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (32, 32), "green").save(tmp / "elsewhere.png")
    return tmp / "elsewhere.png"


def _outside_text(tmp: Path) -> Path:
    (tmp / "secret.txt").write_text("not an image at all\n")
    return tmp / "secret.txt"


SKIPPED_LINKS = {
    "loop_to_the_split_folder": ("loop", lambda tmp: ".."),
    "folder_link_to_another_class": ("more", lambda tmp: "../class1"),
    "file_link_to_an_image_outside": ("outside.png", _outside_image),
    "file_link_to_a_non_image_outside": ("outside.png", _outside_text),
    "dangling_file_link": ("gone.png", lambda tmp: tmp / "nothing-here.png"),
}


@pytest.mark.parametrize("case", list(SKIPPED_LINKS))
def test_i29_image_folder_links_that_loop_or_leave_are_skipped_and_counted(case, tmp_path, capsys):
    """The 20 real train images with the labels of the folders they are in, whatever the link; the run
    completes and its log counts the link it skipped."""
    link, target = SKIPPED_LINKS[case]
    folder = _linked_folder(tmp_path, link, target(tmp_path))
    argv = ["dataset=cifar10", f"dataset.image_folder={folder}", *QUICK, *paths(tmp_path)]
    code, output = call_main(train.main, argv, capsys)
    clean_exit(code, output)
    assert "skipped 1 symlink" in output
    assert _images(folder) == (20, [c for c in range(10) for _ in range(2)])


def test_i29_image_folder_file_link_inside_it_is_labelled_where_it_is_found(tmp_path):
    folder = _linked_folder(tmp_path, "borrowed.png", "../class1/0000.png")
    n, labels = _images(folder)
    assert n == 21 and labels.count(0) == 3 and labels.count(1) == 2


def test_i29_bad_image_message_is_not_on_the_progress_bar_line(tmp_path):
    """Through a pipe, as a log file or CI sees it: stdout and stderr interleaved."""
    overrides, bad = corrupt_jpeg(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab.train", *overrides, *QUICK, *paths(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    code, output = done.returncode, done.stdout
    one_paragraph(code, output, bad, "Delete or replace it")
    assert not [line for line in output.splitlines() if bad in line and "decoding" in line], output


@pytest.mark.parametrize("keep", [0.5, 0.0], ids=["cut_in_half", "cut_to_nothing"])
def test_i29_truncated_tar_message_is_one_paragraph(keep, tmp_path, capsys):
    """Cut to nothing, no compression method recognises it: tarfile says so in a line per method."""
    overrides, archive = truncated_tar(tmp_path)
    _truncate(Path(archive), keep / 0.5)
    code, output = call_main(train.main, [*overrides, *QUICK, *paths(tmp_path)], capsys)
    one_paragraph(code, output, archive, "Download or create it again")


def test_i29_tar_with_a_link_leaving_it_is_refused_as_such(tmp_path, capsys):
    folder = _folder(tmp_path)
    (folder / "train" / "class0" / "escape.png").symlink_to("/etc/hostname")
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar")
    code, output = call_main(
        train.main, ["dataset=cifar10", f"dataset.image_folder={archive}", *QUICK, *paths(tmp_path)], capsys
    )
    one_paragraph(code, output, str(archive), "escape.png")
    assert "truncated" not in output


# --- Messages that mislead ---------------------------------------------------------------------------


def _absent_device() -> str:
    import torch

    return "mps" if torch.cuda.is_available() else "cuda"


@pytest.mark.parametrize("device", [_absent_device(), "gpu0"])
def test_i29_evaluate_device_is_named_as_evaluate_spells_it(device, finished, capsys):
    code, output = evaluate_cli(capsys, f"run={finished}", f"device={device}")
    one_paragraph(code, output, f"device={device!r}")
    assert "trainer.device" not in output


def test_i29_lab_task_on_a_run_whose_last_pt_is_random_bytes(finished, tmp_path, capsys):
    run_dir = own_run(finished, tmp_path)
    last = run_dir / "checkpoints" / "last.pt"
    last.write_bytes(random_bytes(1024, seed=6))
    argv = ["task=activation_grid", f"task.run={run_dir}", f"output_dir={tmp_path / 'task'}"]
    code, output = call_main(lab.main, [*argv, *paths(tmp_path)[:2]], capsys)
    one_paragraph(code, output, str(last))
    assert "could run code" not in output
