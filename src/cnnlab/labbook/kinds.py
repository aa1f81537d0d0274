"""Every analysis kind a registry section may name, by its `kind:` (conf/lab/README.md lists them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnnlab.labbook.analyses import ANALYSES as BASIC
from cnnlab.labbook.artefacts import LabArtefacts
from cnnlab.labbook.block import Block, Figures
from cnnlab.labbook.by_value import by_value
from cnnlab.labbook.ladder import ladder

ANALYSES: dict[str, Callable[[LabArtefacts, dict[str, Any], Figures], Block]] = {
    **BASIC,
    "ladder": ladder,
    "by_value": by_value,
}
