"""The reliability battery (issue 13): every bad value, file and fault a careful or adversarial user tried
ends in exit code 2 and one paragraph naming the key or file, before any work and without a traceback.

The entry points' `main` functions run in-process with a patched argv (the same code path as the
command line, minus the interpreter start); the lock and SIGKILL cases need real processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from cnnlab import evaluate, lab, report, train
from tests.conftest import fake_image_folder, fake_mnist

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
    from cnnlab.engine.run_lock import hold_run_dir

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
    assert "Traceback" not in output and "Lower the learning rate" in output
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
    runs = report.collect([run_dir]).runs
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
