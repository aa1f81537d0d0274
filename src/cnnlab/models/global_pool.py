"""A fully convolutional net with global pooling: any input resolution gives one vector (vu3a)."""

from collections.abc import Sequence

from torch import nn

from cnnlab.errors import ConfigError


class GlobalPoolNet(nn.Sequential):
    """(conv3x3 - ReLU - 2x2 max pool) per width, global max or average pool, linear classifier.

    Defaults give 29,029 parameters on 1-channel input.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: Sequence[int] = (16, 32, 81),
        pool: str = "max",
    ) -> None:
        pools = {"max": nn.AdaptiveMaxPool2d, "avg": nn.AdaptiveAvgPool2d}
        if pool not in pools:
            raise ConfigError(f"model.pool={pool!r} is not a global pooling; use 'max' or 'avg'.")
        layers: list[nn.Module] = []
        channels = in_channels
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        layers += [pools[pool](1), nn.Flatten(), nn.Linear(channels, num_classes)]
        super().__init__(*layers)
