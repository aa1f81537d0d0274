"""rdfia q23: is a horizontal flip a label-keeping augmentation for a data set? A net trained without
flips is scored on the test split and on its mirror image: where mirrored images still look like the
training images, the accuracy barely moves."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from cnnlab.analysis.checkpoint import load_run
from cnnlab.errors import ConfigError
from cnnlab.labtasks.context import TaskContext


def flip_test(ctx: TaskContext, run: str | None) -> dict:
    """Test accuracy of a trained classifier on the test images and on the same images mirrored."""
    from cnnlab.data.datamodule import build_data

    if not run:
        raise ConfigError(
            "task=flip_test needs task.run=<run dir of a trained classifier>, e.g. one of rdfia/q19 "
            "(CIFAR-10) or rdfia/q13 (MNIST), both trained without flips."
        )
    trained = load_run(run)
    if trained.cfg.dataset.task != "classification":
        raise ConfigError(
            f"the run {run!r} is a {trained.cfg.dataset.task} run; flip_test measures accuracy."
        )
    cfg = OmegaConf.merge(trained.cfg, {"paths": ctx.cfg.paths})
    model = trained.model.eval()
    labels, plain, mirrored = [], [], []
    with torch.no_grad():
        for x, y in build_data(cfg, torch.device("cpu")).test:
            labels.append(y)
            plain.append(model(x).argmax(1))
            mirrored.append(model(x.flip(-1)).argmax(1))
    y, plain_pred, mirrored_pred = torch.cat(labels), torch.cat(plain), torch.cat(mirrored)
    augmentation = trained.cfg.get("augmentation") or {}
    return {
        "run": run,
        "dataset": str(cfg.dataset.name),
        "trained_with_flip": float(augmentation.get("hflip") or 0) > 0,
        "test_images": len(y),
        "test_acc": float((plain_pred == y).float().mean()),
        "test_acc_mirrored": float((mirrored_pred == y).float().mean()),
        "predictions_changed_by_mirroring": float((plain_pred != mirrored_pred).float().mean()),
    }
