"""The dd2427 text-deblurring net: a stack of same-size convolutions that outputs an image."""

from torch import nn

INITS = ("torch", "he_normal")


class DeblurNet(nn.Sequential):
    """(conv k x k x width, ReLU) x (depth - 1), then conv k x k x in_channels with no ReLU.

    The last layer has no ReLU because the output is an image whose values must be free to
    go either side of the target (the lab's question 17). `padding` None keeps H x W
    ("same", k // 2); 0 shrinks each side by k // 2 per layer (question 16). `init` "he_normal" draws
    each filter from N(0, 2 / fan_in) with zero biases, as the lab's practical does (its xavier.m);
    "torch" keeps PyTorch's default (uniform, about 2.4x smaller, small random biases).
    """

    def __init__(
        self,
        in_channels: int = 1,
        depth: int = 3,
        width: int = 32,
        kernel_size: int = 3,
        padding: int | None = 1,
        init: str = "torch",
    ) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
        pad = kernel_size // 2 if padding is None else padding
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(depth - 1):
            layers += [nn.Conv2d(channels, width, kernel_size, padding=pad), nn.ReLU()]
            channels = width
        layers.append(nn.Conv2d(channels, in_channels, kernel_size, padding=pad))
        super().__init__(*layers)
        if init == "he_normal":
            for conv in self:
                if isinstance(conv, nn.Conv2d):
                    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                    nn.init.zeros_(conv.bias)
