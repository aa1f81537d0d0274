"""Where the config tree is, once: the copy a wheel carries inside the package (cnnlab/conf, put
there by setup.py's build step), else the top-level conf/ of the checkout this module runs from;
and the lab registry inside it."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]
_PACKAGED = _PACKAGE / "conf"
CONF_DIR = _PACKAGED if _PACKAGED.is_dir() else _PACKAGE.parents[1] / "conf"
# One YAML file per lab: its recipes, sections and analyses (conf/lab/README.md).
LAB_DIR = CONF_DIR / "lab"
