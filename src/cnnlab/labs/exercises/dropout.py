"""rdfia q30-q33: what a trained net's dropout does in train mode and in eval mode, measured."""

from __future__ import annotations

import statistics

import torch
from torch import nn

from cnnlab.errors import ConfigError
from cnnlab.labs.exercises.context import ExerciseContext
from cnnlab.labs.exercises.trained import trained_classifier


def _dropout_layers(model: nn.Module, run: str) -> list[nn.Dropout]:
    layers = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    if not layers:
        raise ConfigError(
            f"the run {run!r} has no Dropout layer, so there is nothing to switch between train and "
            "eval mode; give the run dir of a net trained with dropout, e.g. experiment=rdfia/q29."
        )
    return layers


def _dropout_active(model: nn.Module, layers: list[nn.Dropout], active: bool) -> None:
    """Eval mode everywhere, then train mode on the Dropout layers only (batch norm stays frozen)."""
    model.eval()
    for layer in layers:
        layer.train(active)


@torch.no_grad()
def _test_logits(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    return torch.cat([model(x) for x, _ in batches])


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


@torch.no_grad()
def _two_forwards(model: nn.Module, layers: list[nn.Dropout], x: torch.Tensor) -> dict:
    """Two forwards of one batch and, for the first, what the first Dropout layer did to its input."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    handle = layers[0].register_forward_hook(lambda _m, inputs, output: seen.append((inputs[0], output)))
    try:
        first, second = model(x), model(x)
    finally:
        handle.remove()
    before, after = seen[0]
    nonzero = before != 0
    kept = nonzero & (after != 0)
    p = layers[0].p
    scale_error = (after[kept] - before[kept] / (1 - p)).abs().max() if p < 1 and kept.any() else 0.0
    return {
        "max_abs_logit_difference": float((first - second).abs().max()),
        "identical": bool(torch.equal(first, second)),
        "predictions_changed_fraction": float((first.argmax(1) != second.argmax(1)).float().mean()),
        "fraction_of_active_units_zeroed": float((nonzero & (after == 0)).sum() / nonzero.sum().clamp_min(1)),
        "kept_units_scaled_by_1_over_1_minus_p_max_error": float(scale_error),
    }


def dropout_modes(ctx: ExerciseContext, run: str | None, passes: int, probabilities: list[float]) -> dict:
    """q30-q33 on a trained run: train-mode forwards differ, eval mode is deterministic, and the
    test accuracy in both modes, then with the Dropout p changed at test time (no retraining)."""
    if passes < 2:
        raise ConfigError(f"task.passes={passes!r}: the spread of train-mode accuracy needs at least 2.")
    trained, batches = trained_classifier(ctx, run, "dropout_modes", "a net trained with dropout")
    model, layers = trained.model, _dropout_layers(trained.model, run)
    trained_p = [layer.p for layer in layers]
    labels = torch.cat([y for _, y in batches])
    x = batches[0][0]

    _dropout_active(model, layers, True)
    train_forwards = _two_forwards(model, layers, x)
    _dropout_active(model, layers, False)
    eval_forwards = _two_forwards(model, layers, x)
    eval_acc = _accuracy(_test_logits(model, batches), labels)

    _dropout_active(model, layers, True)
    runs = [_test_logits(model, batches) for _ in range(passes)]
    train_accs = [_accuracy(logits, labels) for logits in runs]
    averaged = torch.stack([logits.softmax(1) for logits in runs]).mean(0)
    by_p = {}
    for p in probabilities:
        for layer in layers:
            layer.p = p
        accs = [_accuracy(_test_logits(model, batches), labels) for _ in range(passes)]
        by_p[str(p)] = {"mean": statistics.mean(accs), "std": statistics.stdev(accs)}
    for layer, p in zip(layers, trained_p, strict=True):
        layer.p = p
    return {
        "run": run,
        "epoch": trained.epoch,
        "dropout_p_trained": trained_p,
        "test_images": len(labels),
        "q33_forward_batch_shape": list(x.shape),
        "q33_train_mode_two_forwards": train_forwards,
        "q33_eval_mode_two_forwards": eval_forwards,
        "q33_eval_mode_test_acc": eval_acc,
        "q33_train_mode_test_acc_mean": statistics.mean(train_accs),
        "q33_train_mode_test_acc_std": statistics.stdev(train_accs),
        "q33_train_mode_test_acc_passes": train_accs,
        "q31_mc_dropout_ensemble_test_acc": _accuracy(averaged, labels),
        "q32_train_mode_test_acc_by_p": by_p,
        "q32_note": f"p of the trained net's Dropout layers changed at test time only (it was trained "
        f"with p={trained_p}); train-mode accuracy, mean and std over {passes} passes each; "
        "not a retraining",
        "note": "train mode here switches only the Dropout layers; every other layer stays in eval mode",
    }
