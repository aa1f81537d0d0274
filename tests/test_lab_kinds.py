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


class _Refs:
    """Artefacts reduced to what the checks, equal and layers kinds ask: the value a reference names."""

    def __init__(self, values: dict) -> None:
        self.values = values

    def ref(self, text: str):
        return self.values[text]


def _reading(kind: str, values: dict, spec: dict, tmp_path: Path) -> str:
    return " ".join(KINDS[kind].draw(_Refs(values), {"kind": kind, **spec}, Figures(tmp_path, "s")).reading)


@pytest.mark.parametrize(
    ("errors", "reading"),
    [
        ([2e-7], "The check agrees within 1e-06: its error is 2.0e-07."),
        ([0.0], "The check agrees exactly: its error is 0."),
        ([1e-10, 2e-10], "Both checks agree within 1e-06; the largest error is 2.0e-10 (c1)."),
        ([0.0, 0.0], "Both checks agree exactly: both errors are 0."),
        ([0.0, 3e-9, 1e-9], "All 3 checks agree within 1e-06; the largest error is 3.0e-09 (c1)."),
        ([0.0, 0.0, 0.0], "All 3 checks agree exactly: every error is 0."),
        ([0.0, 2e-6], "Above the tolerance 1e-06: c1 (2.0e-06)."),
    ],
)
def test_checks_count_their_agreement_in_words_and_say_an_exact_match(tmp_path, errors, reading):
    values = {f"t:c{i}": e for i, e in enumerate(errors)}
    spec = {"tol": 1e-6, "values": {f"c{i}": f"t:c{i}" for i in range(len(errors))}}
    assert _reading("checks", values, spec, tmp_path) == reading


@pytest.mark.parametrize(
    ("n", "reading"),
    [(1, "The pair agrees exactly."), (2, "Both pairs agree exactly."), (3, "All 3 pairs agree exactly.")],
)
def test_equal_counts_its_pairs_in_words(tmp_path, n, reading):
    values = {f"t:v{i}": i for i in range(n)}
    spec = {"pairs": [[f"v{i}", f"t:v{i}", f"t:v{i}"] for i in range(n)]}
    assert _reading("equal", values, spec, tmp_path) == reading
    values["t:w"] = 7
    spec["pairs"][0][2] = "t:w"
    assert _reading("equal", values, spec, tmp_path) == "They differ: v0 (0 vs 7)."


def test_a_fraction_per_layer_reads_in_percent_with_the_verb_of_its_change(tmp_path):
    """mainf6 c: the share of active units per layer, 0.6034 -> 60.34%, falling from conv1 to conv4 but
    not at conv3 (0.4077 > 0.3977)."""
    rows = [
        {"name": "conv1", "fraction_active": 0.6034, "dead_channels": 0},
        {"name": "conv2", "fraction_active": 0.3977, "dead_channels": 0},
        {"name": "conv3", "fraction_active": 0.4077, "dead_channels": 1},
        {"name": "conv4", "fraction_active": 0.2817, "dead_channels": 0},
    ]
    spec = {"kind": "layers", "rows": "c:layers", "columns": ["fraction_active", "dead_channels"]}
    block = KINDS["layers"].draw(
        _Refs({"c:layers": rows}), {**spec, "trend": "fraction_active"}, Figures(tmp_path, "s")
    )
    assert "| conv3 | 40.77% | 1 |" in block.lines
    assert block.reading == [
        "The active fraction falls from 60.34% at conv1 to 28.17% at conv4, but not at every layer: "
        "conv3 (40.77%) is above conv2 (39.77%)."
    ]
    rising = [{**r, "fraction_active": 1 - r["fraction_active"]} for r in (rows[0], rows[1], rows[3])]
    block = KINDS["layers"].draw(
        _Refs({"c:layers": rising}), {**spec, "trend": "fraction_active"}, Figures(tmp_path, "s")
    )
    assert block.reading == [
        "The active fraction rises from 39.66% at conv1 to 71.83% at conv4, rising at every layer."
    ]
