"""Generated text-deblurring pairs: the stand-in for the dd2427 lab's unpublished 3,452 patches.

Each 64x64 grey patch is random text rendered with Pillow's scalable default font or one of the
TrueType fonts matplotlib ships (never the machine's own fonts, so a seed gives the same images on
every machine with the same Pillow and matplotlib), then blurred by its own Gaussian or motion
kernel, with optional Gaussian noise. Intensities follow the lab: white paper is 0 and ink is 1,
so zero padding reads as paper. Every image is seeded from (seed, split, index), which makes a set
the same bytes whether it is generated in one process or in many.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch.utils.data import Dataset
from tqdm import tqdm

from cnnlab.data.imageset import ImageSet, to_unit
from cnnlab.errors import ConfigError

# Bump when the rendering or blurring changes, so cached sets built by older code are not reused.
GENERATOR_VERSION = 1
PATCH = 64
SPLITS = {"train": 0, "test": 1}
# The Latin text fonts matplotlib ships in its fonts/ttf folder (its symbol and math fonts left out).
BUNDLED_FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf",
    "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf",
    "STIXGeneralBolIta.ttf",
    "cmr10.ttf",
    "cmb10.ttf",
    "cmss10.ttf",
    "cmti10.ttf",
    "cmtt10.ttf",
)
# English letter frequencies (per cent), so pseudo-words have a text-like mix of shapes.
LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
LETTER_FREQ = np.array(
    [12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4, 2.4, 2.2]
    + [2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.2, 0.2, 0.1, 0.1]
)
LETTER_P = LETTER_FREQ / LETTER_FREQ.sum()
# Below this standard deviation a sharp patch is nearly blank; the lab drops such tiles too.
MIN_STD = 0.1
# Images per job of the process pool.
CHUNK = 64


def bundled_fonts() -> list[str]:
    """Paths of BUNDLED_FONTS in this matplotlib's installation."""
    import matplotlib

    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    return [os.path.join(folder, name) for name in BUNDLED_FONTS]


@lru_cache(maxsize=512)
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont:
    """Fonts are loaded once per worker process; None is Pillow's own scalable default."""
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size)


def _word(rng: np.random.Generator) -> str:
    """A pseudo-word: lower-case letters, sometimes capitalised, a number, or with punctuation."""
    if rng.random() < 0.06:
        return str(rng.integers(0, 10 ** rng.integers(1, 5)))
    word = "".join(rng.choice(list(LETTERS), size=rng.integers(1, 10), p=LETTER_P))
    if rng.random() < 0.15:
        word = word.capitalize()
    if rng.random() < 0.12:
        word += rng.choice(list(".,;:?!"))
    return word


def render_text(
    rng: np.random.Generator, size: int, fonts: Sequence[str | None], font_size: tuple[int, int]
) -> np.ndarray:
    """A size x size uint8 patch of text lines cut from a larger page: 0 is paper, 255 is ink."""
    path = fonts[rng.integers(len(fonts))]
    font = _font(path, int(rng.integers(font_size[0], font_size[1] + 1)))
    ascent, descent = font.getmetrics()
    line_height = max(1, round((ascent + descent) * rng.uniform(0.95, 1.5)))
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    y = -rng.uniform(0, line_height)
    while y < size:
        x = -rng.uniform(0, 4 * font.size) if rng.random() < 0.85 else rng.uniform(0, size / 2)
        line = []
        while x + font.getlength(" ".join(line)) < size:
            line.append(_word(rng))
        draw.text((x, y), " ".join(line), fill=255, font=font)
        y += line_height
    return np.asarray(image)


@dataclass(frozen=True)
class RenderSpec:
    """Everything that shapes a split's sharp images, blur parameters and noise, for the workers."""

    seed: int
    canvas: int
    fonts: tuple[str | None, ...]
    font_size: tuple[int, int]
    kinds: tuple[int, ...]
    sigma: tuple[float, float]
    motion_length: tuple[float, float]
    noise_std: tuple[float, float]


def _render_chunk(
    spec: RenderSpec, split_id: int, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Renders images [start, stop) of one split: sharp canvases, blur parameters and noise.

    Parameters per image: kind (0 Gaussian, 1 motion), sigma, motion length, angle; the noise
    is already scaled by the image's noise std.
    """
    canvas = spec.canvas
    images = np.empty((stop - start, canvas, canvas), dtype=np.uint8)
    params = np.empty((stop - start, 4), dtype=np.float64)
    noises = np.empty((stop - start, PATCH, PATCH), dtype=np.float32)
    crop = slice((canvas - PATCH) // 2, (canvas - PATCH) // 2 + PATCH)
    for row, index in enumerate(range(start, stop)):
        rng = np.random.default_rng([spec.seed, split_id, index, GENERATOR_VERSION])
        image = render_text(rng, canvas, spec.fonts, spec.font_size)
        while image[crop, crop].std() < MIN_STD * 255:
            image = render_text(rng, canvas, spec.fonts, spec.font_size)
        images[row] = image
        params[row] = (
            spec.kinds[rng.integers(len(spec.kinds))],
            rng.uniform(*spec.sigma),
            rng.uniform(*spec.motion_length),
            rng.uniform(0, math.pi),
        )
        noises[row] = rng.standard_normal((PATCH, PATCH), dtype=np.float32) * rng.uniform(*spec.noise_std)
    return images, params, noises


def blur_kernels(params: torch.Tensor, radius: int) -> torch.Tensor:
    """One normalised (2r+1)^2 kernel per row of params: a Gaussian, or a line of given length."""
    n = params.shape[0]
    coords = torch.arange(-radius, radius + 1, dtype=torch.float64)
    v, u = torch.meshgrid(coords, coords, indexing="ij")
    u, v = u.expand(n, -1, -1), v.expand(n, -1, -1)
    kind, sigma, length, angle = (params[:, i, None, None] for i in range(4))
    gaussian = torch.exp(-(u.square() + v.square()) / (2 * sigma.square()))
    # Motion: distance of each tap to a segment through the centre, as a 1-pixel-wide line.
    dx, dy = torch.cos(angle), torch.sin(angle)
    t = (u * dx + v * dy).clamp(-length / 2, length / 2)
    distance = torch.hypot(u - t * dx, v - t * dy)
    motion = (1 - distance).clamp_min(0)
    kernels = torch.where(kind == 0, gaussian, motion)
    return (kernels / kernels.sum((1, 2), keepdim=True)).float()


def blur(sharp: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Each image of N x H x W convolved (valid) with its own kernel, in one grouped conv2d."""
    weight = kernels.unsqueeze(1).flip(-1, -2)
    return F.conv2d(sharp.unsqueeze(0), weight, groups=sharp.shape[0]).squeeze(0)


def _as_range(value: float | Sequence[float]) -> tuple[float, float]:
    """A YAML scalar means a fixed value, a two-element list a uniform range."""
    if isinstance(value, int | float):
        return float(value), float(value)
    low, high = value
    return float(low), float(high)


class TextBlurSource:
    """Pairs (blurred input, sharp target) of 64x64 text patches, both uint8 N x 1 x 64 x 64.

    `sigma` and `motion_length` (pixels) set the blur strength, `noise_std` the Gaussian noise
    added after blurring (on the 0..1 scale); each is a fixed value or a [low, high] range
    drawn per image. `fonts` is "bundled" (Pillow's default plus the fonts matplotlib ships),
    "default" (Pillow's only) or a list of font files.
    """

    def __init__(
        self,
        n_train: int = 2589,
        n_val: int = 863,
        seed: int = 0,
        blur_kinds: Sequence[str] = ("gaussian", "motion"),
        sigma: float | Sequence[float] = (0.8, 1.6),
        motion_length: float | Sequence[float] = (2.0, 5.0),
        noise_std: float | Sequence[float] = (0.0, 0.02),
        font_size: Sequence[int] = (10, 20),
        fonts: str | Sequence[str] = "bundled",
        workers: int | None = None,
    ) -> None:
        kinds = {"gaussian": 0, "motion": 1}
        unknown = set(blur_kinds) - set(kinds)
        if unknown or not blur_kinds:
            raise ConfigError(
                f"dataset.source.blur_kinds={list(blur_kinds)} is not allowed: it must be a non-empty "
                f"list drawn from {sorted(kinds)}."
            )
        self.sizes = {"train": n_train, "test": n_val}
        self.seed = seed
        self.kinds = tuple(sorted(kinds[k] for k in set(blur_kinds)))
        self.sigma = _as_range(sigma)
        self.motion_length = _as_range(motion_length)
        self.noise_std = _as_range(noise_std)
        self.font_size = (int(font_size[0]), int(font_size[1]))
        if fonts == "bundled":
            self.fonts: list[str | None] = [None, *bundled_fonts()]
        elif fonts == "default":
            self.fonts = [None]
        elif isinstance(fonts, str):
            raise ConfigError(
                f"dataset.source.fonts={fonts!r} is not allowed: use bundled, default or a list of "
                "font files."
            )
        else:
            self.fonts = list(fonts)
        missing = [f for f in self.fonts if f is not None and not os.path.isfile(f)]
        if missing:
            raise ConfigError(
                f"dataset.source.fonts names font files that do not exist: {missing}. Give existing "
                "files, or fonts: default (Pillow's own font)."
            )
        self.workers = workers
        self.radius = math.ceil(max(3 * self.sigma[1], self.motion_length[1] / 2 + 1))
        font_names = [os.path.basename(f) if f else "pil-default" for f in self.fonts]
        spec = repr(
            (
                GENERATOR_VERSION,
                self.kinds,
                self.sigma,
                self.motion_length,
                self.noise_std,
                self.font_size,
                font_names,
            )
        )
        digest = hashlib.sha1(spec.encode()).hexdigest()[:10]
        self.cache_key = f"textblur-v{GENERATOR_VERSION}-{n_train}+{n_val}-s{seed}-{digest}"

    def load(self, split: str) -> ImageSet:
        """Generates one split: "train", or "test" (the lab's validation set)."""
        if split not in SPLITS:
            raise ConfigError(
                f"textblur has the splits {sorted(SPLITS)} (test is the lab's validation set), not {split!r}."
            )
        n = self.sizes[split]
        spec = RenderSpec(
            self.seed,
            PATCH + 2 * self.radius,
            tuple(self.fonts),
            self.font_size,
            self.kinds,
            self.sigma,
            self.motion_length,
            self.noise_std,
        )
        starts = range(0, n, CHUNK)
        stops = [min(start + CHUNK, n) for start in starts]
        workers = min(self.workers or os.cpu_count() or 1, len(starts))
        results = []
        with (
            ProcessPoolExecutor(workers) if workers > 1 else nullcontext() as pool,
            tqdm(total=n, desc=f"textblur {split}", unit="img", disable=n < 1000) as bar,
        ):
            chunks = (pool.map if pool else map)(
                _render_chunk, repeat(spec), repeat(SPLITS[split]), starts, stops
            )
            for result in chunks:
                results.append(result)
                bar.update(len(result[0]))
        if not results:
            empty = torch.empty(0, 1, PATCH, PATCH, dtype=torch.uint8)
            return ImageSet(empty, empty.clone())
        canvases = torch.from_numpy(np.concatenate([r[0] for r in results]))
        params = torch.from_numpy(np.concatenate([r[1] for r in results]))
        noise = torch.from_numpy(np.concatenate([r[2] for r in results]))
        target, blurred = [], []
        for sharp, p, z in zip(canvases.split(256), params.split(256), noise.split(256), strict=True):
            sharp = sharp.float().div_(255)
            blurred.append(blur(sharp, blur_kernels(p, self.radius)) + z)
            target.append(sharp[:, self.radius : -self.radius, self.radius : -self.radius])
        return ImageSet(_to_uint8(torch.cat(blurred)), _to_uint8(torch.cat(target)))

    def torch_dataset(self, split: str, transform: Callable | None) -> Dataset:
        """The classic-path Dataset over the generated split."""
        data = self.load(split)
        return PairDataset(data.x, data.y, transform)


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    """N x H x W floats in [0, 1] to N x 1 x H x W uint8."""
    return images.clamp(0, 1).mul(255).round().to(torch.uint8).unsqueeze(1)


class PairDataset(Dataset):
    """Yields (input, target) as float 1 x H x W in [0, 1]; `transform` applies to the input."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: Callable | None) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = to_unit(self.x[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, to_unit(self.y[index])
