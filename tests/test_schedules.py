"""The warm-up + cosine schedule follows its closed form, survives a checkpoint, and a warm-up as long
as the run is refused with the key to change."""

import io
import math

import pytest
import torch
from hydra.utils import instantiate

from cnnlab.engine.validate import check_optimizer_and_schedule
from cnnlab.errors import ConfigError


def lrs(scheduler, optimizer, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_warmup_cosine_is_linear_then_cosine_by_hand(make_cfg):
    cfg = make_cfg("scheduler=cosine_warmup", "optimizer=sgd", "optimizer.lr=0.1", "trainer.epochs=3")
    optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    scheduler = instantiate(cfg.scheduler.build)(optimizer, steps_per_epoch=10)
    warmup, total, lr, start = 10, 30, 0.1, cfg.scheduler.build.start_factor
    expected = [lr * (start + (1 - start) * s / warmup) for s in range(warmup)]
    expected += [
        lr * (1 + math.cos(math.pi * (s - warmup) / (total - warmup))) / 2 for s in range(warmup, total)
    ]
    assert lrs(scheduler, optimizer, total) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_warmup_cosine_resumes_from_a_weights_only_checkpoint(make_cfg):
    cfg = make_cfg("scheduler=cosine_warmup", "optimizer=sgd", "trainer.epochs=4")

    def fresh():
        optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
        return optimizer, instantiate(cfg.scheduler.build)(optimizer, steps_per_epoch=5)

    optimizer, scheduler = fresh()
    straight = lrs(scheduler, optimizer, 20)
    optimizer, scheduler = fresh()
    first = lrs(scheduler, optimizer, 7)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    optimizer, scheduler = fresh()
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    assert first + lrs(scheduler, optimizer, 13) == pytest.approx(straight, rel=1e-12)


def test_a_warmup_as_long_as_the_run_names_the_key(make_cfg):
    cfg = make_cfg("scheduler=cosine_warmup", "scheduler.build.warmup_epochs=2", "trainer.epochs=2")
    with pytest.raises(ConfigError, match=r"scheduler.build.warmup_epochs"):
        check_optimizer_and_schedule(cfg, steps_per_epoch=10)
