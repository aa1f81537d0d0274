"""checkpoints/last.pt: everything needed to continue a run exactly where it stopped.

It holds tensors and plain containers only (RNG states as tensors and lists, the config as
dicts), so it loads with `weights_only=True`: a checkpoint someone hands you cannot run code.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cnnlab.config.overrides import changed_settings
from cnnlab.errors import CheckpointError, ConfigError, quoted
from cnnlab.rundir.atomic import atomic_save

# The checkpoints a run dir keeps: the last epoch's (to resume from) and the best by trainer.monitor.
CHECKPOINTS = ("last", "best")


def rng_state() -> dict[str, Any]:
    """Every generator a run draws from, as tensors and plain numbers."""
    numpy = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(numpy["state"]["key"].astype(np.int64)),
            "pos": int(numpy["state"]["pos"]),
            "has_gauss": int(numpy["has_gauss"]),
            "gauss": float(numpy["gauss"]),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy["key"].numpy().astype(np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss"]))


def save_checkpoint(path: Path, *more: Path, **state: Any) -> None:
    """Written atomically to path and each of `more`, serialised once: a crash while saving leaves the
    previous checkpoint intact."""
    atomic_save({**state, "rng": rng_state()}, path, *more)


def load_checkpoint(
    path: Path, device: torch.device | str = "cpu", required: tuple[str, ...] = ("model",)
) -> dict[str, Any]:
    """A checkpoint loaded with weights_only=True (anything else in it is refused, never run), holding the
    `required` keys; a file that is no such checkpoint is a CheckpointError saying what it is instead."""
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a directory, not a checkpoint file; move it away and put the run's checkpoint there, "
            "or point to the run dir that wrote it."
        )
    try:
        if path.stat().st_size == 0:
            raise EOFError("the file is empty (0 bytes)")
        if not zipfile.is_zipfile(path):
            raise ValueError("it is not the zip archive torch.save writes")
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):  # the weights-only unpickler refuses a global: an object, maybe code
            raise _unreadable(path, error) from None
        raise CheckpointError(
            f"{path} holds Python objects other than tensors and plain containers, so cnnlab will not "
            "load it: unpickling them could run code. cnnlab's own checkpoints never do; use a checkpoint "
            f"written by `python -m cnnlab.train`, or retrain. ({_refused_global(error)})"
        ) from None
    except Exception as error:  # noqa: BLE001 - whatever a damaged or foreign file makes torch.load raise
        raise _unreadable(path, error) from None
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        what = f"no {', '.join(missing)}" if isinstance(state, dict) else f"a {type(state).__name__}"
        raise CheckpointError(
            f"{path} is a PyTorch file but not a checkpoint of `python -m cnnlab.train` (it holds {what}); "
            "put the run's own checkpoint back, or point to the run dir that wrote it."
        )
    return state


def _refused_global(error: pickle.UnpicklingError) -> str:
    """The line of torch's weights-only refusal that names the object it would not load."""
    return next((line.strip() for line in str(error).splitlines() if "GLOBAL" in line), quoted(error))


def _unreadable(path: Path, error: Exception) -> CheckpointError:
    return CheckpointError(
        f"{path} is not a readable checkpoint ({quoted(error)}). It may be truncated or from another "
        "program: delete it to train afresh, or point to the run dir that wrote it."
    )


EXTENDABLE = frozenset({"trainer.epochs"})


def check_resume_config(saved: dict[str, Any], current: dict[str, Any], path: Path, allow: bool) -> list[str]:
    """The training-relevant keys whose value differs between a checkpoint's config and this run's.

    Resuming with a changed lr, model or batch size would continue a different experiment under the
    old one's name, so it is an error unless `trainer.resume_allow_changes=true`. Plumbing keys
    (paths, device, threads), trainer.epochs (extending a run is what resuming is for; a schedule
    that depends on it differs in its own keys) and keys only one side has (a newer cnnlab's
    additions) are not compared.
    """
    changed = changed_settings(saved, current, ignore=EXTENDABLE)
    if changed and not allow:
        listing = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
        raise ConfigError(
            f"trainer.resume=true, but this config differs from the one {path} was trained with: {listing}. "
            "Resume with the run's own settings (its config.yaml), start a new run dir, or add "
            "trainer.resume_allow_changes=true to continue with the new values."
        )
    return list(changed)
