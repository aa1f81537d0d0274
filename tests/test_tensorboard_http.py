"""TensorBoard's own backend as the client: an outputs/ holding two sweeps with different keys and
a single run, served by `tensorboard --logdir outputs` with each of its loaders, read back through the
HTTP API its HParams and Scalars pages use."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

TINY = ["trainer.epochs=2", "trainer.limit_batches=2"]
# The gamma sweep's scheduler keys and the single run's momentum exist in no other run's config.
SWEEPS = {"lr": ["optimizer.lr=0.01,0.003"], "gamma": ["scheduler=step", "scheduler.build.gamma=0.5,0.2"]}
SWEPT = {"lr": ("optimizer.lr", {0.01, 0.003}), "gamma": ("scheduler.build.gamma", {0.5, 0.2})}
SINGLE = ["optimizer=sgd", "optimizer.momentum=0.8"]
PER_EPOCH = {f"{s}/{m}" for s in ("train", "val", "test") for m in ("loss", "acc")}
ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def train(root: Path, *args: str) -> None:
    """A tiny training run (or multirun with -m) writing under root/outputs."""
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        *args,
        *TINY,
        f"paths.output_dir={root / 'outputs'}",
        f"paths.cache_dir={root / 'cache'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET, or POST `body` as JSON the way the HParams frontend does."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data else {}
    with urllib.request.urlopen(urllib.request.Request(base + path, data, headers), timeout=30) as reply:
        return json.loads(reply.read())


def wait_for_sessions(base: str, n_sessions: int, timeout: float = 120) -> list[dict[str, Any]]:
    """The session groups once TensorBoard has loaded all n runs (it loads in the background)."""
    deadline = time.monotonic() + timeout
    groups: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            body = {"allowedStatuses": ALL_STATUSES, "startIndex": 0, "sliceSize": 100}
            groups = request(base, "/data/plugin/hparams/session_groups", body).get("sessionGroups", [])
        except (urllib.error.URLError, ConnectionError):
            groups = []
        if len(groups) == n_sessions:
            return groups
        time.sleep(1)
    raise AssertionError(f"TensorBoard showed {len(groups)} of {n_sessions} sessions after {timeout} s")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A single run, then two sweeps: each sweep's end refreshes the summary at outputs/'s root."""
    root = tmp_path_factory.mktemp("tb")
    train(root, *SINGLE, f"hydra.run.dir={root / 'outputs' / 'runs' / 'single'}")
    for name, swept in SWEEPS.items():
        train(root, "-m", *swept, f"hydra.sweep.dir={root / 'outputs' / 'sweeps' / name}")
    return root / "outputs"


@pytest.mark.slow
def test_only_the_root_of_outputs_holds_an_experiment_summary(outputs):
    """TensorBoard uses the first experiment summary it meets (in no fixed order with its Rust
    loader), so there must be one: the root's."""
    holding = []
    for directory in sorted({p.parent for p in outputs.rglob("events.out.tfevents.*")}):
        events = EventAccumulator(str(directory))
        events.Reload()
        if "_hparams_/experiment" in events.Tags()["tensors"]:
            holding.append(directory)
    assert holding == [outputs]


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", ["false", "true"])
def test_hparams_and_scalars_over_sweeps_and_a_run_through_tensorboards_http_api(outputs, load_fast):
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tensorboard"),
            f"--logdir={outputs}",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--load_fast={load_fast}",
            "--reload_interval=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        groups = wait_for_sessions(base, n_sessions=5)
        experiment = request(base, "/data/plugin/hparams/experiment", {"experimentName": ""})
        scalar_tags = request(base, "/data/plugin/scalars/tags")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    # The root's experiment: both sweeps' swept keys and the single run's own keys, as numbers, the
    # varying ones first, and exactly the per-epoch metrics (TensorBoard's own fallback would list
    # every scalar tag, perf/ and opt/ included).
    infos = experiment["hparamInfos"]
    types = {h["name"]: h["type"] for h in infos}
    numbers = [key for key, _ in SWEPT.values()] + ["optimizer.momentum", "scheduler.build.step_size"]
    assert {types[key] for key in numbers} == {"DATA_TYPE_FLOAT64"}
    assert {"model.name", "dataset.name", "trainer.epochs"} <= set(types)
    assert not any(key.startswith("paths.") or key == "trainer.device" for key in types)
    differing = [h["name"] for h in infos if h.get("differs")]
    assert set(numbers) <= set(differing) and [h["name"] for h in infos][: len(differing)] == differing
    metric_tags = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert metric_tags == PER_EPOCH | {"best/val_acc"}

    # Each run's session holds the values it used, as numbers; a key only some runs have is in
    # theirs alone.
    def values_of(key: str) -> list[Any]:
        return sorted(g["hparams"][key] for g in groups if key in g["hparams"])

    assert values_of("scheduler.build.gamma") == [0.2, 0.5] and values_of("optimizer.momentum") == [0.8]
    # lr: the lr sweep's two, Adam's default in the gamma sweep, SGD's default in the single run.
    assert values_of("optimizer.lr") == [0.001, 0.001, 0.003, 0.01, 0.01]
    for group in groups:
        metric_values = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert set(metric_values) >= PER_EPOCH
        assert 0 <= metric_values["val/acc"] <= 1

    # Scalars: every run has the split groups, the lr under opt/ and timing under perf/.
    # Each sweep's run is named by its varying override alone (no constant overrides, no /tb).
    runs = {run: set(tags) for run, tags in scalar_tags.items() if tags}
    expected_names = {f"sweeps/{sweep}/{key}={v}" for sweep, (key, values) in SWEPT.items() for v in values}
    assert set(runs) == expected_names | {"runs/single"}
    for tags in runs.values():
        assert PER_EPOCH | {"opt/lr", "perf/epoch_s", "perf/images_per_s", "best/val_acc"} == tags
