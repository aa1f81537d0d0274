"""TensorBoard's own backend as the client: two sweeps with different swept keys, served by
`tensorboard --logdir`, read back through the HTTP API its HParams and Scalars pages use."""

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

TINY = ["trainer.epochs=2", "trainer.limit_batches=2"]
SWEEPS = {"lr": ["optimizer.lr=0.01,0.003"], "bs": ["trainer.batch_size=16,32"]}
SWEPT = {"optimizer.lr": {0.01, 0.003}, "trainer.batch_size": {16, 32}}
PER_EPOCH = {f"{s}/{m}" for s in ("train", "val", "test") for m in ("loss", "acc")}
ALL_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def run_sweep(root: Path, name: str, swept: list[str]) -> None:
    command = [
        sys.executable,
        "-m",
        "cnnlab.train",
        "-m",
        *swept,
        *TINY,
        f"paths.output_dir={root / 'outputs'}",
        f"paths.cache_dir={root / 'cache'}",
        f"hydra.sweep.dir={root / 'sweeps' / name}",
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


@pytest.mark.slow
def test_hparams_and_scalars_over_two_sweeps_through_tensorboards_http_api(tmp_path):
    for name, swept in SWEEPS.items():
        run_sweep(tmp_path, name, swept)
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tensorboard"),
            f"--logdir={tmp_path / 'sweeps'}",
            "--host=127.0.0.1",
            f"--port={port}",
            "--load_fast=false",
            "--reload_interval=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        groups = wait_for_sessions(base, n_sessions=4)
        experiment = request(base, "/data/plugin/hparams/experiment", {"experimentName": ""})
        scalar_tags = request(base, "/data/plugin/scalars/tags")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    # Whichever sweep's experiment TensorBoard picked, it lists both sweeps' keys as numbers.
    types = {h["name"]: h["type"] for h in experiment["hparamInfos"]}
    assert {types[key] for key in SWEPT} == {"DATA_TYPE_FLOAT64"}
    assert {"model.name", "dataset.name", "trainer.epochs"} <= set(types)
    assert not any(key.startswith("paths.") or key == "trainer.device" for key in types)
    metric_tags = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert PER_EPOCH | {"best/val_acc"} <= metric_tags
    assert not any(tag.startswith("hparam/") for tag in metric_tags)

    # Each run's session holds the values it used, as numbers, and its per-epoch metrics.
    for key, values in SWEPT.items():
        seen = [g["hparams"][key] for g in groups]
        assert all(isinstance(v, int | float) for v in seen)
        assert len(set(seen)) == 3 and values < set(seen)  # the swept values; the other sweep's default
    for group in groups:
        metric_values = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert set(metric_values) >= PER_EPOCH
        assert 0 <= metric_values["val/acc"] <= 1

    # Scalars: every run has the split groups, the lr under opt/ and timing under perf/.
    # Each run is named by its sweep's varying override alone (no constant overrides, no /tb).
    runs = {run: set(tags) for run, tags in scalar_tags.items() if tags}
    expected_names = {
        f"{sweep}/{key}={v}"
        for sweep, key in (("lr", "optimizer.lr"), ("bs", "trainer.batch_size"))
        for v in SWEPT[key]
    }
    assert set(runs) == expected_names
    for tags in runs.values():
        assert PER_EPOCH | {"opt/lr", "perf/epoch_s", "perf/images_per_s", "best/val_acc"} == tags
