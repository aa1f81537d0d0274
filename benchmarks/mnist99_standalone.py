"""The best known quick recipe for 99% on MNIST, standalone, as the time-to-accuracy reference.

The whole data set as one normalised tensor, a small CNN (conv5x5x24 - pool - conv3x3x32 -
pool - fc256 - fc10), batch 256 in file order, Adam (betas 0.7, 0.9) with a one-cycle schedule
peaking at 1e-2, one epoch, channels_last; then test accuracy. Publicly reported at ~99.04%
(mean of 30 seeds) in under a second on a laptop GPU. Reads MNIST's IDX files (gzipped or
not) from <data-root>/MNIST/raw and prints one JSON line: accuracy and seconds since start.

    python benchmarks/mnist99_standalone.py --data-root data --seed 0
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format), gzipped or not, as a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        blob = f.read()
    ndim = blob[3]
    shape = tuple(int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(blob, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(raw: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    def find(name: str) -> Path:
        return next(p for p in (raw / name, raw / f"{name}.gz") if p.exists())

    x = torch.from_numpy(read_idx(find(f"{prefix}-images-idx3-ubyte")).copy()).unsqueeze(1)
    y = torch.from_numpy(read_idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64))
    x = ((x.float() / 255 - 0.1307) / 0.3081).contiguous(memory_format=torch.channels_last)
    return x, y


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 24, 5)
        self.conv2 = nn.Conv2d(24, 32, 3)
        self.fc1 = nn.Linear(800, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    raw = Path(args.data_root) / "MNIST" / "raw"
    x_train, y_train = load(raw, "train")
    x_test, y_test = load(raw, "t10k")
    model = Net().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.7, 0.9))
    steps = -(-len(x_train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, args.lr, total_steps=steps, cycle_momentum=False
    )
    model.train()
    for xb, yb in zip(x_train.split(args.batch_size), y_train.split(args.batch_size), strict=True):
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    with torch.no_grad():
        batches = zip(x_test.split(2000), y_test.split(2000), strict=True)
        correct = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in batches)
    print(
        json.dumps(
            {"test_acc": correct / len(y_test), "wall_s": time.perf_counter() - START, "seed": args.seed}
        )
    )


if __name__ == "__main__":
    main()
