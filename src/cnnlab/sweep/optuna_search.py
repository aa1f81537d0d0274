"""The Optuna search behind hydra/sweeper=optuna (src/hydra_plugins/cnnlab_optuna): ask the study for a
trial whenever a launcher slot is free, launch it as an ordinary sweep job (its run dir, report row and
TensorBoard run like any grid job), and tell the study how the job ended, read from its summary.json:
completed (its objective values), pruned, or failed.

Trials run `n_jobs` at a time, each launched alone from its own thread (Hydra launchers run a list of
jobs and return when all are done, so launching one job per call is what lets a new trial start as soon
as any slot frees up); with one slot, jobs run in the main thread, which Hydra's basic launcher needs."""

from __future__ import annotations

import functools
import logging
import math
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import BaseDistribution
from optuna.trial import TrialState

from cnnlab.errors import ConfigError
from cnnlab.rundir.files import RunFileError, read_summary
from cnnlab.rundir.status import FAILED, trial_state
from cnnlab.sweep.search_space import grid, grid_size, search_space
from cnnlab.sweep.study import TRIAL_ENV, open_storage, storage_url, study_name

log = logging.getLogger("cnnlab.sweep")
RESULTS_FILE = "optimization_results.yaml"
DIRECTIONS = {"maximize": "max", "minimize": "min"}
BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


@dataclass
class Settings:
    """hydra.sweeper's keys (conf/hydra/sweeper/optuna.yaml), sampler and pruner already built by Hydra."""

    sampler: Any
    pruner: Any
    direction: Any
    objectives: Any
    storage: str | None
    study_name: str | None
    n_trials: int
    n_jobs: int | None
    params: Any

    @classmethod
    def of(cls, values: dict[str, Any]) -> Settings:
        """From hydra.sweeper's keys; one it does not know (e.g. hydra-optuna-sweeper's max_failure_rate)
        is a ConfigError naming the ones it takes."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(
                f"hydra.sweeper.{unknown[0]} is not a setting of cnnlab's Optuna sweeper "
                f"(conf/hydra/sweeper/optuna.yaml), which takes {', '.join(known)}: remove it."
            )
        return cls(**{key: values.get(key) for key in known})

    @property
    def directions(self) -> list[str]:
        given = list(self.direction) if isinstance(self.direction, list | ListConfig) else [self.direction]
        bad = [d for d in given if d not in DIRECTIONS]
        if bad or not given:
            raise ConfigError(
                f"hydra.sweeper.direction={self.direction} is not a direction: give maximize or minimize, "
                "or a list of them with hydra.sweeper.objectives for a multi-objective search."
            )
        return [str(d) for d in given]

    def objective_keys(self, config: DictConfig) -> list[str]:
        """What each trial's values are, as dotted keys of its summary.json. One direction: the best
        monitored value over epochs (what pruners see each epoch), which must go the monitor's way."""
        directions = self.directions
        if len(directions) == 1:
            mode = config.trainer.monitor_mode
            if self.objectives is not None or DIRECTIONS[directions[0]] != mode:
                raise ConfigError(
                    f"hydra.sweeper.direction={directions[0]} with trainer.monitor={config.trainer.monitor} "
                    f"(trainer.monitor_mode={mode}): a single-objective search optimises the monitored "
                    f"metric, so set direction to {'maximize' if mode == 'max' else 'minimize'} and leave "
                    "hydra.sweeper.objectives null (objectives are for several directions)."
                )
            return ["best.value"]
        objectives = list(self.objectives or [])
        if len(objectives) != len(directions):
            raise ConfigError(
                f"hydra.sweeper.direction={directions} needs as many hydra.sweeper.objectives, keys of each "
                f"run's summary.json such as [best.value, n_params, wall_s]; got {objectives or 'none'}."
            )
        if not isinstance(self.pruner, optuna.pruners.NopPruner):
            raise ConfigError(
                f"hydra/sweeper/pruner={type(self.pruner).__name__} with {len(directions)} objectives: "
                "Optuna prunes single-objective studies only, so use hydra/sweeper/pruner=none here."
            )
        return [str(o) for o in objectives]


def slots(n_jobs: int | None, launcher_cfg: DictConfig, cores: int) -> int:
    """Trials at once: hydra.sweeper.n_jobs, or what the launcher runs at once (joblib's n_jobs), else 1.
    Hydra's basic launcher runs jobs in this process, one at a time."""
    target = str(launcher_cfg.get("_target_", ""))
    if n_jobs is None:
        launched = int(launcher_cfg.get("n_jobs") or 1) if target.endswith("JoblibLauncher") else 1
        n_jobs = launched if launched > 0 else max(1, cores + 1 + launched)
    if n_jobs < 1:
        raise ConfigError(f"hydra.sweeper.n_jobs={n_jobs}: give the number of trials to run at once (>= 1).")
    if n_jobs > 1 and target == BASIC_LAUNCHER:
        raise ConfigError(
            f"hydra.sweeper.n_jobs={n_jobs} needs a launcher that runs jobs side by side: add "
            "hydra/launcher=joblib (or a submitit one); Hydra's basic launcher runs one job at a time."
        )
    return n_jobs


def summary_value(summary: dict[str, Any], key: str) -> float:
    """A dotted key of summary.json as a number, NaN when missing."""
    node: Any = summary
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    try:
        return float(node)
    except (TypeError, ValueError):
        return math.nan


class OptunaSearch:
    """One multirun's search: the study, the launcher, and the ask-launch-tell loop."""

    def __init__(self, settings: Settings, config: DictConfig, launcher: Launcher, cores: int) -> None:
        self.settings = settings
        self.config = config
        self.launcher = launcher
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self.objectives = settings.objective_keys(config)
        self.slots = slots(settings.n_jobs, config.hydra.launcher, cores)
        self.job_idx = 0

    def _sampler(self, space: dict[str, BaseDistribution]) -> tuple[optuna.samplers.BaseSampler, int]:
        """The sampler, and the number of trials to ask for (a grid has no more points than its size)."""
        sampler = self.settings.sampler
        n_trials = int(self.settings.n_trials)
        if isinstance(sampler, functools.partial) and sampler.func is optuna.samplers.GridSampler:
            values = grid(space)
            sampler = sampler(values)
            n_trials = min(n_trials, grid_size(values))
        return sampler, n_trials

    def open_study(self, sampler: optuna.samplers.BaseSampler, url: str) -> optuna.Study:
        name = study_name(self.settings.study_name, self.sweep_dir)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        study = optuna.create_study(
            study_name=name,
            storage=open_storage(url),
            sampler=sampler,
            pruner=self.settings.pruner,
            directions=self.settings.directions,
            load_if_exists=True,
        )
        had = [d.name.lower() for d in study.directions]
        if had != self.settings.directions:
            raise ConfigError(
                f"study {name} in {url} was made with direction {had}, not {self.settings.directions}: "
                "use another hydra.sweeper.study_name (or storage) for this search."
            )
        return study

    def run(self, arguments: list[str]) -> optuna.Study:
        space, fixed = search_space(self.settings.params, arguments)
        if not space:
            raise ConfigError(
                "hydra/sweeper=optuna has nothing to search: give hydra.sweeper.params (see "
                "conf/hparams_search/lr_batch_size.yaml) or a sweep override such as "
                "optimizer.lr=interval(1e-4,1e-1)."
            )
        sampler, n_trials = self._sampler(space)
        url = storage_url(self.settings.storage, self.sweep_dir)
        previous = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # cnnlab logs one line per trial itself
        try:
            study = self.open_study(sampler, url)
            log.info(
                "Optuna study %s in %s: %s, pruner %s, %s, %d trials, %d at a time (%d already in it)",
                study.study_name,
                url,
                type(sampler).__name__,
                type(self.settings.pruner).__name__,
                "/".join(self.settings.directions),
                n_trials,
                self.slots,
                len(study.trials),
            )
            self._optimize(study, sampler, space, fixed, n_trials)
        finally:
            optuna.logging.set_verbosity(previous)
        self._write_results(study, url)
        log.info("look at the study: optuna-dashboard %s  (or make dashboard STORAGE=%s)", url, url)
        return study

    def _optimize(
        self,
        study: optuna.Study,
        sampler: optuna.samplers.BaseSampler,
        space: dict[str, BaseDistribution],
        fixed: list[str],
        n_trials: int,
    ) -> None:
        """Keep `slots` trials running until n_trials have been asked for; tell each as it ends."""
        pool = ThreadPoolExecutor(self.slots, thread_name_prefix="trial") if self.slots > 1 else None
        running: dict[Future, optuna.Trial] = {}
        asked, error = 0, None
        try:
            while True:
                while error is None and asked < n_trials and len(running) < self.slots:
                    if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
                        log.info("every point of the grid has a trial in study %s", study.study_name)
                        break
                    trial = study.ask(space)
                    asked += 1
                    job: Future = Future()
                    running[job] = trial  # before it starts: a Ctrl-C during the job marks it failed
                    self._launch(pool, job, trial, fixed)
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for job in done:
                    trial = running.pop(job)
                    try:
                        self._tell(study, trial, job.result())
                    except (Exception, SystemExit) as failure:  # the launcher itself failed: stop asking
                        tell(study, trial, TrialState.FAIL)
                        error = error or failure
        except KeyboardInterrupt:
            for trial in running.values():
                tell(study, trial, TrialState.FAIL)
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
        if pool is not None:
            pool.shutdown()
        if error is not None:
            raise error

    def _launch(
        self, pool: ThreadPoolExecutor | None, job: Future, trial: optuna.Trial, fixed: list[str]
    ) -> None:
        """Run the trial's job through the launcher, its JobReturns into `job`: from a pool thread, or here
        when there is one slot."""
        params = [f"{key}={value}" for key, value in trial.params.items()]
        # The trial's id in the storage (Optuna keeps it private; its number is only unique in the study).
        overrides = [*params, *fixed, f"++hydra.job.env_set.{TRIAL_ENV}={trial._trial_id}"]
        idx, self.job_idx = self.job_idx, self.job_idx + 1
        log.info("trial %d: %s", trial.number, " ".join(params))

        def launch() -> None:
            try:
                job.set_result(self.launcher.launch([overrides], idx))
            except (Exception, SystemExit) as failure:
                job.set_exception(failure)

        if pool is None:
            launch()
        else:
            pool.submit(launch)

    def _tell(self, study: optuna.Study, trial: optuna.Trial, returns: list[JobReturn]) -> None:
        """The trial's state and values, from its run dir's summary.json."""
        ret = returns[0]
        run_dir = Path(str(ret.hydra_cfg.hydra.runtime.output_dir))
        try:
            summary = read_summary(run_dir)
        except RunFileError as error:
            log.warning("trial %d: %s; the trial failed", trial.number, error)
            summary = None
        status = (summary or {}).get("status")
        if ret.status != JobStatus.COMPLETED:
            status = FAILED
            log.error("trial %d: its job raised %r", trial.number, ret._return_value)
        state = TrialState[trial_state(status)]
        values = [summary_value(summary or {}, key) for key in self.objectives]
        if state == TrialState.COMPLETE and any(math.isnan(v) for v in values):
            state = TrialState.FAIL
        tell(study, trial, state, values if state == TrialState.COMPLETE else None)
        pruned = f" at epoch {summary.get('pruned_epoch')}" if state == TrialState.PRUNED and summary else ""
        monitor = f"best {self.config.trainer.monitor}"
        shown = ", ".join(
            f"{monitor if k == 'best.value' else k} {v:.4g}"
            for k, v in zip(self.objectives, values, strict=True)
        )
        log.info("trial %d %s%s: %s (%s)", trial.number, state.name, pruned, shown, run_dir.name)

    def _write_results(self, study: optuna.Study, url: str) -> None:
        """optimization_results.yaml in the sweep dir: the best trial (or the Pareto front) of the whole
        study, as Hydra's Optuna sweeper wrote it, with the study's whereabouts and trial counts."""
        counts = {state.name: 0 for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
        for trial in study.trials:
            counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "storage": url}
        if len(study.directions) == 1:
            best = _best_trial(study)
            results |= {
                "best_params": best.params if best else None,
                "best_value": best.value if best else None,
                "best_trial": best.number if best else None,
            }
            if best is None:
                log.warning("no trial of study %s completed: no best parameters", study.study_name)
            else:
                log.info("best trial %d: %s with %s", best.number, best.value, best.params)
        else:
            results["solutions"] = [
                {"params": t.params, "values": t.values, "trial": t.number} for t in study.best_trials
            ]
            log.info("%d Pareto-optimal trials (optimization_results.yaml)", len(results["solutions"]))
        results["trials"] = counts
        OmegaConf.save(OmegaConf.create(results), self.sweep_dir / RESULTS_FILE)


def tell(
    study: optuna.Study, trial: optuna.Trial, state: TrialState, values: list[float] | None = None
) -> None:
    """study.tell, except that the grid sampler's study.stop() once every point is done, meant for
    study.optimize, is moot here: Optuna stores the trial's state all the same (in a `finally`)."""
    try:
        study.tell(trial, values=values, state=state, skip_if_finished=True)
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise


def _best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial
        return None
