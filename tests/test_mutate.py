"""`make mutate`'s reading of Cosmic Ray's results (benchmarks/mutate.py): a survivor's line from its
diff, equivalents from mutation.toml left out of the rate, and a config whose files all exist."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("mutate", ROOT / "benchmarks" / "mutate.py")
mutate = importlib.util.module_from_spec(SPEC)
sys.modules["mutate"] = mutate
SPEC.loader.exec_module(mutate)

# As `cosmic-ray dump` gives it for a comparison mutant of early_stopping.py's line 45.
DIFF = (
    "--- mutation diff ---\n--- a/src/cnnlab/engine/early_stopping.py\n"
    "+++ b/src/cnnlab/engine/early_stopping.py\n"
    "@@ -42,7 +42,7 @@\n \n     def update_is_due(self, epoch: int) -> bool:\n"
    '         """Whether ..."""\n-        return epoch - self.best_epoch >= self.patience\n'
    "+        return epoch - self.best_epoch == self.patience\n \n     def _improves(self, value):"
)


def test_a_survivors_line_and_change_come_from_its_diff():
    assert mutate.parse_diff(DIFF) == (
        45,
        ["return epoch - self.best_epoch >= self.patience"],
        ["return epoch - self.best_epoch == self.patience"],
    )


def test_equivalents_are_listed_but_left_out_of_the_survival_rate():
    config = {
        "equivalent": [
            {
                "module": "engine/early_stopping.py",
                "line": "  return epoch - self.best_epoch >= self.patience ",
                "mutant": "return epoch - self.best_epoch == self.patience",
                "reason": "for the test",
            }
        ]
    }
    _, removed, added = mutate.parse_diff(DIFF)
    reason = mutate.equivalents(config)[("engine/early_stopping.py", " ".join(removed), " ".join(added))]
    live = mutate.Survivor("a", "core/ReplaceComparisonOperator_GtE_Eq", 45, removed, added, DIFF)
    equivalent = mutate.Survivor("b", "core/X", 45, removed, added, DIFF, equivalent=reason)
    result = mutate.ModuleResult("engine/early_stopping.py", ["tests/x.py"], 10.0, killed=7)
    result.survivors = [live, equivalent]
    assert result.survival_rate == pytest.approx(1 / 8)  # 1 live survivor, 7 killed; the equivalent out
    text = mutate.report([result], "now", "abc", "0.1")
    assert "| engine/early_stopping.py | x.py | 9 | 7 | 0 | 1 | 1 | 12.5% |" in text
    assert "equivalent: for the test" in text and "-        return epoch - self.best_epoch >= self" in text


def test_every_module_and_test_file_in_mutation_toml_exists():
    config = mutate.tomllib.loads(mutate.CONFIG.read_text())
    mutate.check_modules(config, list(config["modules"]))
    assert {"engine/early_stopping.py", "engine/validate.py", "sweep/jobs.py", "engine/fit.py"} <= set(
        config["modules"]
    )
