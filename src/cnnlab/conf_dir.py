"""Where the config tree is, once: the copy a wheel carries inside the package (cnnlab/conf, put
there by setup.py's build step), else the top-level conf/ of the checkout this module runs from."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "conf"
CONF_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "conf"
