"""The override helpers every comparison of runs rests on (sweep reruns, the resume check, report
columns): keys and values as Hydra reads them, plumbing left out, and quoting that Hydra's own parser
reads back verbatim."""

from __future__ import annotations

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from cnnlab.config.overrides import (
    changed_settings,
    flatten,
    is_plumbing,
    parse_overrides,
    quoted_value,
    split_override,
)


@pytest.mark.parametrize(
    ("override", "pair"),
    [
        ("optimizer.lr=0.01", ("optimizer.lr", "0.01")),
        ("+model.width=8", ("model.width", "8")),
        ("++trainer.seed=3", ("trainer.seed", "3")),
        ("~trainer.seed", ("trainer.seed", "")),
        ("name=a=b", ("name", "a=b")),  # the first `=` splits
    ],
)
def test_an_override_splits_into_its_key_and_value(override, pair):
    assert split_override(override) == pair


def test_parsed_overrides_keep_the_settings_and_drop_the_plumbing():
    overrides = [
        "optimizer.lr=0.01",
        "+model.width=8",
        "trainer.device=cpu",
        "paths.data_root=/data",
        "hydra.run.dir=outputs/x",
        "logger.mlflow.experiment=e",
        "trainer.resume=true",
    ]
    assert parse_overrides(overrides) == {"optimizer.lr": "0.01", "model.width": "8"}


@pytest.mark.parametrize(
    ("key", "plumbing"),
    [
        ("trainer.device", True),
        ("paths.anything", True),
        ("hydra/launcher", True),
        ("logger.anything", True),
        ("trainer.epochs", False),
        ("optimizer.lr", False),
        ("pathsx", False),
    ],
)
def test_plumbing_is_where_and_how_a_run_runs_not_what_it_trains(key, plumbing):
    assert is_plumbing(key) is plumbing


def test_a_nested_config_flattens_to_dotted_keys_and_its_leaves():
    config = {"model": {"name": "lenet", "blocks": {"depth": 2}, "sizes": [1, 2]}, "empty": {}, "seed": 0}
    assert flatten(config) == {
        "model.name": "lenet",
        "model.blocks.depth": 2,
        "model.sizes": [1, 2],
        "empty": {},
        "seed": 0,
    }


def test_changed_settings_are_the_shared_keys_whose_values_differ_plumbing_and_ignored_keys_aside():
    old = {"optimizer": {"lr": 0.1, "momentum": 0.9}, "trainer": {"device": "cpu", "epochs": 5}, "gone": 1}
    new = {"optimizer": {"lr": 0.2, "momentum": 0.9}, "trainer": {"device": "cuda", "epochs": 9}, "added": 2}
    assert changed_settings(old, new) == {"optimizer.lr": (0.1, 0.2), "trainer.epochs": (5, 9)}
    assert changed_settings(old, new, ignore=frozenset({"trainer.epochs"})) == {"optimizer.lr": (0.1, 0.2)}
    assert changed_settings(old, old) == {}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("outputs/runs/lenet-1.5", "outputs/runs/lenet-1.5"),
        ("/tmp/a_b/c:d@e%f+g-h", "/tmp/a_b/c:d@e%f+g-h"),
        ("/home/ada/~runs", '"/home/ada/~runs"'),  # Hydra cannot read a bare ~
        ("outputs/sweep/optimizer.lr=0.1,trainer.seed=0", '"outputs/sweep/optimizer.lr=0.1,trainer.seed=0"'),
        ("a dir with spaces", '"a dir with spaces"'),
        ('say "hi"', "'say \"hi\"'"),
    ],
)
def test_a_quoted_value_is_read_back_verbatim_by_hydras_parser(value, written):
    assert quoted_value(value) == written
    assert OverridesParser.create().parse_override(f"hydra.run.dir={written}").value() == value


def test_a_number_stays_bare_so_that_a_sweep_value_reads_as_a_number():
    assert OverridesParser.create().parse_override(f"optimizer.lr={quoted_value('0.1')}").value() == 0.1
