#!/usr/bin/env bash
# Regenerate docs/optuna-dashboard.png (README "Hyper-parameter search"): a small pruned search on the
# embedded digits (hparams_search=lr_batch_size with the median pruner), optuna-dashboard on its study, and
# a headless Chromium screenshot of the study's page. Rerun with the same outputs dir to retake it without
# training (the search's study is continued with 0 more trials).
# Usage: docs/make_dashboard_screenshot.sh [outputs dir, default a new temp dir]   (make screenshots)
# Needs Chromium (Debian: apt-get install chromium). PY picks the interpreter (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CHROMIUM=${CHROMIUM:-chromium}
OUT=${1:-$(mktemp -d)}
SHOT=docs/optuna-dashboard.png
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}

trials=10
[ -f "$OUT/sweeps/search/optuna.db" ] && trials=0
nice -n 5 "$PY" -m cnnlab.train hparams_search=lr_batch_size hydra/sweeper/pruner=median \
  hydra.sweeper.pruner.n_startup_trials=3 hydra.sweeper.pruner.n_warmup_steps=1 \
  hydra.sweeper.sampler.n_startup_trials=4 hydra.sweeper.sampler.seed=0 \
  "hydra.sweeper.n_trials=$trials" trainer.epochs=6 \
  "paths.output_dir=$OUT" "paths.cache_dir=$OUT/cache" "hydra.sweep.dir=$OUT/sweeps/search"

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$(dirname "$PY")/optuna-dashboard" "sqlite:///$(realpath "$OUT/sweeps/search/optuna.db")" --host 127.0.0.1 \
  --port "$port" >"$OUT/dashboard.log" 2>&1 &
dashboard=$!
profile=$(mktemp -d)
trap 'kill $dashboard; rm -rf "$profile"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 60); do
  curl -sf "$base/api/studies" | grep -q lr_batch_size && break
  sleep 1
done
study=$(curl -sf "$base/api/studies" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["study_summaries"][0]["study_id"])')

# The study's page: its trials' history, the intermediate values each epoch reported (pruned trials end
# early), parameter importances and the trial table. One page, a fresh profile, no network but localhost.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1600,1100 \
  --virtual-time-budget=30000 --screenshot="$SHOT" "$base/dashboard/studies/$study" 2>/dev/null
ls -l "$SHOT" && echo "search and dashboard log: $OUT"
