"""The `figures` analysis: figures an exercise or run drew, linked where `make collect` put them; a grid
named in `titles` is redrawn with its title and rows. Spec: {kind: figures, files: [<folder>/<file>,
...], titles: {<file>: <title>}, grid_rows: [...]}."""

from __future__ import annotations

import re
from typing import Any

from cnnlab.labs.book.artefacts import LabArtefacts
from cnnlab.labs.book.block import Block, Figures
from cnnlab.labs.book.figures import draw_grid
from cnnlab.labs.book.kind import Kind


def figures_of(art: LabArtefacts, spec: dict[str, Any], figures: Figures) -> Block:
    """Figures a task or run drew, linked where collect put them (never copied); an image grid named in
    `titles` is redrawn into figures/ with its title and its rows named (`grid_rows`)."""
    block = Block()
    titles = spec.get("titles") or {}
    for name in spec["files"]:
        folder = _recipe_folder(name)
        if (art.root / name).is_file() and name in titles:
            path, link = figures.next()
            draw_grid(art.root / name, path, titles[name], spec["grid_rows"])
            block.lines += [*([""] if block.lines else []), f"![{titles[name]}]({link})"]
        elif (art.root / name).is_file():
            alt = name.removesuffix(".png").replace("/", " ")
            block.lines += [*([""] if block.lines else []), f"![{alt}]({name})"]
        elif folder not in block.missing:
            block.missing.append(folder)
    return block


def _recipe_folder(name: str) -> str:
    """The recipe a file belongs to: its folder, less the seed<N>/ of a seeded run."""
    return re.sub(r"/seed\d+$", "", name.rpartition("/")[0])


def reads(spec: dict[str, Any]) -> list[str]:
    """The recipe folders this analysis reads."""
    return [_recipe_folder(name) for name in spec["files"]]


KIND = Kind("figures", figures_of, reads)
