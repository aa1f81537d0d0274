# Speed benchmarks (benchmarks/): images/s against the classic DataLoader and the compute bound,
# and time to 99% on MNIST. Real data under DATA_ROOT when there, generated data otherwise.
CIFAR_FOLDER ?=
BENCH_ARGS ?=
TTA_ARGS ?= --seeds 0,1,2,3,4 --keras-runs 1
SEARCH_ARGS ?=
.PHONY: bench bench-tta bench-search

bench: $(STAMP) ## images/s: tensor path vs classic DataLoader vs bare compute (~15 min; BENCH_ARGS=--synthetic)
	$(PY) benchmarks/bench_speed.py --data-root $(DATA_ROOT) \
	  $(if $(CIFAR_FOLDER),--cifar-image-folder $(CIFAR_FOLDER)) $(BENCH_ARGS)

bench-tta: $(STAMP) ## wall time to 99% MNIST test accuracy: fast/mnist99 vs standalone vs keras7 recipe
	$(PY) benchmarks/bench_tta.py --data-root $(DATA_ROOT) $(TTA_ARGS)

bench-search: $(STAMP) lab-data ## one Optuna search, pruning off vs on, 3 seeds (MNIST, ~2 h; SEARCH_ARGS=--smoke)
	$(PY) benchmarks/bench_search.py --data-root $(LAB_DATA) $(SEARCH_ARGS)
