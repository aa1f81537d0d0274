#!/usr/bin/env bash
# Regenerate docs/tensorboard-hparams.png and docs/tensorboard-scalars.png (README "Sweeps and
# comparison"): two small sweeps with different swept keys on the embedded digits, TensorBoard over
# their outputs dir, and headless Chromium screenshots of its HParams table and Scalars page. Rerun
# with the same outputs dir to retake them without training (the sweeps skip completed jobs).
# Usage: docs/make_screenshots.sh [outputs dir, default a new temp dir]   (make screenshots)
# Needs Chromium (Debian: apt-get install chromium). PY picks the interpreter (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CHROMIUM=${CHROMIUM:-chromium}
OUT=${1:-$(mktemp -d)}
DOCS=docs
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}

train() { nice -n 5 "$PY" -m cnnlab.train -m trainer.epochs=12 "paths.output_dir=$OUT" "paths.cache_dir=$OUT/cache" "$@"; }
train optimizer.lr=0.01,0.003,0.001 "hydra.sweep.dir=$OUT/sweeps/lr"
train trainer.batch_size=16,128 optimizer.weight_decay=0.01 "hydra.sweep.dir=$OUT/sweeps/batch_size"
"$PY" -m cnnlab.tensorboard_root "$OUT"

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$(dirname "$PY")/tensorboard" --logdir "$OUT" --host 127.0.0.1 --port "$port" >"$OUT/tensorboard.log" 2>&1 &
tb=$!
profiles=$(mktemp -d)
trap 'kill $tb; rm -rf "$profiles"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 60); do
  curl -sf "$base/data/plugin/scalars/tags" | grep -q 'batch_size=128' && break
  sleep 1
done

shot() {  # shot <file> <width,height> <url>: one page, a fresh profile, no network but localhost
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profiles/$(basename "$1")" --hide-scrollbars --window-size="$2" \
    --virtual-time-budget=20000 --screenshot="$1" "$3" 2>/dev/null
}
# HParams' table view: the first five keys (the varying ones first) and the metric columns.
shot "$DOCS/tensorboard-hparams.png" 1900,420 "$base/#hparams"
# Scalars (its charts draw without WebGL, unlike Time Series'), filtered to the split groups and
# unsmoothed; both settings travel in the URL.
shot "$DOCS/tensorboard-scalars.png" 1600,770 "$base/#scalars&tagFilter=%5E(train%7Cval%7Ctest)%2F&_smoothingWeight=0"
ls -l "$DOCS"/tensorboard-*.png && echo "runs and TensorBoard log: $OUT"
