"""`python -m cnnlab.tensorboard_root [outputs]`: refresh the one HParams experiment summary of a log
root (compare/tensorboard_root.py) before `tensorboard --logdir` opens it; `make tensorboard` runs it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cnnlab.compare.tensorboard_root import refresh_root_experiment


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m cnnlab.tensorboard_root",
        description=(
            "Write the TensorBoard HParams experiment summary at the root of a log dir: every key of every "
            "run below it (sweeps and single runs), the keys that vary first, the per-epoch metrics. Run it "
            "before `tensorboard --logdir <dir>` (`make tensorboard` does) so the HParams table has a "
            "column for every key."
        ),
        epilog="Example: python -m cnnlab.tensorboard_root outputs && tensorboard --logdir outputs",
    )
    parser.add_argument(
        "root",
        type=Path,
        nargs="?",
        default=Path("outputs"),
        help="the log dir TensorBoard opens (default: outputs)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        format="cnnlab.tensorboard_root: %(message)s", level=logging.INFO, stream=sys.stderr, force=True
    )
    if not args.root.is_dir():
        parser.exit(2, f"cnnlab.tensorboard_root: {args.root} is not a directory: pass a log dir\n")
    runs = refresh_root_experiment(args.root)
    print(f"{args.root}: HParams experiment over {len(runs)} runs")


if __name__ == "__main__":
    main()
