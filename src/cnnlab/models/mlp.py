"""A multilayer perceptron with batch norm: the baseline the CNNs of mainf6 must beat."""

from collections.abc import Sequence

from torch import nn


class MLP(nn.Sequential):
    """Flatten, then (linear - batch norm - ReLU - dropout) per hidden width, then a classifier."""

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        hidden: Sequence[int] = (512, 256),
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        for i, width in enumerate(hidden):
            layers.append(nn.LazyLinear(width) if i == 0 else nn.Linear(hidden[i - 1], width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(hidden[-1], num_classes) if hidden else nn.LazyLinear(num_classes))
        super().__init__(*layers)
