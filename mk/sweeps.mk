# Sweeps and comparison (README "Sweeps and comparison"): a parallel demo grid on the embedded
# digits, and the serial-vs-joblib wall-time benchmark. `make tensorboard` opens every run and sweep.
SWEEP_DEMO_DIR ?= outputs/sweeps/demo

.PHONY: sweep-demo bench-sweep

sweep-demo: $(STAMP) ## 2x2 grid (lr x model) on the embedded digits, 2 jobs in parallel, then its report
	$(PY) -m cnnlab.train -m hydra/launcher=joblib hydra.launcher.n_jobs=2 \
	  optimizer.lr=0.003,0.0003 model=lenet,simple_cnn trainer.epochs=5 \
	  hydra.sweep.dir=$(SWEEP_DEMO_DIR)
	@echo "Compare: $(SWEEP_DEMO_DIR)/summary.md, $(SWEEP_DEMO_DIR)/curves.png"
	@echo "TensorBoard: $(BIN)/tensorboard --logdir $(SWEEP_DEMO_DIR)   (rerun: completed jobs are skipped)"

bench-sweep: $(STAMP) ## wall time of an 8-job grid: serial vs joblib with 2 jobs vs serial 1-thread, interleaved
	$(PY) benchmarks/sweep_parallel.py
