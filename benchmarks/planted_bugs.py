"""Plant each bug of benchmarks/planted_bugs.toml by hand, one at a time, in a copy of the repository,
and run the default-suite test named to catch it (`make planted-bugs`, a few minutes): the table says
which of its cases fail. A bug that no case of its test fails is a regression of the suite (exit 1).

Cosmic Ray's mutants (`make mutate`) are one-token changes; these are the bugs a person found the
suite letting through (issue 33), kept as a list so that each stays caught.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from mutant_tests import PYTEST  # benchmarks/, beside this script
from mutate import copy_repository, own_environment, snapshot, tomllib

ROOT = Path(__file__).resolve().parents[1]
BUGS = ROOT / "benchmarks" / "planted_bugs.toml"
FAILED = re.compile(r"^FAILED (\S+)")


def read_bugs(path: Path = BUGS) -> list[dict[str, str]]:
    return tomllib.loads(path.read_text())["bug"]


def plant(copy: Path, bug: dict[str, str]) -> str:
    """The module's text with the bug in it; refuses a bug whose `old` is not exactly once there."""
    text = (copy / bug["module"]).read_text()
    if text.count(bug["old"]) != 1:
        raise SystemExit(
            f"planted_bugs.toml: {bug['name']!r}: {bug['old']!r} occurs {text.count(bug['old'])} times "
            f"in {bug['module']}, not once; update its `old` to the code as it is now"
        )
    return text.replace(bug["old"], bug["new"])


def failing_cases(copy: Path, test: str) -> list[str]:
    """The cases of `test` that fail in the copy (with its source on PYTHONPATH, as the mutants run)."""
    env = {**own_environment(), "PYTHONPATH": str(copy / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    run = subprocess.run(
        [sys.executable, *PYTEST, "-rf", test], cwd=copy, env=env, capture_output=True, text=True
    )
    return [m.group(1) for line in run.stdout.splitlines() if (m := FAILED.match(line))]


def main() -> int:
    bugs, started = read_bugs(), f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    lines = [
        f"# Planted bugs, {started}",
        "",
        "Each bug of benchmarks/planted_bugs.toml planted alone; the test named to catch it run on it.",
        "",
        "| bug | test | cases failing |",
        "|---|---|---:|",
    ]
    missed = 0
    with tempfile.TemporaryDirectory(prefix="planted-") as tmp:
        copy = Path(tmp)
        copy_repository(copy, snapshot())
        for bug in bugs:
            module = copy / bug["module"]
            original = module.read_text()
            module.write_text(plant(copy, bug))
            try:
                failed = failing_cases(copy, bug["catches"])
            finally:
                module.write_text(original)
            missed += not failed
            print(f"{bug['name']}: {len(failed)} case(s) of {bug['catches']} fail", flush=True)
            lines.append(f"| {bug['name']} | `{bug['catches']}` | {len(failed) or '**0: not caught**'} |")
    out = ROOT / "benchmarks" / "results" / f"planted-{started}.md"
    out.write_text("\n".join([*lines, ""]))
    print(f"wrote {out}; {len(bugs) - missed} of {len(bugs)} bugs caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
