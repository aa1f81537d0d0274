"""cnnlab: a Hydra-configured experiment runner for convolutional networks.

From Python: cnnlab.train([overrides], run_dir=None) -> Result, cnnlab.sweep({key: values}),
cnnlab.load_run(run_dir, checkpoint="final"|"last"|"best"). They load on first use, so `import cnnlab` stays
light for the commands that need none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

from cnnlab.resolvers import register

__version__ = "0.1.0"

# name -> the module that defines it; `train` and `sweep` are the modules themselves, which are callable.
_API = {
    "train": "cnnlab.train",
    "sweep": "cnnlab.sweep",
    "Result": "cnnlab.api",
    "SweepResult": "cnnlab.sweep.grid",
    "load_run": "cnnlab.analysis.checkpoint",
}
__all__ = sorted(_API)

register()


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
    module = importlib.import_module(_API[name])
    return module if module.__name__ == f"cnnlab.{name}" else getattr(module, name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})
