"""Training images/s of cnnlab's tensor path against the classic DataLoader path and the bare compute bound.

    python benchmarks/bench_speed.py                       # full table (make bench), ~15 min on 2 cores
    python benchmarks/bench_speed.py --synthetic --models lenet --batch-sizes 64 --repeats 2 --steps 20

Every variant of one (model, augmentation, batch size) is measured in one process and the
variants are interleaved (A B C A B C ...), so machine noise hits them alike; the table gives
medians and min-max over repeats, and the ratios a/c and a/b:

  a  tensor    cnnlab's tensor path: the real train_epoch over the real TensorLoader
  b  torch-wN  the classic path (torchvision Dataset + v2 transforms + DataLoader, N workers),
               same model, augmentation, batch size and loop
  c  bound     the same model stepping on one pre-made batch that never changes, in its
               fastest memory format (the faster of channels_last and contiguous, measured)

The ablation table toggles one fast path at a time on the tensor path (batch size
--ablation-batch): channels_last, prepare_chunk, the fused optimiser, 1 vs 2 threads, bf16
autocast, and the evaluation batch size. Data: the real sets under --data-root (MNIST/raw, and CIFAR-10 from
--cifar-image-folder or torchvision's cifar-10-batches-py), or --synthetic images of the same
shapes made on the spot, so it runs anywhere offline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from cnnlab.engine.device import resolve_amp, resolve_device
from cnnlab.engine.loop import train_step
from cnnlab.engine.run import build_run

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = str(ROOT / "conf")

# name -> (model, dataset, augmentation)
CASES = {
    "lenet-none": ("lenet", "mnist", "none"),
    "lenet-rotate_affine": ("lenet", "mnist", "rotate_affine"),
    "alexnet_style-flip_crop": ("alexnet_style", "cifar10", "flip_crop"),
}


@dataclass
class Variant:
    """One thing to time: a loop over a loader, or steps on a fixed batch, or an evaluation pass."""

    name: str
    run: Any
    threads: int
    samples: list[float] = field(default_factory=list)
    # Pause after each measurement, untimed: DataLoader workers finish the batches they prefetched
    # for a loop that stopped early, which would otherwise slow the next variant's clock.
    settle_s: float = 0.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default="lenet,alexnet_style", help="comma list of models or case names")
    parser.add_argument("--batch-sizes", default="16,64,256")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per variant")
    parser.add_argument("--seconds", type=float, default=1.0, help="target length of one measurement")
    parser.add_argument("--steps", type=int, default=None, help="steps per measurement (overrides --seconds)")
    parser.add_argument("--workers", default="0,2", help="classic DataLoader num_workers to compare")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for every variant (0: torch's default, all cores)",
    )
    parser.add_argument("--ablations", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--ablation-batch", type=int, default=64)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (compile counted)")
    parser.add_argument(
        "--amp",
        choices=["auto", "true", "false"],
        default="auto",  # the values of trainer.amp
        help="bf16 autocast in every variant (a, b and c); auto: where the device has native bf16",
    )
    parser.add_argument("--data-root", default=os.environ.get("CNNLAB_DATA_ROOT", "data"))
    parser.add_argument("--cifar-image-folder", default=None, help="CIFAR-10 image-folder tree or .tar.gz")
    parser.add_argument("--synthetic", action="store_true", help="generated data of the same shapes")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------- data


def write_synthetic(root: Path, n_train: int, n_test: int) -> str:
    """MNIST IDX files and a CIFAR-10-shaped image folder of random images; returns the folder."""
    from PIL import Image

    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()
        )
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
    folder = root / "cifar10-synthetic"
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            target = folder / split / f"class{i % 10}"
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(target / f"{i:05d}.png")
    return str(folder)


def resolve_data(args: argparse.Namespace, scratch: Path) -> tuple[str, str | None, str]:
    """(data_root, cifar image folder, description): real data when present, else generated."""
    root = Path(args.data_root)
    has_mnist = any((root / "MNIST" / "raw").glob("train-images-idx3-ubyte*"))
    if not args.synthetic and has_mnist:
        folder = args.cifar_image_folder
        return str(root), folder, f"real: {root} (CIFAR-10 from {folder or 'cifar-10-batches-py'})"
    if not args.synthetic:
        print(f"no MNIST under {root}/MNIST/raw: using generated data of the same shapes", file=sys.stderr)
    n_train = 8192
    folder = write_synthetic(scratch / "data", n_train, 1024)
    return str(scratch / "data"), folder, f"synthetic: {n_train} random train images per set"


@dataclass
class Setup:
    """Where the data is and the precision every variant runs at (`--amp`, as trainer.amp takes it)."""

    data_root: str
    cache_dir: str
    cifar_folder: str | None
    amp: str

    def cfg(self, case: str, batch_size: int, *extra: str) -> DictConfig:
        """The run config cnnlab.train would compose for this case."""
        model, dataset, augmentation = CASES[case]
        overrides = [
            f"dataset={dataset}",
            f"model={model}",
            f"augmentation={augmentation}",
            f"trainer.batch_size={batch_size}",
            "trainer.channels_last=true",
            f"trainer.amp={self.amp}",
            f"paths.data_root={self.data_root}",
            f"paths.cache_dir={self.cache_dir}",
            "paths.output_dir=outputs",
        ]
        if dataset == "cifar10" and self.cifar_folder:
            overrides.append(f"dataset.image_folder={self.cifar_folder}")
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(config_name="train", overrides=overrides + list(extra))


# ------------------------------------------------------------------------------------ variants


def loop_variant(cfg: DictConfig, device: torch.device):
    """A callable that trains trainer.limit_batches batches with cnnlab's own loop; returns images seen."""
    run = build_run(cfg, device)
    rounds = iter(range(1, 1_000_000))
    return lambda: run.train_epoch(next(rounds), log_every=10**9)[1]


def bound_variant(cfg: DictConfig, device: torch.device, steps: int):
    """The run's model and optimiser stepping on one pre-made batch that never changes: the compute bound."""
    run = build_run(cfg, device)
    n = cfg.trainer.batch_size
    fmt = torch.channels_last if cfg.trainer.channels_last else torch.contiguous_format
    x = torch.randn(n, *run.data.input_shape, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, cfg.dataset.num_classes, (n,), device=device)

    def step() -> int:
        for _ in range(steps):
            train_step(run.step_model, run.loss_fn, run.optimizer, x, y, device=device, amp=run.amp)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return steps * n

    return step


def eval_variant(cfg: DictConfig, device: torch.device):
    """Evaluation throughput (no grad) of trainer.limit_batches batches of trainer.eval_batch_size."""
    run = build_run(cfg, device)
    split = "val" if run.data.val is not None else "test"
    loader = run.data.loaders()[split]

    def evaluate() -> int:
        run.evaluate((split,))
        return min(loader.num_samples, len(loader) * cfg.trainer.eval_batch_size)

    return evaluate


# ---------------------------------------------------------------------------------- measuring


def calibrate(cfg: DictConfig, device: torch.device, seconds: float) -> int:
    """Steps that make one measurement of the compute bound last about `seconds`."""
    step = bound_variant(cfg, device, 3)
    step()
    tick = time.perf_counter()
    step()
    return max(4, round(seconds * 3 / (time.perf_counter() - tick)))


def measure(variants: list[Variant], repeats: int) -> None:
    """Warm every variant once, then time them interleaved: A B C A B C ..."""
    default_threads = torch.get_num_threads()
    for v in variants:
        torch.set_num_threads(v.threads)
        v.run()
        time.sleep(v.settle_s)
    for _ in range(repeats):
        for v in variants:
            torch.set_num_threads(v.threads)
            tick = time.perf_counter()
            seen = v.run()
            v.samples.append(seen / (time.perf_counter() - tick))
            time.sleep(v.settle_s)
    torch.set_num_threads(default_threads)


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


def paired_ratio(num: dict[str, Any], den: dict[str, Any]) -> float:
    """Median over rounds of num/den measured in the same round, so slow drifts in machine speed cancel."""
    return statistics.median(n / d for n, d in zip(num["samples"], den["samples"], strict=True))


def cost_outside_model_ms(tensor: dict[str, Any], classic: dict[str, Any]) -> float:
    """Milliseconds per image the classic path spends beyond the tensor path's, median by round.

    The tensor path runs at the compute bound, so this is the classic path's data cost that the
    model step does not hide, and a/b = 1 + this / the model's ms per image.
    """
    pairs = zip(tensor["samples"], classic["samples"], strict=True)
    return statistics.median(1000 * (1 / b - 1 / a) for a, b in pairs)


def fmt_rate(s: dict[str, float] | None) -> str:
    if s is None:
        return "-"
    return f"{s['median']:,.0f} ({s['min']:,.0f}-{s['max']:,.0f})"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    device = resolve_device(args.device)
    amp = resolve_amp(args.amp if args.amp == "auto" else args.amp == "true", device)
    wanted = args.models.split(",")
    cases = [c for c in CASES if c in wanted or CASES[c][0] in wanted]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    workers = [int(w) for w in args.workers.split(",") if w != ""]
    started = time.strftime("%Y-%m-%d_%H-%M-%S")
    load_before = load_average()
    results: list[dict[str, Any]] = []
    ablations: list[dict[str, Any]] = []

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as scratch:
        data_root, folder, data_note = resolve_data(args, Path(scratch))
        cache_dir = str(Path(data_root) / "cache") if not args.synthetic else str(Path(scratch) / "cache")
        setup = Setup(data_root, cache_dir, folder, args.amp)
        for case in cases:
            for bs in batch_sizes:
                steps = args.steps or calibrate(setup.cfg(case, bs), device, args.seconds)
                limit = f"trainer.limit_batches={steps}"
                variants = [Variant("tensor", loop_variant(setup.cfg(case, bs, limit), device), threads)]
                for w in workers:
                    classic = setup.cfg(case, bs, limit, "dataset.loader=torch", f"dataset.num_workers={w}")
                    variants.append(
                        Variant(
                            f"torch-w{w}", loop_variant(classic, device), threads, settle_s=1.0 if w else 0.0
                        )
                    )
                for cl in (True, False):
                    bound = bound_variant(
                        setup.cfg(case, bs, f"trainer.channels_last={str(cl).lower()}"), device, steps
                    )
                    variants.append(Variant("bound-cl" if cl else "bound-nchw", bound, threads))
                print(
                    f"{case} batch {bs}: {steps} steps x {len(variants)} variants x {args.repeats}",
                    flush=True,
                )
                measure(variants, args.repeats)
                row = {"case": case, "batch_size": bs, "steps": steps}
                row |= {v.name: summary(v.samples) for v in variants}
                results.append(row)
                print(_row_line(row, workers), flush=True)
                del variants

            if args.ablations:
                ablations.append(_ablate(args, setup, case, device, threads, amp))

    report = render(args, results, ablations, workers, threads, device, amp, data_note, load_before, started)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"speed-{started}"
    stem.with_suffix(".md").write_text(report)
    raw = {"results": results, "ablations": ablations, "argv": sys.argv[1:]}
    stem.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    print(report)
    print(f"saved {stem}.md and {stem}.json")
    return 0


def _ablate(args, setup: Setup, case: str, device: torch.device, threads: int, amp: bool) -> dict[str, Any]:
    """One fast path off at a time, against the tensor path with every fast path on."""
    bs = args.ablation_batch
    steps = args.steps or calibrate(setup.cfg(case, bs), device, args.seconds)
    limit = f"trainer.limit_batches={steps}"

    def loop(*extra: str, n_threads: int = threads) -> Variant:
        return Variant("", loop_variant(setup.cfg(case, bs, limit, *extra), device), n_threads)

    variants = {
        "tensor (all on)": loop(),
        "channels_last=false": loop("trainer.channels_last=false"),
        "prepare_chunk=0": loop("trainer.prepare_chunk=0"),
        "optimizer.fused=false": loop("optimizer.fused=false"),
    }
    other = 2 if threads == 1 else 1
    variants[f"{other} threads"] = loop(n_threads=other)
    variants[f"bf16 autocast {'off' if amp else 'on'}"] = loop(f"trainer.amp={str(not amp).lower()}")
    for eval_batch in sorted({bs, 256, 1024}):
        cfg = setup.cfg(
            case,
            bs,
            f"trainer.eval_batch_size={eval_batch}",
            f"trainer.limit_batches={max(1, 2048 // eval_batch)}",
        )
        variants[f"eval batch {eval_batch}"] = Variant("", eval_variant(cfg, device), threads)
    for name, v in variants.items():
        v.name = name
    print(f"{case} ablations at batch {bs}", flush=True)
    measure(list(variants.values()), args.repeats)
    row = {"case": case, "batch_size": bs, "steps": steps}
    row |= {name: summary(v.samples) for name, v in variants.items()}
    if args.compile:
        row["compile"] = _time_compile(setup.cfg(case, bs, limit), device)
    return row


def _time_compile(cfg: DictConfig, device: torch.device) -> dict[str, float]:
    """Wall time of the first trainer.limit_batches steps with and without torch.compile, compile
    counted, at the benchmark's precision."""
    timings = {}
    for compiled in (False, True):
        cfg.trainer.compile = compiled
        tick = time.perf_counter()
        loop_variant(cfg, device)()
        timings["compile_s" if compiled else "eager_s"] = time.perf_counter() - tick
    return timings


def _best_classic(row: dict[str, Any], workers: list[int]) -> dict[str, float] | None:
    classic = [row[f"torch-w{w}"] for w in workers]
    return max(classic, key=lambda s: s["median"]) if classic else None


def _bound(row: dict[str, Any]) -> dict[str, float]:
    return max(row["bound-cl"], row["bound-nchw"], key=lambda s: s["median"])


def _ratios(row: dict[str, Any], workers: list[int]) -> tuple[str, str, str]:
    """a/c and a/b as paired ratios, against the faster bound and the best classic variant, and
    the best classic variant's cost per image outside the model."""
    best = _best_classic(row, workers)
    ab = f"{paired_ratio(row['tensor'], best):.2f}" if best else "-"
    outside = f"{cost_outside_model_ms(row['tensor'], best):.2f}" if best else "-"
    return f"{paired_ratio(row['tensor'], _bound(row)):.2f}", ab, outside


def _row_line(row: dict[str, Any], workers: list[int]) -> str:
    ac, ab, outside = _ratios(row, workers)
    return f"  a/c {ac}  a/b {ab}  b outside the model {outside} ms/img"


def render(args, results, ablations, workers, threads, device, amp, data_note, load_before, started) -> str:
    """The markdown report: setup, main table, ablation table."""
    lines = [
        f"# cnnlab speed benchmark, {started}",
        "",
        f"- command: `python benchmarks/bench_speed.py {' '.join(sys.argv[1:])}`",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{threads} threads, device {device}, {'bf16 autocast' if amp else 'fp32'} (--amp {args.amp})",
        f"- data: {data_note}",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {load_average()}",
        f"- {args.repeats} interleaved repeats; images/s as median (min-max); "
        "a = tensor path, b = best classic DataLoader variant, c = bare compute bound (fastest format); "
        "a/c and a/b are medians of the ratios within each round; b - a: ms per image the best "
        "classic variant spends outside the model (1/b - 1/a, by round), so a/b = 1 + (b - a) x a/1000",
        "",
        "| model | augmentation | batch | a: tensor | "
        + " | ".join(f"b: classic w{w}" for w in workers)
        + " | c: bound (cl / nchw) | a/c | a/b | b - a, ms/img |",
        "|---|---|---:|---:|" + "---:|" * len(workers) + "---:|---:|---:|---:|",
    ]
    for row in results:
        model, _, aug = CASES[row["case"]]
        ac, ab, outside = _ratios(row, workers)
        bound = (
            f"{fmt_rate(_bound(row))} ({row['bound-cl']['median']:,.0f} / {row['bound-nchw']['median']:,.0f})"
        )
        classic = " | ".join(fmt_rate(row[f"torch-w{w}"]) for w in workers)
        lines.append(
            f"| {model} | {aug} | {row['batch_size']} | {fmt_rate(row['tensor'])} | {classic} | {bound} | "
            f"{ac} | {ab} | {outside} |"
        )
    if ablations:
        lines += [
            "",
            "## Fast paths, one off at a time (tensor path, images/s; ratio = all-on / this, by round)",
            "",
            "| model | augmentation | batch | variant | images/s | all-on / variant |",
            "|---|---|---:|---|---:|---:|",
        ]
        for row in ablations:
            model, _, aug = CASES[row["case"]]
            base = row["tensor (all on)"]
            for name, s in row.items():
                if not isinstance(s, dict) or "median" not in s:
                    continue
                ratio = "-" if name.startswith("eval") else f"{paired_ratio(base, s):.2f}"
                lines.append(f"| {model} | {aug} | {row['batch_size']} | {name} | {fmt_rate(s)} | {ratio} |")
            if "compile" in row:
                c = row["compile"]
                lines.append(
                    f"| {model} | {aug} | {row['batch_size']} | torch.compile, first {row['steps']} steps "
                    f"incl. compile | {c['compile_s']:.1f} s vs eager {c['eager_s']:.1f} s | "
                    f"{c['eager_s'] / c['compile_s']:.2f} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
