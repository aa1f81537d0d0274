"""The Keras MNIST CNN of keras7 e1: 93,322 parameters on 1 x 28 x 28."""

from torch import nn


class SimpleCNN(nn.Sequential):
    """conv3x3x32 - pool - conv3x3x64 - pool - conv3x3x64 - dense64 - dense(num_classes)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, hidden: int = 64) -> None:
        super().__init__(
            nn.Conv2d(in_channels, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3),
            nn.ReLU(),
            nn.Flatten(),
            nn.LazyLinear(hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )
