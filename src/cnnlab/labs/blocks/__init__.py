"""Layers written by hand for the labs: loop/unfold convolution, gradients, losses, checks."""
