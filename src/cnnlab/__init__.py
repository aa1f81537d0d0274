"""cnnlab: a Hydra-configured experiment runner for convolutional networks."""

__version__ = "0.1.0"
