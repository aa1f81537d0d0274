# Sweeps and comparison (README "Sweeps and comparison"): a parallel demo grid on the embedded
# digits, the serial-vs-joblib wall-time benchmark, README's TensorBoard and optuna-dashboard
# screenshots, and optuna-dashboard on a search's study. `make tensorboard` opens every run and sweep.
SWEEP_DEMO_DIR ?= outputs/sweeps/demo

.PHONY: sweep-demo bench-sweep screenshots dashboard

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
screenshots: $(STAMP) ## retake docs/tensorboard-*.png and optuna-dashboard.png: small sweeps, headless Chromium (apt-get install chromium)
	PY=$(PY) docs/make_screenshots.sh $(SCREENSHOTS_OUT)
	PY=$(PY) docs/make_dashboard_screenshot.sh $(if $(SCREENSHOTS_OUT),$(SCREENSHOTS_OUT)/search)

# optuna-dashboard on a search's study: STORAGE=<url> (e.g. sqlite:///outputs/optuna.db), else the
# newest outputs/**/optuna.db (a search without hydra.sweeper.storage keeps its study in its sweep dir).
STORAGE ?=
DASHBOARD_PORT ?= 8080
dashboard: $(STAMP) ## optuna-dashboard on a search's study (STORAGE=<url>, default the newest outputs/**/optuna.db)
	@url="$(STORAGE)"; \
	if [ -z "$$url" ]; then \
	  db=$$(find outputs -name optuna.db -printf '%T@ %p\n' 2>/dev/null | sort -nr | head -1 | cut -d' ' -f2-); \
	  if [ -z "$$db" ]; then \
	    echo "make dashboard: no outputs/**/optuna.db yet: run a search (hparams_search=lr_batch_size) or give STORAGE=<url>" >&2; \
	    exit 2; \
	  fi; \
	  url="sqlite:///$$(realpath "$$db")"; \
	fi; \
	echo "optuna-dashboard on $$url: http://127.0.0.1:$(DASHBOARD_PORT)/dashboard (Ctrl-C stops it)"; \
	$(BIN)/optuna-dashboard "$$url" --host 127.0.0.1 --port $(DASHBOARD_PORT)
