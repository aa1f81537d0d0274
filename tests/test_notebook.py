"""docs/notebook.ipynb runs top to bottom in a real Jupyter kernel (nbclient + ipykernel), from an empty
directory, and every number it shows is the one its run dirs hold."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def _shown(cell: nbformat.NotebookNode) -> str:
    """What a cell printed and displayed, as text."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def _only_dir(parent: Path) -> Path:
    found = [p for p in parent.iterdir() if p.is_dir()]
    assert len(found) == 1, found
    return found[0]


def test_the_notebook_runs_in_a_jupyter_kernel_and_shows_what_its_runs_hold(tmp_path, monkeypatch):
    for variable in ("CNNLAB_DATA_ROOT", "CNNLAB_OUTPUT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    _, train, table, plot, loaded, evaluated, swept = [c for c in notebook.cells if c.cell_type == "code"]

    run_dir = _only_dir(tmp_path / "outputs" / "runs" / "digits-lenet")
    summary = json.loads((run_dir / "summary.json").read_text())
    metrics = pd.read_csv(run_dir / "metrics.csv")
    shown = _shown(train)
    for epoch in (1, 2, 3):  # the per-epoch lines, shown while it trained
        assert f"epoch {epoch}/3  train_loss {metrics['train_loss'][epoch - 1]:.4f}" in shown
    assert f"run dir: {run_dir.relative_to(tmp_path)}" in shown
    assert "status: completed after 3 epochs" in shown
    assert f"final test accuracy: {summary['final']['test_acc']:.4f}" in shown
    assert _shown(table) == metrics[["epoch", "train_loss", "val_loss", "val_acc", "test_acc"]].to_string()
    assert any("image/png" in output.get("data", {}) for output in plot.outputs)

    best = summary["best"]["epoch"]
    assert f"LeNet5: {summary['n_params']} parameters, epoch {best}, input (1, 28, 28)" in _shown(loaded)
    evaluation = json.loads((run_dir / "evaluation" / "test-best" / "evaluation.json").read_text())
    assert f"best checkpoint (epoch {best}): test accuracy {evaluation['accuracy']:.4f}" in _shown(evaluated)
    assert any("image/png" in output.get("data", {}) for output in evaluated.outputs)

    sweep_dir = _only_dir(tmp_path / "outputs" / "sweeps" / "digits-lenet")
    report = pd.read_csv(sweep_dir / "summary.csv")
    assert sorted(report["run"]) == ["optimizer.lr=0.0003", "optimizer.lr=0.003"]
    assert list(report["status"]) == ["completed", "completed"]
    assert _shown(swept).endswith(report[["run", "status", "best_value", "final_test_acc"]].to_string())
    assert "epoch 2/2" in _shown(swept)  # the jobs' lines came through
