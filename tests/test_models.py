"""Every model builds from its config, on every data set's input shape, with the lab's counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnnlab.models import build_model, count_parameters
from tests.conftest import composed, options

# Every model in conf/model/ that maps images to class scores (its config takes num_classes).
MODELS = [model for model in options("model") if "num_classes" in composed(f"model={model}").model]


def test_simple_cnn_has_the_keras_lab_parameter_count(make_cfg):
    cfg = make_cfg("model=simple_cnn", "dataset=mnist")
    assert count_parameters(build_model(cfg.model, (1, 28, 28))) == 93_322


def test_global_pool_has_the_vu_lab_parameter_count_at_any_resolution(make_cfg):
    cfg = make_cfg("model=global_pool", "dataset=mnist")
    for size in (28, 48, 64):
        model = build_model(cfg.model, (1, size, size))
        assert count_parameters(model) == 29_029
        assert model(torch.zeros(3, 1, size, size)).shape == (3, 10)


def test_global_average_pool_equals_the_mean_of_the_last_feature_map(make_cfg):
    cfg = make_cfg("model=global_pool", "model.pool=avg", "dataset=mnist")
    model = build_model(cfg.model, (1, 32, 32)).eval()
    x = torch.randn(2, 1, 32, 32)
    features = torch.nn.Sequential(*list(model)[:-3])(x)
    expected = F.linear(features.mean((2, 3)), model[-1].weight, model[-1].bias)
    torch.testing.assert_close(model(x), expected)


def test_lenet5_has_its_textbook_parameter_count_on_32x32(make_cfg):
    cfg = make_cfg("model=lenet", "model.padding=0", "dataset=mnist")
    # conv1 156 + conv2 2,416 + fc 48,120 + 10,164 + 850 (LeCun et al. 1998 with full C3).
    assert count_parameters(build_model(cfg.model, (1, 32, 32))) == 61_706


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dataset, shape", [("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32))])
def test_every_model_maps_a_batch_to_class_scores(make_cfg, model, dataset, shape):
    cfg = make_cfg(f"model={model}", f"dataset={dataset}")
    net = build_model(cfg.model, shape)
    assert net(torch.zeros(2, *shape)).shape == (2, 10)


def test_alexnet_style_ceil_mode_keeps_4x4_after_a_28_crop(make_cfg):
    floor = build_model(make_cfg("model=alexnet_style", "dataset=cifar10").model, (3, 28, 28))
    ceil = build_model(
        make_cfg("model=alexnet_style", "dataset=cifar10", "model.ceil_mode=true").model, (3, 28, 28)
    )
    # 28 -> 14 -> 7 -> 3 (floor) or 4 (ceil) before fc4 (1000 units).
    fc4 = [m for m in floor if isinstance(m, torch.nn.Linear)][0]
    fc4_ceil = [m for m in ceil if isinstance(m, torch.nn.Linear)][0]
    assert fc4.in_features == 64 * 3 * 3
    assert fc4_ceil.in_features == 64 * 4 * 4
