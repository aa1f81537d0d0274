"""The lab answers: `python -m cnnlab.experiments collect|report|targets|best` (see --help).

collect copies finished full-budget runs and lab task results from LAB_OUT into experiments/;
report rebuilds experiments/<lab>/README.md and the main README's scoreboard from experiments/
alone; targets prints mk/labs.targets from conf/lab/*.yaml; best prints override values of a
sweep's best job (make uses them for a run or sweep at the best values of another sweep).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.labs.book.artefacts import Missing, best_job, read_sweep
from cnnlab.labs.book.collect import collect_lab
from cnnlab.labs.book.labs import all_labs
from cnnlab.labs.book.registry import LABS, SELECT
from cnnlab.labs.book.render import build_all
from cnnlab.labs.book.targets import make_text

OUT_ROOT = Path("experiments")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.experiments",
        description=__doc__,
        epilog=(
            "Examples:\n"
            "  python -m cnnlab.experiments collect outputs/labs --lab keras7   # make collect, one lab\n"
            "  python -m cnnlab.experiments report                              # make report\n"
            "  python -m cnnlab.experiments best outputs/sweeps/demo --key optimizer.lr   # best job's lr\n"
            "  python -m cnnlab.experiments best DIR --key optimizer.lr --key trainer.batch_size \\\n"
            "      --by final --overrides   # key=value pairs of the job with the best last epoch\n"
            "Each command's own options: python -m cnnlab.experiments <command> --help"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    collect = sub.add_parser("collect", help="copy full-budget artefacts from LAB_OUT into experiments/")
    collect.add_argument(
        "lab_out", nargs="?", type=Path, default=Path("outputs/labs"), help="LAB_OUT (default: outputs/labs)"
    )
    collect.add_argument(
        "--lab", choices=LABS, action="append", help="only this lab (repeatable; default: all)"
    )
    collect.add_argument("--out", type=Path, default=OUT_ROOT, help="where to copy (default: experiments)")
    report = sub.add_parser("report", help="rebuild experiments/*/README.md and README.md's scoreboard")
    report.add_argument(
        "--out", type=Path, default=OUT_ROOT, help="the collected results (default: experiments)"
    )
    report.add_argument(
        "--readme",
        type=Path,
        default=Path("README.md"),
        help="whose scoreboard to rewrite (default: README.md)",
    )
    sub.add_parser("targets", help="print mk/labs.targets, generated from conf/lab/*.yaml")
    best = sub.add_parser("best", help="print override values of a sweep's best finished job")
    best.add_argument("sweep_dir", type=Path, help="a finished sweep's dir (its jobs' summary.json)")
    best.add_argument("--name", default=None, help="only jobs whose run name is this")
    best.add_argument(
        "--key",
        required=True,
        action="append",
        help="an override key to print, e.g. optimizer.lr (repeatable)",
    )
    best.add_argument(
        "--by",
        choices=SELECT,
        default="best",
        help="rank jobs by their monitored value at their best epoch (default) or at their last epoch",
    )
    best.add_argument("--overrides", action="store_true", help="print key=value pairs, not bare values")
    args = parser.parse_args(argv)
    try:
        if args.command == "collect":
            for lab in all_labs():
                if args.lab is None or lab.name in args.lab:
                    for folder, count in collect_lab(lab, args.lab_out, args.out).items():
                        print(f"{args.out / lab.name / folder}: {count} files")
        elif args.command == "report":
            for path in build_all(args.out, args.readme if args.readme.is_file() else None):
                print(path)
        elif args.command == "targets":
            sys.stdout.write(make_text())
        else:
            job = best_job(read_sweep(args.sweep_dir, budget=None), args.name, args.by)
            absent = [k for k in args.key if k not in job.overrides]
            if absent:
                raise ConfigError(
                    f"the best job {job.path} was not started with {', '.join(absent)}; its overrides are "
                    f"{' '.join(f'{k}={v}' for k, v in job.overrides.items())}: pick --key among those."
                )
            print(
                " ".join(f"{k}={job.overrides[k]}" if args.overrides else job.overrides[k] for k in args.key)
            )
    except Missing as missing:
        print(f"error: no finished job ({missing}) under {args.sweep_dir}", file=sys.stderr)
        sys.exit(2)
    except (CnnlabError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
