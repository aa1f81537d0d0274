"""rdfia q23: is a horizontal flip a label-keeping augmentation for a data set? A net trained without
flips is scored on the test split and on its mirror image: where mirrored images still look like the
training images, the accuracy barely moves."""

from __future__ import annotations

import torch

from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.labs.exercises.trained import trained_classifier


def flip_test(ctx: ExerciseContext, run: str | None) -> dict:
    """Test accuracy of a trained classifier on the test images and on the same images mirrored."""
    example = "a classifier trained without flips, e.g. rdfia/q19 (CIFAR-10) or rdfia/q13 (MNIST)"
    trained, batches = trained_classifier(ctx, run, "flip_test", example)
    model = trained.model.eval()
    labels, plain, mirrored = [], [], []
    with torch.no_grad():
        for x, y in batches:
            labels.append(y)
            plain.append(model(x).argmax(1))
            mirrored.append(model(x.flip(-1)).argmax(1))
    y, plain_pred, mirrored_pred = torch.cat(labels), torch.cat(plain), torch.cat(mirrored)
    augmentation = trained.cfg.get("augmentation") or {}
    return {
        "run": run,
        "dataset": str(trained.cfg.dataset.name),
        "trained_with_flip": float(augmentation.get("hflip") or 0) > 0,
        "test_images": len(y),
        "test_acc": float((plain_pred == y).float().mean()),
        "test_acc_mirrored": float((mirrored_pred == y).float().mean()),
        "predictions_changed_by_mirroring": float((plain_pred != mirrored_pred).float().mean()),
    }
