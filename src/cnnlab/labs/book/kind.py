"""What an analysis kind is: the block it draws from a lab's artefacts for one spec of a README section
(`analysis: [{kind: <name>, ...}]`), and the recipe folders such a spec reads, which the lab's registry
checks against its recipes when it loads. One module per kind under kinds/ declares both."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnlab.labs.book.artefacts import Missing

if TYPE_CHECKING:
    from cnnlab.labs.book.artefacts import LabArtefacts
    from cnnlab.labs.book.block import Block, Figures

Spec = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """One analysis kind: its `kind:` name, how it draws a spec, and which recipe folders a spec reads."""

    name: str
    draw: Callable[[LabArtefacts, Spec, Figures], Block]
    reads: Callable[[Spec], list[str]]


def fetched(fetch: Callable[[str], Any], name: str, block: Block) -> Any:
    """fetch(name), or None with the name noted in the block as missing."""
    try:
        return fetch(name)
    except Missing:
        block.missing.append(name)
        return None
