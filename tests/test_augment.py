"""Each augmentation setting: its accepted range, when it switches its step on, what test images get,
the draws of the tensor path (replayed by hand) and the classic path's torchvision equivalent."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from cnnlab.data.augment import Augmentation, HorizontalFlip, RandomCrop, RandomRotateShift
from cnnlab.errors import ConfigError


@pytest.mark.parametrize(
    ("key", "refused", "edge"),
    [
        ("crop_padding", -1, 0),
        ("crop_size", 0, 1),
        ("hflip", -0.01, 0.0),
        ("hflip", 1.01, 1.0),
        ("degrees", -0.5, 0.0),
        ("degrees", 180.5, 180.0),
        ("translate", -0.01, 0.0),
        ("translate", 1.0, 0.99),
    ],
)
def test_each_setting_refuses_the_first_value_past_its_edge_and_accepts_the_edge(key, refused, edge):
    with pytest.raises(ConfigError, match=rf"augmentation\.{key}={refused!r} is out of range"):
        Augmentation(**{key: refused})
    Augmentation(**{key: edge})


@pytest.mark.parametrize(
    ("settings", "kinds"),
    [
        ({}, []),
        ({"crop_size": None, "crop_padding": 0, "hflip": 0.0, "degrees": 0.0, "translate": 0.0}, []),
        ({"crop_size": 4}, [RandomCrop]),
        ({"crop_padding": 1}, [RandomCrop]),
        ({"hflip": 0.5}, [HorizontalFlip]),
        ({"degrees": 1.0}, [RandomRotateShift]),
        ({"translate": 0.1}, [RandomRotateShift]),
        ({"translate": 0.1, "hflip": 0.5, "crop_size": 2}, [RandomCrop, HorizontalFlip, RandomRotateShift]),
    ],
)
def test_a_step_applies_exactly_when_one_of_its_settings_switches_it_on(settings, kinds):
    assert [type(step) for step in Augmentation(**settings).steps] == kinds


def test_the_pixel_moving_settings_are_the_keys_set_to_something():
    assert Augmentation(hflip=0.5, crop_padding=2).pixel_moving_settings() == ["crop_padding", "hflip"]
    assert Augmentation(degrees=5.0, crop_size=6).pixel_moving_settings() == ["crop_size", "degrees"]
    assert Augmentation().pixel_moving_settings() == []


def test_a_crop_larger_than_the_padded_image_is_refused_and_the_largest_is_accepted():
    assert Augmentation(crop_size=14, crop_padding=3).output_size(8) == 14  # 8 + 2 x 3
    with pytest.raises(ConfigError, match=r"crop_size=15 is larger .* choose a crop_size <= 14\."):
        Augmentation(crop_size=15, crop_padding=3).output_size(8)


@pytest.mark.parametrize(
    ("settings", "size"), [({"crop_size": 6}, 6), ({"crop_padding": 2}, 8), ({"hflip": 0.5}, 8), ({}, 8)]
)
def test_the_model_sees_the_crop_size_or_else_the_image_size(settings, size):
    augmentation = Augmentation(**settings)
    assert augmentation.output_size(8) == size
    out = augmentation.apply(torch.rand(3, 1, 8, 8), torch.Generator().manual_seed(0))
    assert out.shape[-2:] == (size, size)


@pytest.mark.parametrize(
    ("key", "refused"),
    [
        ("crop_padding", -5),
        ("crop_size", -1),
        ("hflip", 2.0),
        ("degrees", -90.0),
        ("degrees", 360.0),
        ("translate", 1.5),
    ],
)
def test_a_value_far_past_an_edge_is_refused_as_well(key, refused):
    """Each range is checked as a range, not as its one first invalid value (a crop of -1 pixels, a shift of
    one and a half images)."""
    with pytest.raises(ConfigError, match=rf"augmentation\.{key}={refused!r} is out of range"):
        Augmentation(**{key: refused})


@pytest.mark.parametrize(
    ("step", "key", "bad"),
    [
        (RandomCrop(crop_padding=2), "crop_padding", -1),
        (HorizontalFlip(0.5), "hflip", 2.0),
        (RandomRotateShift(10.0), "translate", 1.5),
    ],
)
def test_a_steps_settings_cannot_be_changed_past_its_checks_after_it_is_made(step, key, bad):
    """Settings are checked once, when a step is made; a step that could be changed later could hold a value
    its checks never saw."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(step, key, bad)


# Offsets as torchvision's CenterCrop takes them: half the margin, rounded half to even (1.5, 2.5 -> 2).
@pytest.mark.parametrize(("height", "width", "top", "left"), [(9, 9, 2, 2), (11, 11, 2, 2), (10, 12, 2, 3)])
def test_test_images_get_the_centre_crop_counted_by_hand(height, width, top, left):
    x = torch.rand(2, 3, height, width)
    torch.testing.assert_close(Augmentation(crop_size=6).evaluate(x), x[..., top : top + 6, left : left + 6])


@pytest.mark.parametrize(("height", "width"), [(9, 9), (10, 12), (5, 9), (4, 4), (6, 7)])
@pytest.mark.parametrize("crop_size", [5, 7])
def test_test_images_are_centred_as_torchvisions_center_crop_cuts_or_pads_them(height, width, crop_size):
    """A crop_size above the image side (allowed up to the padded side) pads test images with zeros about
    the centre, as the classic path's CenterCrop does; each side is cut or padded on its own."""
    x = torch.rand(2, 3, height, width)
    expected = v2.CenterCrop(crop_size)(x)
    augmentation = Augmentation(crop_size=crop_size, crop_padding=2)
    torch.testing.assert_close(augmentation.evaluate(x), expected)
    torch.testing.assert_close(augmentation.evaluate(x[0]), expected[0])  # one image, C x H x W


def test_test_images_are_untouched_when_training_crops_to_their_own_size_or_flips_or_warps():
    x, image = torch.rand(2, 1, 8, 8), torch.rand(1, 8, 8)
    for settings in ({"crop_padding": 2}, {"crop_size": 8}, {"hflip": 1.0, "degrees": 30.0}):
        assert Augmentation(**settings).evaluate(x) is x
        assert Augmentation(**settings).evaluate(image) is image


def test_each_image_is_flipped_when_its_own_draw_falls_below_hflip():
    x = torch.rand(500, 1, 4, 6)
    out = Augmentation(hflip=0.3).apply(x, torch.Generator().manual_seed(4))
    flipped = torch.rand(500, generator=torch.Generator().manual_seed(4)) < 0.3
    torch.testing.assert_close(out[flipped], x[flipped].flip(-1))
    torch.testing.assert_close(out[~flipped], x[~flipped])
    assert 100 < int(flipped.sum()) < 200  # about 150 of 500
    torch.testing.assert_close(Augmentation(hflip=1.0).apply(x, None), x.flip(-1))


def _centroid(images: torch.Tensor) -> torch.Tensor:
    """Each image's centre of mass (row, column), in pixels."""
    rows = torch.arange(images.shape[-2], dtype=images.dtype)
    cols = torch.arange(images.shape[-1], dtype=images.dtype)
    mass = images.sum((-2, -1))
    return torch.stack([(images.sum(-1) * rows).sum(-1) / mass, (images.sum(-2) * cols).sum(-1) / mass], -1)


def test_a_shift_reaches_up_to_translate_of_the_size_in_each_direction():
    size, translate = 32, 0.25
    dot = torch.zeros(400, 1, size, size)
    dot[..., 14:18, 14:18] = 1.0  # a 4-pixel square around the centre, 15.5
    out = Augmentation(translate=translate).apply(dot, torch.Generator().manual_seed(0))
    shift = _centroid(out[:, 0]) - 15.5
    reach = translate * size  # 8 pixels
    assert shift.abs().max() <= reach + 0.01
    assert shift.min() < -0.9 * reach and shift.max() > 0.9 * reach  # both directions, near the edge
    # moved, not scaled: every image keeps its mass (the square never reaches the border)
    torch.testing.assert_close(out.sum((1, 2, 3)), dot.sum((1, 2, 3)), atol=1e-3, rtol=0)


def test_a_rotation_turns_each_image_by_its_own_angle_within_degrees():
    size = 33
    bar = torch.zeros(300, 1, size, size)
    bar[..., 16, 4:29] = 1.0  # a horizontal bar through the centre
    out = Augmentation(degrees=40.0).apply(bar, torch.Generator().manual_seed(0))[:, 0]
    rows, cols = torch.meshgrid(torch.arange(size) - 16.0, torch.arange(size) - 16.0, indexing="ij")
    # The bar's angle from its second moments: 0.5 * atan2(2 cov(x, y), var(x) - var(y)), in degrees
    # (image rows run downwards, so a counter-clockwise turn on screen is a negative angle here).
    mass = out.sum((-2, -1))
    cov = (out * cols * rows).sum((-2, -1)) / mass
    var_x, var_y = ((out * cols**2).sum((-2, -1)) / mass), ((out * rows**2).sum((-2, -1)) / mass)
    angle = torch.rad2deg(0.5 * torch.atan2(2 * cov, var_x - var_y))
    assert angle.abs().max() <= 40.5
    assert angle.min() < -35 and angle.max() > 35  # the whole range is drawn, both ways
    assert len({round(a, 2) for a in angle.tolist()}) > 280  # one draw per image


def test_a_warp_replays_as_torchs_affine_grid_and_grid_sample_with_the_same_draws():
    x = torch.rand(16, 3, 12, 10)
    out = Augmentation(degrees=25.0, translate=0.2).apply(x, torch.Generator().manual_seed(3))
    u = torch.rand(16, 3, generator=torch.Generator().manual_seed(3)) * 2 - 1
    angle, shift = u[:, 0] * math.radians(25.0), u[:, 1:] * 0.4  # translate of the size: 2 x 0.2 of [-1, 1]
    theta = torch.zeros(16, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 0, 2] = angle.cos(), -angle.sin(), shift[:, 0]
    theta[:, 1, 0], theta[:, 1, 1], theta[:, 1, 2] = angle.sin(), angle.cos(), shift[:, 1]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_the_classic_path_builds_the_same_steps_from_torchvision():
    augmentation = Augmentation(crop_size=6, crop_padding=1, hflip=0.3, degrees=10.0, translate=0.1)
    crop, flip, affine = augmentation.train_transforms(8)
    assert isinstance(crop, v2.RandomCrop) and crop.size == (6, 6) and crop.padding == [1, 1, 1, 1]
    assert isinstance(flip, v2.RandomHorizontalFlip) and flip.p == 0.3
    assert isinstance(affine, v2.RandomAffine) and affine.degrees == [-10.0, 10.0]
    assert affine.translate == (0.1, 0.1) and affine.interpolation == v2.InterpolationMode.BILINEAR
    (centre,) = augmentation.eval_transforms(8)
    assert isinstance(centre, v2.CenterCrop) and centre.size == (6, 6)

    (pad_crop,) = Augmentation(crop_padding=2).train_transforms(8)
    assert pad_crop.size == (8, 8) and pad_crop.padding == [2, 2, 2, 2]
    assert Augmentation(crop_padding=2).eval_transforms(8) == []
    assert Augmentation(crop_size=8).train_transforms(8)[0].padding is None
    assert Augmentation(degrees=5.0).train_transforms(8)[0].translate is None


@pytest.mark.parametrize(
    "settings",
    [
        {"crop_size": 6},
        {"crop_size": 5, "hflip": 0.5},
        {"crop_size": 7},
        {"crop_padding": 2},
        {},
        {"crop_size": 10, "crop_padding": 1},
        {"crop_size": 12, "crop_padding": 2},
    ],
)
def test_the_classic_paths_test_images_are_the_tensor_paths(settings):
    augmentation = Augmentation(**settings)
    x = torch.rand(3, 9, 9)
    classic = x
    for transform in augmentation.eval_transforms(9):
        classic = transform(classic)
    torch.testing.assert_close(classic, augmentation.evaluate(x[None])[0])


def test_a_certain_flip_is_the_same_flip_on_both_paths():
    augmentation = Augmentation(hflip=1.0, crop_size=7)  # the full-size crop: no draw changes it
    x = torch.rand(1, 2, 7, 7)
    classic = v2.Compose(augmentation.train_transforms(7))(x[0])
    torch.testing.assert_close(classic, augmentation.apply(x, torch.Generator().manual_seed(0))[0])
    torch.testing.assert_close(classic, x[0].flip(-1))
