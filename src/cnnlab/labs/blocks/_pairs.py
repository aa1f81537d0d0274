"""Normalises int-or-pair hyper-parameters so every block accepts what conv2d accepts."""

from __future__ import annotations

Pair = int | tuple[int, int]


def pair(value: Pair) -> tuple[int, int]:
    """(v, v) for an int, the pair itself otherwise, as torch's conv2d reads stride and padding."""
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


def out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a window sliding over a padded axis: floor((n + 2p - k) / s) + 1."""
    return (size + 2 * padding - kernel) // stride + 1
