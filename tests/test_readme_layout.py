"""README's Layout names every module of src/cnnlab/ and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layout_modules(readme: str) -> set[str]:
    """The modules README's Layout lists under src/cnnlab/, as paths relative to it.

    Inside the Layout's code block, an entry at indent 2 is a top-level module or (ending in /) a
    package; an entry two spaces deeper than a package is one of its modules or sub-packages. A deeper
    line is the rest of an entry's description.
    """
    section = readme.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\n", 2)[1]
    lines = block.split("src/cnnlab/\n", 1)[1].splitlines()
    modules, packages = set(), []
    for line in lines:
        match = re.match(r"( *)(\S+)", line)
        if not match or len(match.group(1)) == 0:
            break  # back at the top level of the tree: src/cnnlab/ has ended
        indent, name = len(match.group(1)), match.group(2)
        depth = indent // 2
        if indent % 2 or depth > len(packages) + 1:
            continue
        del packages[depth - 1 :]
        if name.endswith("/"):
            packages.append(name)
        elif name.endswith(".py"):
            modules.add("".join(packages) + name)
    return modules


def test_readme_layout_lists_every_module_of_src_cnnlab():
    src = ROOT / "src" / "cnnlab"
    present = {p.relative_to(src).as_posix() for p in src.rglob("*.py") if p.name != "__init__.py"}
    listed = layout_modules((ROOT / "README.md").read_text())
    assert sorted(present - listed) == [], "modules missing from README's Layout"
    assert sorted(listed - present) == [], "README's Layout lists modules that do not exist"


def test_every_package_is_listed_with_its_modules():
    listed = layout_modules((ROOT / "README.md").read_text())
    packages = {p.parent.name for p in (ROOT / "src" / "cnnlab").glob("*/__init__.py")}
    assert packages == {m.split("/")[0] for m in listed if "/" in m}
