# Sweeps and comparison (README "Sweeps and comparison"): a parallel demo grid on the embedded
# digits, the serial-vs-joblib wall-time benchmark, and README's TensorBoard screenshots.
# `make tensorboard` opens every run and sweep.
SWEEP_DEMO_DIR ?= outputs/sweeps/demo

.PHONY: sweep-demo bench-sweep screenshots

sweep-demo: $(STAMP) ## 2x2 grid (lr x model) on the embedded digits, 2 jobs in parallel, then its report
	$(PY) -m cnnlab.train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 \
	  optimizer.lr=0.003,0.0003 model=lenet,simple_cnn trainer.epochs=5 \
	  hydra.sweep.dir=$(SWEEP_DEMO_DIR)
	@echo "Compare: $(SWEEP_DEMO_DIR)/summary.md, $(SWEEP_DEMO_DIR)/curves.png"
	@echo "TensorBoard: $(BIN)/tensorboard --logdir $(SWEEP_DEMO_DIR)   (rerun: completed jobs are skipped)"

bench-sweep: $(STAMP) ## wall time of an 8-job grid: serial vs joblib with 2 jobs vs serial 1-thread, interleaved
	$(PY) benchmarks/sweep_parallel.py

# Outside outputs/, so these sweeps stay out of `make tensorboard`; name a dir to retake without training.
SCREENSHOTS_OUT ?=
screenshots: $(STAMP) ## retake docs/tensorboard-*.png: 2 small sweeps, TensorBoard, headless Chromium (apt-get install chromium)
	PY=$(PY) docs/make_screenshots.sh $(SCREENSHOTS_OUT)
