"""The training loop, its metrics, checkpoints and the files a run leaves behind."""
