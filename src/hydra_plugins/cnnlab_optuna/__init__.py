"""cnnlab's Hydra sweeper on current Optuna (Hydra finds sweepers only under the hydra_plugins package)."""
