"""What every analysis of a README section returns (a Block), where its figures go, and the Markdown
table they all print: shared by each analysis kind so that no kind imports another."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

NOT_RUN = "not yet run at full budget"


@dataclass
class Block:
    """What one analysis adds to a section."""

    lines: list[str] = field(default_factory=list)
    reading: list[str] = field(default_factory=list)
    headline: str | None = None
    missing: list[str] = field(default_factory=list)


@dataclass
class Figures:
    """Where a section's generated figures go, and the link the README uses for each."""

    root: Path
    slug: str
    count: int = 0

    def next(self) -> tuple[Path, str]:
        self.count += 1
        name = f"{self.slug}_{self.count}.png"
        return self.root / "figures" / name, f"figures/{name}"


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table."""
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
