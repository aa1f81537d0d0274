"""Every rule of src/cnnlab/engine/validate.py (RULES and ARGUMENT_RULES) at its edges: the first value past
the edge is refused naming the key, and the edge value itself is accepted (with a value inside the range
where the edge alone cannot tell `>=` from `==`). The edges are written here
by hand, from what README and conf/ promise, not read from the rules, so an off-by-one in a rule fails."""

from __future__ import annotations

import pytest

from cnnlab.engine.validate import ARGUMENT_RULES, RULES, validate
from cnnlab.errors import ConfigError

# A boolean refuses the strings and numbers YAML or a user may mean as one.
BOOLEAN = (["no", "1", "null", "'true'"], ["true", "false"], [])
# key: (values refused, values accepted, overrides that make the rest of the config fit the values).
EDGES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "dataset.task": (["ranking", "Classification"], ["classification"], []),
    "trainer.epochs": (["0", "-1", "1.5"], ["1"], []),
    "trainer.batch_size": (["0", "2.0"], ["1"], []),
    "trainer.eval_batch_size": (["0"], ["1"], []),
    "trainer.seed": (["-1", "4294967296"], ["0", "4294967295"], []),  # numpy's seeds: 0 to 2**32 - 1
    "trainer.limit_batches": (["0"], ["1", "null"], []),
    "trainer.num_threads": (["0"], ["1", "null"], []),
    "trainer.log_every_n_steps": (["0"], ["1"], []),
    "trainer.prepare_chunk": (["-1"], ["0"], []),
    "trainer.amp": (["bf16", "1", "null"], ["auto", "true", "false"], []),
    "trainer.monitor_mode": (["maximum", "null"], ["min", "max"], []),
    "trainer.early_stopping.mode": (["up"], ["min", "max"], []),
    "trainer.early_stopping.patience": (["0"], ["1"], []),
    "trainer.early_stopping.min_delta": (["-1e-12", "inf", "nan"], ["0", "0.0", "0.001"], []),
    "trainer.deterministic": BOOLEAN,
    "trainer.eval_at_start": BOOLEAN,
    "trainer.evaluate_at_end": BOOLEAN,
    "trainer.resume": BOOLEAN,
    "trainer.resume_allow_changes": BOOLEAN,
    "trainer.channels_last": BOOLEAN,
    "trainer.compile": BOOLEAN,
    "trainer.early_stopping.enabled": BOOLEAN,
    "trainer.early_stopping.restore_best": BOOLEAN,
    "dataset.normalize": BOOLEAN,
    "dataset.val_fraction": (["1.0", "1", "-1e-12"], ["0.0", "0.999999"], ["trainer.monitor=test_acc"]),
    "dataset.num_workers": (["-1"], ["0"], []),
    "dataset.image_size": (["0"], ["1", "null"], []),
    "dataset.num_classes": (["0"], ["1"], []),
    "dataset.channels": (["0"], ["1"], []),
    "dataset.split_seed": (["-1"], ["0"], []),
    "optimizer.lr": (["0", "0.0", "-1e-12", "inf", "nan", "'0.1'"], ["1e-12"], []),
    "scheduler.interval": (["batch", "null"], ["epoch", "step"], []),
    "optimizer.weight_decay": (["-1e-12", "inf"], ["0", "5e-4"], []),
    "optimizer.momentum": (["1.0", "1", "-1e-12"], ["0", "0.999999"], ["optimizer=sgd"]),
    "optimizer.betas": (
        ["[0.9,1.0]", "[1.0,0.9]", "[0.9,1.5]", "[-1e-12,0.9]", "[0.9]", "[0.9,0.99,0.999]"],
        ["[0.0,0.0]", "[0.999999,0.999999]"],
        ["optimizer=adam"],
    ),
    "optimizer.eps": (["0", "-1e-12", "null"], ["1e-30"], ["optimizer=rmsprop"]),
    "scheduler.build.step_size": (["0", "1.0"], ["1"], ["scheduler=step"]),
    "scheduler.build.gamma": (["0", "-0.5"], ["1e-6"], ["scheduler=exponential"]),
    "scheduler.build.max_lr": (["0", "-1e-12"], ["1e-12"], ["scheduler=onecycle"]),
    "scheduler.build.T_max": (["0"], ["1"], ["scheduler=cosine"]),
    "scheduler.build.eta_min": (["-1e-12"], ["0", "1e-6"], ["scheduler=cosine"]),
    "dataset.max_eval": (["0"], ["1", "null"], []),
    "dataset.max_train": (["0"], ["1", "null"], []),
    "dataset.max_test": (["0"], ["1", "null"], []),
    "logger.mlflow.log_checkpoints": (*BOOLEAN[:2], ["logger=mlflow"]),
}


def test_every_rule_has_its_edges_here():
    """A rule added to validate.py without edges in this table fails here until it gets them."""
    ruled = [key for key, _, _ in (*RULES, *ARGUMENT_RULES)]
    assert len(ruled) == len(set(ruled))
    assert set(ruled) == set(EDGES)


REFUSED = [(key, value, context) for key, (refused, _, context) in EDGES.items() for value in refused]
ACCEPTED = [(key, value, context) for key, (_, accepted, context) in EDGES.items() for value in accepted]


@pytest.mark.parametrize(("key", "value", "context"), REFUSED, ids=[f"{k}={v}" for k, v, _ in REFUSED])
def test_the_first_value_past_each_edge_is_refused_naming_the_key(make_cfg, key, value, context):
    with pytest.raises(ConfigError) as error:
        validate(make_cfg(*context, f"++{key}={value}"))
    assert str(error.value).startswith(f"{key}="), str(error.value)
    assert "is not allowed: it must be" in str(error.value)


@pytest.mark.parametrize(("key", "value", "context"), ACCEPTED, ids=[f"{k}={v}" for k, v, _ in ACCEPTED])
def test_the_edge_value_itself_is_accepted(make_cfg, key, value, context):
    validate(make_cfg(*context, f"++{key}={value}"))
