"""experiments/<lab>/README.md and the scoreboards, rendered from the registry and the committed
artefacts alone: one section per registry entry, one row per question id, each table drawn once."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from cnnlab.labs.book.artefacts import LabArtefacts, Missing
from cnnlab.labs.book.block import NOT_RUN, Block, Figures, table
from cnnlab.labs.book.figures import BAND
from cnnlab.labs.book.formatting import seconds, with_unit
from cnnlab.labs.book.kinds import KINDS
from cnnlab.labs.book.labs import all_labs
from cnnlab.labs.book.references import reference_block
from cnnlab.labs.book.registry import REF, Lab, Section
from cnnlab.labs.book.seeds import MIN_SEEDS
from cnnlab.labs.book.welch import ALPHA

START, END = "<!-- lab-scoreboard:start -->", "<!-- lab-scoreboard:end -->"


@dataclass
class Rendered:
    """A rendered section and its scoreboard row."""

    lines: list[str]
    row: list[str]
    trains: bool


def _command(lab: Lab, ident: str) -> str:
    return f"`make {lab.name}-{ident}`"


def _answer(art: LabArtefacts, lab: Lab, ident: str, template: str) -> str:
    try:
        return art.fill(template)
    except Missing as missing:
        folder, path = missing.args
        if art.has(folder):
            return f"not recorded in experiments/{lab.name}/{folder}: {path}"
        return f"{NOT_RUN if lab.recipes[folder].per_budget else 'not yet run'}: {_command(lab, ident)}"


def _prose(art: LabArtefacts, lab: Lab, text: str) -> str:
    """Reasoning text with its measured values filled in; a value not yet measured reads as the make
    command of the first question that measures it, so the reasoning around it still stands."""

    def value(ref: re.Match) -> str:
        try:
            return art.fill(ref[0])
        except Missing as missing:
            ident = next((s.ids[0] for s in lab.sections if ref[1] in s.recipes), lab.sections[-1].ids[0])
            return f"*({_answer(art, lab, ident, '{' + ':'.join(missing.args) + '}')})*"

    return REF.sub(value, text)


def reason_lines(art: LabArtefacts, lab: Lab, section: Section) -> list[str]:
    """The written reasons of a section's ids, each a paragraph (Markdown and math) after the answers."""
    lines = []
    for ident, text in section.reasons.items():
        lines += [f"**{ident}, the reasoning.** {_prose(art, lab, text)}", ""]
    return lines


def setup_lines(art: LabArtefacts, lab: Lab) -> list[str]:
    """The lab-level table "our setup against the lab's", at the top of its README."""
    if not lab.setup:
        return []

    def cell(text: str) -> str:
        return _prose(art, lab, text).replace("|", "\\|").replace("\n", " ")

    rows = [[cell(r.what), cell(r.lab), cell(r.ours), cell(r.why)] for r in lab.setup]
    return ["## Our setup against the lab's", "", *table(["what", "the lab's", "ours", "why"], rows), ""]


def wall_times(art: LabArtefacts, folders: list[str]) -> tuple[float | None, float | None]:
    """Summed wall time of these recipes on CPU and on a GPU, from every machine they were
    collected from (None where none was)."""
    walls = [art.walls(folder) for folder in folders]
    cpu = [w["cpu"] for w in walls if "cpu" in w]
    gpu = [w["gpu"] for w in walls if "gpu" in w]
    return (sum(cpu) if cpu else None), (sum(gpu) if gpu else None)


def _unfinished(lab: Lab, art: LabArtefacts, folder: str) -> str:
    """A recipe not yet answered, with how many of a sweep's jobs or of its seeds have finished."""
    done, recipe = len(art.runs_of(folder)), lab.recipes[folder]
    if recipe.seeds:
        return f"{lab.name}/{folder} ({done} of {len(recipe.seeds)} seeds landed)"
    jobs = recipe.jobs
    return f"{lab.name}/{folder}" + (f" ({done} of {jobs} jobs finished)" if done and jobs > 1 else "")


def render_section(lab: Lab, art: LabArtefacts, section: Section, out: Path, timed: set[str]) -> Rendered:
    """One section: the question, the command, a row per id, the analyses, the lab's figures, the reading.
    Its scoreboard row counts the wall time of the training recipes no earlier section counted (`timed`)."""
    ids = ", ".join(section.ids)
    lines = [f"## {ids}: {section.question}", "", f"Reproduce: {_command(lab, section.ids[0])}.", ""]
    training = [f for f in section.recipes if lab.recipes[f].trains]
    missing_training = [f for f in training if not art.has(f)]
    if missing_training:
        lines += [
            f"**{NOT_RUN.capitalize()}:** {', '.join(_unfinished(lab, art, f) for f in missing_training)}; "
            f"run {_command(lab, section.ids[0])} then `make collect`.",
            "",
        ]
    partial = [
        f for f in training if lab.recipes[f].seeds and 0 < len(art.runs_of(f)) < len(lab.recipes[f].seeds)
    ]
    if partial:
        lines += [
            f"**Seeds still to land:** {', '.join(_unfinished(lab, art, f) for f in partial)}; what has "
            f"landed is shown with its n, and a verdict over seeds waits for n ≥ {MIN_SEEDS} on each side.",
            "",
        ]
    answers = [[i, _answer(art, lab, i, section.answers[i])] for i in section.ids]
    lines += table(["id", "answer (measured)"], answers)
    lines.append("")
    lines += reason_lines(art, lab, section)
    figures = Figures(out, f"{section.slug}")
    blocks: list[Block] = [KINDS[a["kind"]].draw(art, a, figures) for a in section.analyses]
    if section.references:
        blocks.append(reference_block(art, section.references))
        lines += ["The lab's figures (typed in from the lab text) against ours:", ""]
        lines += blocks[-1].lines + [""]
    for block in blocks[: len(section.analyses)]:
        if block.lines:
            lines += block.lines + [""]
    reading = [s for b in blocks for s in b.reading]
    if reading:
        lines += ["**Reading.** " + " ".join(reading), ""]
    headline = next((b.headline for b in reversed(blocks) if b.headline and not b.missing), None)
    if headline is None:
        headline = next((b.headline for b in blocks if b.headline), None)
    if missing_training:
        ours = NOT_RUN
    elif any(not art.has(f) for f in section.recipes):
        ours = "not yet run"
    elif section.scoreboard:  # the section's own metric, where the headline reads another
        ours = _answer(art, lab, section.ids[0], section.scoreboard)
    else:
        ours = headline or answers[0][1]
    own = [f for f in training if f not in timed]
    timed.update(own)
    cpu, gpu = wall_times(art, own)
    figure = "; ".join(f"{r.label} {with_unit(r.lab, r.unit)}" for r in section.references) or "-"
    row = [ids, section.question, figure, ours, seconds(cpu) if cpu else "-", seconds(gpu) if gpu else "-"]
    return Rendered(lines, row, bool(training))


SCORE_HEAD = [
    "question",
    "what the lab asks",
    "the lab's figure",
    "ours at full budget",
    "wall time, 2 CPU cores",
    "wall time, GPU",
]


def lab_cpu_time(lab: Lab, art: LabArtefacts) -> str:
    """The summed full-budget CPU wall time of a lab's training recipes, or how much is missing."""
    training = [f for f, r in lab.recipes.items() if r.trains]
    cpu, _ = wall_times(art, training)
    measured = [f for f in training if "cpu" in art.walls(f)]
    if not measured:
        return "not yet measured"
    if len(measured) < len(training):
        share = f"{len(measured)} of {len(training)} training recipes"
        return f"{seconds(cpu)} for {share} (the rest not yet measured)"
    return seconds(cpu)


def _seeds_note(lab: Lab) -> list[str]:
    """How a lab with recipes trained over seeds reads them, said once at the top of its README."""
    if not any(r.seeds for r in lab.recipes.values()):
        return []
    return [
        "",
        "Recipes trained over seeds read as mean ± sample standard deviation with n (each seed's own run "
        f"is in experiments/{lab.name}/<folder>/seed<N>/); their figures draw a {BAND}. Two of them differ "
        f"clearly only when Welch's t-test over their seeds gives p < {ALPHA}, and no verdict is given "
        f"before each side has {MIN_SEEDS} seeds (conf/lab/README.md).",
    ]


def build_lab(lab: Lab, out_root: Path) -> tuple[Path, list[Rendered]]:
    """Write experiments/<lab>/README.md and experiments/<lab>/figures/ from experiments/<lab>/."""
    out = out_root / lab.name
    if (out / "figures").is_dir():
        shutil.rmtree(out / "figures")
    out.mkdir(parents=True, exist_ok=True)
    art = LabArtefacts(lab, out_root)
    timed: set[str] = set()
    rendered = [render_section(lab, art, s, out, timed) for s in lab.sections]
    head = [
        f"# {lab.title}",
        "",
        f"Generated by `make report` from conf/lab/{lab.name}.yaml and the artefacts under "
        f"experiments/{lab.name}/ (collected from full-budget runs by `make collect`); do not edit. "
        f"The lab text is ../shared/seeds/{lab.text}.",
        "Only full-budget runs answer (`BUDGET=full`, the lab's own schedule); `BUDGET=smoke` is a pipeline "
        "check and is never shown. The lab's figures are typed in from the lab text and labelled as "
        "the lab's; every other number is measured. Accuracy is in percent everywhere.",
        *_seeds_note(lab),
        "",
        f"Full-budget training time of this lab on CPU: {lab_cpu_time(lab, art)}.",
        "",
        *setup_lines(art, lab),
        "## Scoreboard",
        "",
        *table(SCORE_HEAD, [r.row for r in rendered]),
        "",
    ]
    path = out / "README.md"
    path.write_text("\n".join(head + [line for r in rendered for line in r.lines]).rstrip("\n") + "\n")
    return path, rendered


def main_scoreboard(results: dict[str, list[Rendered]], times: dict[str, str]) -> str:
    """The block of the main README between the scoreboard markers: training questions of all labs."""
    rows = [
        [lab, *r.row] for lab, rendered in results.items() for r in rendered if r.trains or r.row[2] != "-"
    ]
    lines = [
        START,
        "<!-- generated by `make report` from experiments/*/: do not edit -->",
        "",
        *table(["lab", *SCORE_HEAD], rows),
        "",
        "Measured full-budget training time of each lab on a 2-core CPU:",
        "",
        *table(["lab", "CPU wall time"], [[lab, t] for lab, t in times.items()]),
        "",
        END,
    ]
    return "\n".join(lines)


def update_readme(readme: Path, block: str) -> None:
    """Replace the text between the scoreboard markers of the main README."""
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme} has no {START} ... {END} markers to fill")
    readme.write_text(pattern.sub(lambda _: block, text))


def build_all(out_root: Path, readme: Path | None) -> list[Path]:
    """Every lab README, then the main README's scoreboard over all five labs (all are rebuilt, since
    the main scoreboard needs every lab's rows; unchanged artefacts give unchanged files)."""
    paths, results, times = [], {}, {}
    for lab in all_labs():
        path, results[lab.name] = build_lab(lab, out_root)
        paths.append(path)
        times[lab.name] = lab_cpu_time(lab, LabArtefacts(lab, out_root))
    if readme is not None:
        update_readme(readme, main_scoreboard(results, times))
    return paths
