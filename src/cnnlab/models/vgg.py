"""VGG-style blocks: each block is a few 3x3 convolutions (ReLU after each) then 2x2 max pooling."""

from collections.abc import Sequence

from torch import nn


class VGGBlocks(nn.Sequential):
    """[conv3x3 x len(block) - pool] per block, flatten, optional hidden dense layers, classifier."""

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        blocks: Sequence[Sequence[int]] = ((32, 32), (64, 64)),
        hidden: Sequence[int] = (),
        batch_norm: bool = False,
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = []
        channels = in_channels
        for block in blocks:
            for width in block:
                layers.append(nn.Conv2d(channels, width, 3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU())
                channels = width
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.Flatten())
        for i, width in enumerate(hidden):
            layers += [nn.LazyLinear(width) if i == 0 else nn.Linear(hidden[i - 1], width), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden[-1], num_classes) if hidden else nn.LazyLinear(num_classes))
        super().__init__(*layers)
