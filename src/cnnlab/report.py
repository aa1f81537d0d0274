"""Compare runs: `python -m cnnlab.report <run or sweep dir>...` writes summary.csv, summary.md and
a figure, so a sweep reads as one table and one figure instead of N folders.

The command alone: compare/ does the work (collect.py reads the runs, plots.py draws curves.png for up to
MAX_CURVE_RUNS runs or metric_vs_value.png beyond, tables.py writes the files); `write_report` is what
tests and the end-of-sweep Hydra callback call.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cnnlab.compare.plots import MAX_CURVE_RUNS
from cnnlab.compare.tables import figure_names, to_markdown, write_report
from cnnlab.errors import unusable_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.report",
        description=(
            "Compare runs: collect summary.json, metrics.csv and config.yaml of every run under the given "
            "run or sweep dirs into summary.csv and summary.md (one row per run, named as TensorBoard names "
            "it; a column per key some run overrode differently, filled with the value each run used; a "
            "sweep column when the runs come from several sweeps; the best run marked; mean and std over "
            "seeds when trainer.seed varies) and a figure: curves.png (loss and accuracy per epoch, a colour "
            f"per run, train dashed, validation dotted, test solid) for up to {MAX_CURVE_RUNS} runs, else "
            "metric_vs_value.png (best and final monitored metric against the swept value)."
        ),
        epilog=(
            "Examples:\n"
            "  python -m cnnlab.report outputs/sweeps/digits-lenet/2025-01-01_12-00-00\n"
            "  python -m cnnlab.report outputs/runs/a/x outputs/runs/b/y --out outputs/compare\n"
            "A sweep writes its report itself when it ends.\n"
            "The same runs in TensorBoard: tensorboard --logdir <sweep dir>"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="run dirs or sweep dirs (searched recursively)")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the report (default: the first dir)"
    )
    args = parser.parse_args(argv)
    out = args.out or args.dirs[0]
    logging.basicConfig(format="cnnlab.report: %(message)s", stream=sys.stderr, force=True)
    try:
        report = write_report(args.dirs, args.out)
    except FileNotFoundError as error:
        parser.exit(2, f"cnnlab.report: {error}\n")
    except OSError as error:
        problem = unusable_path(error, {"--out" if args.out else "--out (default: the first dir)": out})
        if problem is None:
            raise
        parser.exit(2, f"cnnlab.report: {problem}\n")
    print(to_markdown(report, f"{len(report.runs)} runs").split("## Not completed")[0].rstrip())
    print(f"\nwrote {out}/summary.csv, summary.md, {', '.join(figure_names(report))}")


if __name__ == "__main__":
    main()
