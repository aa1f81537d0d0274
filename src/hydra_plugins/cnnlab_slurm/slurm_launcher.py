"""The `hydra/launcher=slurm` launcher: the submitit plugin's SLURM launcher, except that a submission
sbatch refuses (no GPUs on the partition, too much memory, a wrong partition ...) ends the sweep with
one paragraph naming the setting to change and exit code 2, instead of a traceback."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

from hydra.core.utils import JobReturn
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher

from cnnlab.errors import ConfigError

log = logging.getLogger("cnnlab.sweep")

# (what sbatch's error says, the setting that fixes it); the first match names the setting.
SBATCH_HINTS = (
    ("generic resource", "hydra.launcher.gpus_per_node (null on a cluster without GPUs)"),
    ("gres", "hydra.launcher.gpus_per_node (null on a cluster without GPUs)"),
    ("processors", "hydra.launcher.cpus_per_task (at most a node's CPUs: sinfo -o '%P %c')"),
    ("memory specification", "hydra.launcher.mem_gb (at most a node's memory: sinfo -o '%P %m')"),
    ("account", "hydra.launcher.account (one that `sacctmgr show assoc user=$USER` lists)"),
    ("partition", "hydra.launcher.partition (one that `sinfo -s` lists)"),
    ("time limit", "hydra.launcher.timeout_min (at most the partition's limit: sinfo -o '%P %l')"),
    (
        "node configuration is not available",
        "hydra.launcher.cpus_per_task, mem_gb or gpus_per_node (within one node: sinfo -o '%P %c %m %G')",
    ),
)
FALLBACK_HINT = "hydra.launcher.* against what the partition offers (sinfo -o '%P %c %m %G %l')"


def sbatch_refusal(error: BaseException) -> ConfigError | None:
    """The clear error for a failed sbatch call (or a missing sbatch); None for any other error."""
    missing = (isinstance(error, FileNotFoundError) and error.filename == "sbatch") or (
        # submitit >= 1.5.4 looks for srun before it submits anything
        isinstance(error, RuntimeError) and 'Could not detect "srun"' in str(error)
    )
    if missing:
        return ConfigError(
            "hydra/launcher=slurm needs SLURM's `sbatch` and `srun` commands, which are not on PATH: run "
            "the sweep on the cluster's login node, or use hydra/launcher=submitit_local (or joblib) on "
            "this machine."
        )
    cause = error.__cause__
    if not (isinstance(cause, subprocess.CalledProcessError) and cause.cmd and cause.cmd[0] == "sbatch"):
        return None
    said = " ".join(line.strip() for line in str(cause.stderr or error).splitlines() if line.strip())
    hint = next((fix for clue, fix in SBATCH_HINTS if clue in said.lower()), FALLBACK_HINT)
    return ConfigError(
        f"SLURM refused the sweep's jobs (sbatch exit {cause.returncode}): {said or 'no message'}. "
        f"Set {hint} in conf/hydra/launcher/slurm.yaml or on the command line; nothing was submitted."
    )


class SlurmLauncher(SubmititSlurmLauncher):
    """Configured as _target_ in conf/hydra/launcher/slurm.yaml."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        try:
            return super().launch(job_overrides, initial_job_idx)
        except (RuntimeError, FileNotFoundError) as error:
            refusal = sbatch_refusal(error)
            if refusal is None:
                raise
            log.error("%s", refusal)
            raise SystemExit(2) from None
