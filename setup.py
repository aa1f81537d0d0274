"""Ships the top-level conf/ inside the wheel as cnnlab/conf: the configs stay where Hydra users look
for them in the repository, and an installed cnnlab finds them from any directory (cnnlab/config/paths.py).
Everything else about the package is in pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONF = Path(__file__).resolve().parent / "conf"


class BuildPyWithConf(build_py):
    """build_py, then conf/ copied into the built package (an editable install reads conf/ in place)."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            shutil.copytree(CONF, Path(self.build_lib) / "cnnlab" / "conf", dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithConf})
