"""Every lab task runs through run_task on tiny inputs and writes its files and right numbers."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from cnnlab.errors import ConfigError
from cnnlab.lab import run_task

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def run(tmp_path: Path, *overrides: str) -> tuple[dict, Path]:
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("lab", overrides=[f"output_dir={tmp_path}", *overrides])
    results = run_task(cfg)
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
    assert any((tmp_path / "tb").iterdir())
    return results, tmp_path


def pngs(path: Path) -> set[str]:
    return {p.name for p in path.glob("*.png")}


def test_filter_bank(tmp_path):
    r, out = run(tmp_path, "task=filter_bank", "task.scale=0.1")
    assert {"filter_bank.png", "filter_bank_sobel.png", "filter_bank_batch.png"} <= pngs(out)
    h, w = r["input_shape_CxHxW"][1:]
    assert r["q1_valid_output_HxW"] == [h - 2, w - 2] and r["t1_padded_output_HxW"] == [h, w]
    assert r["q3_feature_channels_K"] == 3 and r["q4_filter_depth"] == 3
    assert r["t4_batch_output_NxKxHxW"] == [2, 5, h - 2, w - 2]
    # q2 by hand: the Laplacian's centre weight -4 meets a dot alone, a bar with 2 neighbours on it.
    assert r["q2_laplacian_max_abs_response_by_structure"] == {
        "dot": 4.0,
        "bar": 2.0,
        "edge": 1.0,
        "corner": 2.0,
        "flat": 0.0,
    }
    assert r["q2_strongest_structure"] == "dot"


def test_activation_functions_and_pooling(tmp_path):
    r, out = run(tmp_path / "a", "task=activation_functions", "task.scale=0.1")
    assert "activation_functions.png" in pngs(out)
    assert 0 < r["q10_active_fraction_relu_bias"] < r["q10_active_fraction_relu"] < 1
    assert r["activation_stats"]["sigmoid"]["min"] > 0
    assert r["q7_two_linear_convs_vs_one_5x5_conv_max_abs_error"] < 1e-5
    assert r["q7_with_relu_between_vs_one_5x5_conv_max_abs_error"] > 0.1
    assert r["q8_preferred_structure"] == "dot"
    assert r["q9_at_a_bright_dot_relu_laplacian"] == 0 and r["q9_at_a_bright_dot_relu_negated_laplacian"] == 4
    assert r["q9_active_fraction_relu_negated_laplacian"] == r["q10_active_fraction_relu"]
    r, out = run(tmp_path / "p", "task=pooling", "task.scale=0.1", "task.sizes=[2,4]")
    assert pngs(out) == {"pooling_image.png", "pooling_filtered.png"}
    h, w = r["input_HxW"]
    assert r["pooled_HxW"]["4x4"] == [h // 4, w // 4]


def test_gradient_tasks(tmp_path):
    r, _ = run(tmp_path / "d", "task=grad_check_dd2427", "task.size=5", "task.batch=1", "task.filters=2")
    assert r["all_pass"] and r["q10b_derivative_shapes_equal_parameter_shapes"]
    assert r["q11_p1_vs_autograd_derivative_of_projected_output_max_abs_error"] < 1e-10
    assert r["q12_function_evaluations_per_check"] == 2 * 3 * 5 * 5
    steps = r["q12_conv_relu_conv_max_abs_error_by_step"]
    assert set(steps) == {"1e-01", "1e-03", "1e-05", "1e-07"} and steps["1e-05"] < 1e-6
    assert (
        r["q13_full_jacobian_numel"] == (3 * 5 * 5) * (2 * 3 * 3)
        and r["q13_projected_derivative_numel"] == 75
    )
    assert r["q13_p_transpose_jacobian_vs_backward_max_abs_error"] < 1e-10
    assert r["q14_conv_fed_dy_max_abs_error"] < 1e-6 < r["q14_conv_fed_p_max_abs_error"]
    r, _ = run(tmp_path / "l", "task=loss_layers", "task.size=4")
    assert r["checks"]["t13 L2 loss"]["max_abs_error"] < 1e-6
    assert r["checks"]["t14 L1 loss"]["max_abs_error"] < 1e-6
    assert r["t14_components_within_step_of_kink"] > 0
    r, out = run(tmp_path / "k", "task=grad_keras7", "task.crop=10", "task.steps=20")
    assert "grad_keras7.png" in pngs(out)
    assert r["max_abs_error_dX_vs_autograd"] < 1e-9 and r["max_abs_error_dK_vs_autograd"] < 1e-9
    assert all(abs(p["finite_difference"] - p["formula"]) < 1e-5 for p in r["finite_difference_checks"])
    assert r["max_abs_error_formula_vs_finite_difference"] == max(
        abs(p["finite_difference"] - p["formula"]) for p in r["finite_difference_checks"]
    )
    assert r["ascent_loss_last"] > r["ascent_loss_first"]
    r, _ = run(tmp_path / "m", "task=grad_mainf6", "task.n=6")
    assert all(v["max_abs_error_vs_autograd"] < 1e-12 for v in r.values() if isinstance(v, dict))
    r, _ = run(tmp_path / "v", "task=conv_unfold_vu3a", "task.batch=2", "task.size=8", "task.stride=2")
    assert r["q1_6_gradcheck_float64"]
    assert r["q1_4_function_forward_max_abs_error_vs_library"] < 1e-4
    assert set(r["q1_5_backward_max_abs_error_vs_library"]) == {"x", "w", "b"}
    assert max(r["q1_5_backward_max_abs_error_vs_library"].values()) < 1e-3
    assert max(r["max_rel_error_vs_library"].values()) < 1e-5
    assert r["output_shape"] == [2, 8, 4, 4]


def test_arithmetic_tasks(tmp_path):
    r, _ = run(tmp_path / "d", "task=conv_arith_dd2427")
    assert r["q22_receptive_field"] == 7 and r["q22_receptive_field_5x5_first"] == 9
    assert r["q16_pad0_output_shapes"][-1] == [1, 58, 58] and r["shapes_match_real_layers"]
    assert r["q21_mul_adds_per_conv"] == [64 * 64 * 32 * 9, 64 * 64 * 32 * 32 * 9, 64 * 64 * 32 * 9]
    assert r["q18_layers"] == 5 and r["q18_layers_with_weights"] == 3
    assert r["q20_filter_shapes_out_in_h_w"] == [[32, 1, 3, 3], [32, 32, 3, 3], [1, 32, 3, 3]]
    assert (
        r["q20_filter_depth_equals_input_channels"]
        and "16 channels" in r["q20_depth_16_filters_on_32_channels"]
    )
    below = r["q17_output_pixels_below_zero_by_init"]
    assert len(below) == 20 and r["q17_output_pixels_below_zero_at_init_mean"] == pytest.approx(
        sum(below) / 20
    )
    r, _ = run(tmp_path / "m", "task=conv_arith_mainf6")
    assert r["all_match_real_layers"] and r["examples"][0]["receptive_field"] == 7
    r, _ = run(tmp_path / "v", "task=conv_arith_vu3a")
    assert r["q3_10_outputs"]["3x1024x768"]["real_WxH"] == [511, 383]
    assert r["q3_10_outputs"]["3x1920x1080"]["closed_form_WxH"] == [959, 539]
    assert r["q3_11_global_pooling_shapes"]["global_avg"] == [4, 16, 1, 1]
    r, _ = run(tmp_path / "r", "task=conv_arith_rdfia", "task.width_divisor=64")
    assert r["q11_total_weights"] == r["q11_real_total_weights"] == 1191170
    assert r["q4_q6"]["vgg16_total_weights"] == 138357544
    assert r["q4_q6"]["q6_output_shape_fc_as_conv_384"] == [1000, 6, 6]
    assert r["q4_q6"]["q6_real_output_spatial_size"] == [6, 6]
    assert r["q7_receptive_fields"]["conv1_2"] == 5 and r["q10_shapes_match_real_layers"]
    _check_rdfia_q2_q12(r)


def _params(*layers: torch.nn.Module) -> list[int]:
    return [sum(p.numel() for p in layer.parameters()) for layer in layers]


def _check_rdfia_q2_q12(r: dict) -> None:
    """rdfia q2, q3, q8-q12 against torch layers built here, apart from the task's code."""
    from torch import nn

    assert r["q2_conv_weights"] == _params(nn.Conv2d(3, 32, 5, bias=False))[0]
    assert r["q2_dense_weights_same_output"] == 3 * 16 * 16 * 32 * 16 * 16
    assert r["q2_conv_shift_equivariance_max_abs_error"] == 0
    assert r["q2_dense_shift_equivariance_relative_error"] > 0.5
    shift = r["q3_relative_feature_change_under_1px_shift"]
    assert shift["max_pool_8x8"] < shift["max_pool_2x2"] < shift["no_pool"]
    assert r["q3_values_kept_by_a_2x2_pool"] == 0.25
    assert r["q3_fc4_weights_without_pools"] == _params(nn.Linear(64 * 32 * 32, 1000))[0]
    assert (r["q8_conv_same_size"]["stride"], r["q8_conv_same_size"]["padding"]) == (1, 2)
    assert (r["q9_pool_halving"]["stride"], r["q9_pool_halving"]["padding"]) == (2, 0)
    layers = [nn.Conv2d(3, 32, 5, 1, 2), nn.Conv2d(32, 64, 5, 1, 2), nn.Conv2d(64, 64, 5, 1, 2)]
    dense = [nn.Linear(64 * 4 * 4, 1000), nn.Linear(1000, 10)]
    x, shapes = torch.zeros(1, 3, 32, 32), []
    for conv in layers:
        x = conv(x)
        shapes.append(list(x.shape[1:]))
        x = nn.MaxPool2d(2, 2, 0)(x)
        shapes.append(list(x.shape[1:]))
    shapes += [[1000, 1, 1], [10, 1, 1]]
    rows = r["q10_layers"]
    assert [row["output_shape"] for row in rows] == shapes
    assert [row["weights"] for row in rows if row["weights"]] == _params(*layers, *dense)
    assert r["q11_total_weights"] == sum(_params(*layers, *dense))
    assert r["q11_weights_per_example"] == pytest.approx(sum(_params(*layers, *dense)) / 50000)
    assert r["q10_fc4_share_of_weights"] == pytest.approx(_params(dense[0])[0] / r["q11_total_weights"])
    assert r["q12_bow_svm_weights"]["total"] == 1000 * 128 + 10 * 1001


def test_summary_of_model_configs(tmp_path):
    r, out = run(tmp_path / "a", "task=summary", "model=alexnet_style", "dataset=cifar10")
    assert r["params"] == 1191170 and (out / "summary.csv").is_file()
    r, _ = run(tmp_path / "k", "task=summary", "model=simple_cnn", "dataset=mnist")
    assert r["params"] == 93322
    r, _ = run(tmp_path / "d", "task=summary", "model=deblur", "dataset=textblur")
    assert r["last_spatial_receptive_field"] == 7


def test_activation_grid_from_config_and_from_run(tmp_path):
    r, out = run(
        tmp_path / "cfg",
        "task=activation_grid",
        "model=vgg_blocks",
        "model.blocks=[[8],[4,4]]",
        "dataset=digits",
    )
    assert {"activation_input.png", "activations_conv1.png", "activations_conv3.png"} <= pngs(out)
    assert [v["shape"] for v in r["layers"].values()] == [[8, 28, 28], [4, 14, 14], [4, 14, 14]]
    assert list(r["layers"]) == ["conv1", "conv2", "conv3"]  # as the figures are named
    assert re.fullmatch(r"digits test image 0 \(label \d, \d\)", r["image"])

    from cnnlab.models import build_model

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("lab", overrides=["model=lenet", "dataset=digits"])
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    model = build_model(cfg.model, (1, 28, 28))
    torch.save(
        {
            "model": model.state_dict(),
            "input_shape": (1, 28, 28),
            "epoch": 3,
            "config": OmegaConf.to_container(cfg, resolve=True),
        },
        run_dir / "checkpoints" / "last.pt",
    )
    r, out = run(tmp_path / "trained", "task=activation_grid", f"task.run={run_dir}", "task.image=flower.jpg")
    assert r["run"] == str(run_dir) and len(r["layers"]) == 2
    with pytest.raises(ConfigError, match="not a finished training run"):
        run(tmp_path / "bad", "task=activation_grid", f"task.run={tmp_path}")


def test_augment_preview_and_sobel(tmp_path):
    r, out = run(
        tmp_path / "a",
        "task=augment_preview",
        "augmentation=rotate_affine",
        "dataset=digits",
        "task.count=2",
        "task.draws=2",
    )
    assert "augment_preview.png" in pngs(out) and r["input_shape"] == [2, 1, 28, 28]
    assert r["mean_abs_change"] > 0
    r, out = run(tmp_path / "s", "task=sobel_keras7", "task.scale=0.1")
    assert "sobel_keras7.png" in pngs(out) and r["max_abs_difference"] < 1e-5


def test_augment_preview_shows_one_image_of_each_class_of_a_folder_sorted_by_class(tmp_path):
    from tests.conftest import fake_image_folder

    folder = fake_image_folder(tmp_path / "cifar", n_per_class=3, size=8)
    r, _ = run(
        tmp_path / "a",
        "task=augment_preview",
        "dataset=cifar10",
        f"dataset.image_folder={folder}",
        f"paths.data_root={tmp_path / 'data'}",
        "task.count=4",
        "task.draws=1",
    )
    assert r["images"] == ["class0", "class1", "class2", "class3"]
    assert r["input_shape"] == [4, 3, 8, 8]


def test_a_variable_resolution_data_set_asks_for_an_input_size(tmp_path):
    varres = ["task=summary", "dataset=mnist_varres", "model=global_pool"]
    with pytest.raises(ConfigError, match=r"dataset.image_size=<pixels>"):
        run(tmp_path / "a", *varres)
    r, _ = run(tmp_path / "b", *varres, "task.input_size=32")
    assert r["input_shape"] == [1, 32, 32] and r["params"] == 29_029


def test_the_keras_labs_sobel_is_its_r_matrix_and_the_transpose_of_dd2427s_up_to_sign():
    from cnnlab.labs.exercises.kernels import KERAS7_SOBEL_X, SOBEL_X

    # keras7: sobel_x = matrix(c(-1, 0, 1, -2, 0, 2, -1, 0, 1), nrow = 3); R fills by column.
    r_matrix = torch.tensor([-1.0, 0, 1, -2, 0, 2, -1, 0, 1]).reshape(3, 3).T
    assert torch.equal(KERAS7_SOBEL_X, r_matrix)
    assert torch.equal(KERAS7_SOBEL_X, -SOBEL_X.T) and not torch.signbit(KERAS7_SOBEL_X[1]).any()
    # dd2427's d/dx: a ramp rising to the right gives the same response everywhere, of sign -.
    ramp = torch.arange(5.0).expand(5, 5)
    response = torch.nn.functional.conv2d(ramp[None, None], SOBEL_X[None, None])
    assert torch.equal(response, torch.full((1, 1, 3, 3), -8.0))


def test_bad_value_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="task.scale"):
        run(tmp_path, "task=filter_bank", "task.scale=9")


def test_main_prints_user_errors_and_exits_2(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnlab.lab",
            "task=pooling",
            "task.image=nope.jpg",
            f"paths.output_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "task.image='nope.jpg'" in done.stderr and "Traceback" not in done.stderr


def test_main_says_where_the_results_and_figures_are(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cnnlab.lab",
            "task=pooling",
            "task.scale=0.1",
            f"paths.output_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (out_dir,) = (tmp_path / "lab" / "pooling").iterdir()
    assert json.loads(done.stdout) == json.loads((out_dir / "results.json").read_text())
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"results in {out_dir}: results.json, {len(pngs(out_dir))} figures")
    assert all(name in last for name in pngs(out_dir)) and f"--logdir {out_dir / 'tb'}" in last


def test_textblur_stats_counts_both_splits_and_finds_white_paper_at_zero(tmp_path):
    r, out = run(
        tmp_path,
        "task=textblur_stats",
        "task.examples=3",
        "dataset=textblur",
        "dataset.source.n_train=6",
        "dataset.source.n_val=3",
        "dataset.source.workers=1",
        f"paths.cache_dir={tmp_path / 'cache'}",
    )
    assert "textblur_pairs.png" in pngs(out)
    assert (r["n_train"], r["n_val"]) == (6, 3) and r["image_size"] == [1, 64, 64]
    assert r["target_value_range"][0] == 0.0 and r["target_mean"] < 0.5
    assert 0 < r["train_input_psnr_db"] < 60


def test_collapsed_kernel_is_the_impulse_response_of_two_convolutions():
    """dd2427 q7: correlating with a then b equals one correlation with the full convolution of a, b."""
    from cnnlab.labs.exercises.filters import LAPLACIAN, SOBEL_X, collapsed_kernel

    impulse = torch.zeros(1, 1, 9, 9)
    impulse[..., 4, 4] = 1
    twice = torch.nn.functional.conv2d(
        torch.nn.functional.conv2d(impulse, LAPLACIAN.view(1, 1, 3, 3), padding=1),
        SOBEL_X.view(1, 1, 3, 3),
        padding=1,
    )
    # the response of a correlation to an impulse is its kernel flipped
    torch.testing.assert_close(collapsed_kernel(LAPLACIAN, SOBEL_X), twice[0, 0, 2:7, 2:7].flip(-2, -1))


def test_filter_bank_channels_answer_the_edges_their_filters_differentiate(tmp_path):
    """dd2427 t2 by hand: [-1 0 1] over 3 rows gives 3 per unit step across it and 0 along it."""
    r, _ = run(tmp_path, "task=filter_bank", "task.scale=0.1")
    assert r["t2_max_abs_response_by_filter"] == {
        "laplacian": {"vertical edge": 1.0, "horizontal edge": 1.0, "flat": 0.0},
        "vertical edges d/dx": {"vertical edge": 3.0, "horizontal edge": 0.0, "flat": 0.0},
        "horizontal edges d/dy": {"vertical edge": 0.0, "horizontal edge": 3.0, "flat": 0.0},
    }


def test_pooling_keeps_the_mean_or_the_peak_and_damps_shifts(tmp_path):
    """dd2427 t8: average pooling keeps the mean, max pooling the peak; both move less under a shift."""
    import torch.nn.functional as F

    from cnnlab.labs.exercises.filters import LAPLACIAN
    from cnnlab.labs.exercises.images import load_photo

    r, _ = run(tmp_path, "task=pooling", "task.scale=0.2", "task.sizes=[2,4]")
    image, filtered = r["stats"]["image"], r["stats"]["filtered"]
    for stats in (image, filtered):
        assert all(abs(stats[f"avg{s}"]["mean_over_input_mean"] - 1) < 1e-5 for s in (2, 4))
        assert all(stats[f"max{s}"]["peak_over_input_peak"] == 1.0 for s in (2, 4))
        assert stats["max4"]["mean_over_input_mean"] > stats["max2"]["mean_over_input_mean"] > 1
    x = load_photo("china.jpg", 0.2, gray=True)[None]
    edges = F.relu(F.conv2d(x, -LAPLACIAN.view(1, 1, 3, 3), padding=1))
    cut = edges[..., : edges.shape[2] // 4 * 4, : edges.shape[3] // 4 * 4]
    assert filtered["avg4"]["peak_over_input_peak"] == pytest.approx(
        float(F.avg_pool2d(edges, 4).max() / cut.max()), rel=1e-5
    )
    moved = (edges[..., 1:] - edges[..., :-1]).norm() / edges[..., 1:].norm()
    assert filtered["unpooled"]["shift_change"] == pytest.approx(float(moved), rel=1e-5)
    assert filtered["max4"]["shift_change"] < filtered["max2"]["shift_change"] < float(moved)


def test_sobel_finds_steps_not_flat_regions_and_beats_a_bare_difference_on_noise(tmp_path):
    """keras7 e2: a unit step gives 1 + 2 + 1 = 4 across G_x and 0 along it; the [1, 2, 1] average buys
    (4 / sqrt(12)) / (1 / sqrt(2)) = 1.63x the step-to-noise ratio of [-1, 0, 1]."""
    r, _ = run(tmp_path, "task=sobel_keras7", "task.scale=0.1")
    assert r["probe_max_abs_response"] == {
        "flat": {"G_x": 0.0, "G_y": 0.0},
        "step across rows": {"G_x": 4.0, "G_y": 0.0},
        "step across columns": {"G_x": 0.0, "G_y": 4.0},
    }
    assert r["step_over_noise_sobel_over_central_difference"] == pytest.approx(
        (4 / 12**0.5) / (1 / 2**0.5), rel=0.03
    )


def test_gradient_ascent_turns_the_image_into_the_top_eigenvector_of_the_convolution(tmp_path):
    """keras7 e3: L = |K * X|^2 has no maximum; ascent converges in direction to the top eigenvector of
    K^T K, found here independently by power iteration with conv2d and its transpose."""
    import torch.nn.functional as F

    from cnnlab.labs.exercises.kernels import KERAS7_SOBEL_X

    r, _ = run(tmp_path, "task=grad_keras7", "task.crop=10")
    k = KERAS7_SOBEL_X.double()[None, None]
    x = torch.rand(1, 1, 9, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for _ in range(3000):
        x = F.conv_transpose2d(F.conv2d(x, k), k)
        x = x / x.norm()
    top = float(F.conv2d(x, k).square().sum())
    assert r["ascent_top_eigenvalue_of_A"] == pytest.approx(top, rel=1e-6)
    assert r["ascent_eigenvalue_from_growth"] == pytest.approx(top, rel=1e-3)
    assert r["ascent_abs_cosine_to_top_eigenvector"] > 0.99
    assert r["ascent_fourier_bound"] == pytest.approx(64.0) and top < 64.0
    image = torch.tensor(r["ascent_image"], dtype=torch.float64)
    assert float((image.flatten() @ x.flatten()).abs() / image.norm()) > 0.99
    signs = r["ascent_row_mean_signs"]
    assert all(signs[i] == -signs[i + 2] for i in range(7) if signs[i] and signs[i + 2])


def test_minibatch_gradients_approach_the_full_gradient_as_the_batch_grows(tmp_path):
    """dd2427 q6: a batch of every image gives the full gradient exactly; smaller ones lie further off."""
    r, out = run(
        tmp_path,
        "task=minibatch_dd2427",
        "task.batch_sizes=[1,4,16]",
        "task.draws=6",
        "task.timed_images=16",
        "dataset=textblur",
        "model=deblur",
        "model.init=he_normal",
        "dataset.source.n_train=16",
        "dataset.source.n_val=2",
        "dataset.source.workers=1",
        f"paths.cache_dir={tmp_path / 'cache'}",
    )
    assert "minibatch.png" in pngs(out) and r["n_images"] == 16
    error = r["gradient_relative_error"]
    assert error["16"] < 1e-10 < error["4"] < error["1"]
    assert r["gradient_cosine_to_full"]["16"] == pytest.approx(1.0)
    assert r["gradient_error_slope_loglog"] < 0
    assert r["gradient_error_smallest_over_largest_batch"] == pytest.approx(error["1"] / error["16"])
    speed = r["images_per_s"]
    assert all(v > 0 for v in speed.values()) and speed[str(r["images_per_s_fastest_batch"])] == max(
        speed.values()
    )
    assert r["images_per_s_fastest_over_batch_1"] == pytest.approx(max(speed.values()) / speed["1"])
