"""LeNet-5 (LeCun et al., 1998) with ReLU and max pooling, as the rdfia lab's base.py uses it."""

from torch import nn


class LeNet5(nn.Sequential):
    """conv5x5x6 - pool - conv5x5x16 - pool - fc120 - fc84 - fc(num_classes)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, padding: int = 2) -> None:
        super().__init__(
            nn.Conv2d(in_channels, 6, 5, padding=padding),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.LazyLinear(120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )
