"""cnnlab: a Hydra-configured experiment runner for convolutional networks."""

from cnnlab.resolvers import register

__version__ = "0.1.0"

register()
