"""Building a run, training it (loop, checkpoints, TensorBoard), evaluating it, and reopening it."""
