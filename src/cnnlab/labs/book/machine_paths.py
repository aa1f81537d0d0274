"""No machine paths under experiments/: a run records where it ran (summary.json's run_dir, the data
paths in its overrides, paths.* and the data source in config.yaml, a task's run), and those name
folders of one machine. Collect rewrites them: a path into LAB_OUT's full budget becomes the path of
its copy under experiments/, any other LAB_OUT path `<LAB_OUT>/...`, and any other machine path
`<local>/<its last part>` (the file's name says what was read; its folder says nothing elsewhere).
A result's path under another machine's LAB_OUT (.../full/<lab>/...) is read as its copy's too."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from cnnlab.labs.book.registry import LABS

# The folders a machine path starts with; the user's home is added where it is a real folder.
MACHINE_ROOTS = ("/root", "/tmp", "/home", "/work")
LOCAL, LAB_OUT = "<local>", "<LAB_OUT>"
FULL = "full"
# A full-budget result's path under any LAB_OUT: .../full/<lab>/<folder>[/...].
FULL_RESULT = re.compile(rf"/{FULL}/((?:{'|'.join(LABS)})/.+)$")
# The files collect copies that can hold paths (PNG figures and other binaries are left alone).
TEXT_SUFFIXES = (".json", ".yaml", ".csv")


def machine_roots() -> tuple[str, ...]:
    """MACHINE_ROOTS and the user's home (unless it is / or one of them already)."""
    home = str(Path.home())
    extra = (home,) if home != "/" and home not in MACHINE_ROOTS else ()
    return MACHINE_ROOTS + extra


def machine_path_pattern() -> re.Pattern[str]:
    """An absolute path under a machine root, inside a longer string: it starts the string or follows
    a space, `=`, `:`, `,` or a quote, and runs to the next whitespace."""
    roots = "|".join(re.escape(r) for r in sorted(machine_roots(), key=len, reverse=True))
    return re.compile(rf"(?<![\w.~/-])(?:{roots})(?=/|\s|$|[\"'])[^\s\"']*")


def relocate(path: str, lab_out: list[str], out_name: str) -> str:
    """What one machine path becomes: its copy's path under experiments/ (full-budget results), a path
    under <LAB_OUT>, or <local>/<its last part>."""
    for root in lab_out:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            rel = path[len(root) :].strip("/")
            budget, _, rest = rel.partition("/")
            if budget == FULL and rest:
                return f"{out_name}/{rest}"
            return f"{LAB_OUT}/{rel}" if rel else LAB_OUT
    copied = FULL_RESULT.search(path)
    if copied:  # a full-budget result of another LAB_OUT (trained on another machine, collected from a copy)
        return f"{out_name}/{copied[1]}"
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return f"{LOCAL}/{name}" if name else LOCAL


def _lab_out_roots(lab_out: Path | None) -> list[str]:
    if lab_out is None:
        return []
    roots = {str(lab_out.absolute()), str(lab_out.resolve())}
    return sorted(roots, key=len, reverse=True)


def stripper(lab_out: Path | None, out_root: Path) -> Callable[[str], str]:
    """A function that rewrites every machine path inside one string."""
    pattern, roots, out_name = machine_path_pattern(), _lab_out_roots(lab_out), out_root.name
    return lambda text: pattern.sub(lambda m: relocate(m.group(0), roots, out_name), text)


def _walk(node: Any, fix: Callable[[str], str]) -> Any:
    if isinstance(node, str):
        return fix(node)
    if isinstance(node, list):
        return [_walk(v, fix) for v in node]
    if isinstance(node, dict):
        return {k: _walk(v, fix) for k, v in node.items()}
    return node


def _rewrite(text: str, suffix: str, fix: Callable[[str], str]) -> str:
    """The file's text with every string value's machine paths rewritten, in the file's own format."""
    if suffix == ".json":
        out = json.dumps(_walk(json.loads(text), fix), indent=2)
    elif suffix == ".yaml":
        out = yaml.safe_dump(_walk(yaml.safe_load(text), fix), sort_keys=False, allow_unicode=True)
    else:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(
            [fix(cell) for cell in row] for row in csv.reader(io.StringIO(text))
        )
        out = buffer.getvalue()
    return out.rstrip("\n") + ("\n" if text.endswith("\n") else "")


def strip_file(path: Path, fix: Callable[[str], str]) -> bool:
    """Rewrite one collected file's machine paths in place; True when it changed."""
    if path.suffix not in TEXT_SUFFIXES:
        return False
    text = path.read_text()
    if not machine_path_pattern().search(text):
        return False
    path.write_text(_rewrite(text, path.suffix, fix))
    return True


def strip_tree(out_root: Path, lab_out: Path | None = None) -> list[Path]:
    """Rewrite the machine paths of every collected file under experiments/ (`out_root`), as collect
    does for what it copies, given the LAB_OUT they were collected from; returns the files changed."""
    fix = stripper(lab_out, out_root)
    return [p for p in sorted(out_root.rglob("*")) if p.is_file() and strip_file(p, fix)]


def machine_paths_in(root: Path) -> Iterator[tuple[Path, str]]:
    """Every machine path left in a file under `root`: text files, and the text chunks of PNGs."""
    pattern = machine_path_pattern()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".png":
            from PIL import Image

            with Image.open(path) as image:
                text = " ".join(str(v) for v in image.text.values())
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
        for match in pattern.finditer(text):
            yield path, match.group(0)
