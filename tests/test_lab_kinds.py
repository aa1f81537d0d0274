"""Analysis kinds are one module each (labs/book/kinds/): a lab's registry names a kind and the folders
it reads are asked of that kind. The seed_band kind, added as one module, shows it: its band is the
hand-computed one, its table and reading say the widths, and its figure is a real PNG."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from cnnlab.errors import ConfigError
from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import Figures
from cnnlab.labs.book.kinds import KINDS
from cnnlab.labs.book.kinds import seed_band as seed_band_kind
from cnnlab.labs.book.labs import load_lab
from cnnlab.labs.book.render import build_lab

from .labfakes import fake_run

LAB = """
title: x
text: x.md
recipes:
  a: {run: rdfia/q15, seeds: [0, 1, 2], label: "the base"}
  b: {run: rdfia/q19, seeds: [0, 1], label: "+ standardisation"}
sections:
  - ids: [q1]
    question: how far the seeds lie apart
    recipes: [a, b]
    answers: {q1: "a {a:final.test_acc}"}
    analysis:
      - {kind: seed_band, runs: [a, b]}
"""
# Each seed's test accuracy per epoch; seed 1 of `a` trains one epoch longer.
SEEDS = {
    "a": [[0.50, 0.60, 0.70], [0.40, 0.60, 0.72, 0.80], [0.55, 0.62, 0.75]],
    "b": [[0.30, 0.50], [0.34, 0.52]],
}


def _lab(tmp_path: Path, text: str = LAB):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "conf" / "x.yaml").write_text(text)
    return load_lab("x", tmp_path / "conf")


def _experiments(tmp_path: Path) -> Path:
    root = tmp_path / "experiments"
    for folder, seeds in SEEDS.items():
        for seed, accs in enumerate(seeds):
            fake_run(root / "x" / folder / f"seed{seed}", accs, [f"trainer.seed={seed}"])
    return root


def test_every_kind_is_a_module_that_names_the_folders_it_reads():
    assert {"runs", "sweep", "ladder", "by_value", "expect", "seed_band"} <= set(KINDS)
    assert all(kind.name == name for name, kind in KINDS.items())
    assert KINDS["seed_band"].reads({"kind": "seed_band", "runs": ["a", "b"]}) == ["a", "b"]
    assert KINDS["by_value"].reads({"kind": "by_value", "points": [[0.2, "p2"], [0.5, "p5"]]}) == ["p2", "p5"]
    assert KINDS["equal"].reads({"kind": "equal", "pairs": [["x", "t:a.b", "u:c"]]}) == ["t", "u"]


def test_the_registry_checks_a_kinds_folders_and_names_an_unknown_kind(tmp_path):
    assert _lab(tmp_path).sections[0].analyses[0]["kind"] == "seed_band"
    with pytest.raises(ConfigError, match="names recipe 'zz'"):
        _lab(tmp_path, LAB.replace("runs: [a, b]}", "runs: [a, zz]}"))
    with pytest.raises(ConfigError, match="names kind 'seed_bands'.*seed_band"):
        _lab(tmp_path, LAB.replace("kind: seed_band", "kind: seed_bands"))


def test_the_seed_band_is_the_lowest_to_highest_seed_per_epoch(tmp_path, monkeypatch):
    received = []
    monkeypatch.setattr(seed_band_kind, "plot_bands", lambda bands, *a, **k: received.append(bands))
    art = LabArtefacts(_lab(tmp_path), _experiments(tmp_path))
    block = KINDS["seed_band"].draw(art, {"kind": "seed_band", "runs": ["a", "b"]}, Figures(tmp_path, "s"))
    (a, band_a), (b, band_b) = received[0]
    assert (a, b) == ("a", "b")
    # a: epoch 1 seeds 0.50, 0.40, 0.55; epoch 2 0.60, 0.60, 0.62; epoch 3 0.70, 0.72, 0.75; 4: 0.80 alone
    assert list(band_a.index) == [1, 2, 3, 4] and list(band_a["n"]) == [3, 3, 3, 1]
    assert list(band_a["low"]) == pytest.approx([0.40, 0.60, 0.70, 0.80])
    assert list(band_a["high"]) == pytest.approx([0.55, 0.62, 0.75, 0.80])
    assert list(band_a["mean"]) == pytest.approx([1.45 / 3, 1.82 / 3, 2.17 / 3, 0.80])
    assert list(band_b["high"] - band_b["low"]) == pytest.approx([0.04, 0.02])
    # The width at the last epoch all seeds reached (a: 3, 0.75 - 0.70), and the widest (a: epoch 1).
    assert "| a | 3 | 3 | 5.00 points | 15.00 points (epoch 1) |" in block.lines
    assert "| b | 2 | 2 | 2.00 points | 4.00 points (epoch 1) |" in block.lines
    assert block.reading[0] == (
        "a: its 3 seeds lie 5.00 points apart in test_acc at epoch 3, the last all of them reached; "
        "the band is widest, 15.00 points, at epoch 1."
    )
    assert block.headline is None  # the section's runs speak for it; the band says how far to trust them


def test_a_recipe_with_one_seed_waits_for_its_band(tmp_path):
    root = _experiments(tmp_path)
    for seed in ("seed1", "seed2"):
        shutil.rmtree(root / "x" / "a" / seed)
    art = LabArtefacts(_lab(tmp_path), root)
    block = KINDS["seed_band"].draw(art, {"kind": "seed_band", "runs": ["a", "b"]}, Figures(tmp_path, "s"))
    assert block.reading[0] == "No band yet for a 1 of 3 seeds: a band needs two seeds or more."
    assert "| b | 2 | 2 | 2.00 points | 4.00 points (epoch 1) |" in block.lines
    assert not any(line.startswith("| a |") for line in block.lines)


def test_a_seed_band_section_renders_its_figure_into_the_readme(tmp_path):
    lab = _lab(tmp_path)
    readme, _ = build_lab(lab, _experiments(tmp_path))
    text = readme.read_text()
    assert "| a | 3 | 3 | 5.00 points | 15.00 points (epoch 1) |" in text
    figure = readme.parent / "figures" / "q1_1.png"
    assert "](figures/q1_1.png)" in text and Image.open(figure).size[0] > 300
