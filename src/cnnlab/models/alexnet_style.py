"""The rdfia lab's AlexNet-style CIFAR-10 net, with the switches its improvement ladder adds."""

from torch import nn


class AlexNetStyle(nn.Sequential):
    """conv5x5x32 - pool - conv5x5x64 - pool - conv5x5x64 - pool - fc1000 - fc(num_classes).

    Convolutions keep the size (padding 2), 2x2 stride-2 pools halve it. `batch_norm` adds
    BatchNorm2d after each convolution (q34), `dropout` a Dropout between fc4 and fc5 (q29),
    `ceil_mode` rounds pool3 up so a 28x28 crop still ends at 4x4 (q22).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (32, 64, 64),
        hidden: int = 1000,
        batch_norm: bool = False,
        dropout: float = 0.0,
        ceil_mode: bool = False,
    ) -> None:
        layers: list[nn.Module] = []
        channels = in_channels
        for i, width in enumerate(widths):
            layers.append(nn.Conv2d(channels, width, 5, padding=2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=ceil_mode and i == len(widths) - 1)]
            channels = width
        layers += [nn.Flatten(), nn.LazyLinear(hidden), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden, num_classes))
        super().__init__(*layers)
