# The five labs of ../shared/LABS.md: `make <lab>-<question>` reproduces one question,
# `make <lab>` a whole lab, `make labs` all five, `make collect` copies finished full-budget
# results into experiments/, `make report` rebuilds experiments/*/README.md from experiments/.
# The recipes and question targets are generated from conf/lab/*.yaml into mk/labs.targets
# (`make lab-targets`; a test checks that the committed file is up to date).
#
# BUDGET=full (default) or smoke selects conf/budget/<budget>.yaml, appended after the preset:
# full is the lab's own schedule; smoke, a pipeline check and never an answer, cuts epochs and
# batches per epoch (and, for the variable-resolution MNIST runs, the images per split) so a
# lab takes minutes on a CPU. Only full-budget results are collected into experiments/.
# DATA_ROOT=<dir> reads the offline copies (MNIST/raw/*.gz, FashionMNIST/raw/*.gz,
# cifar10-jpeg.tar.gz) from a folder that may be read-only: `lab-data` unpacks the IDX files
# into the writable LAB_DATA once, and CIFAR-10 unpacks from the tarball into LAB_DATA too.
# Without DATA_ROOT, torchvision downloads into LAB_DATA as usual.
# A question's results stay in $(LAB_OUT)/<budget>/<lab>/<question> (training) or
# $(LAB_OUT)/tasks/<task> (the rest); a target whose results exist is not run again:
# `make labs-clean` (or deleting that folder) makes it rerun. A run stopped part-way (Ctrl-C,
# a crash, a reboot) resumes from its last epoch's checkpoint when the target is made again,
# and a sweep skips the jobs that finished. ARGS="key=value ..." adds
# overrides to every training run, e.g. make rdfia-q13 ARGS="trainer.batch_size=64".

LAB_DATA ?= data
LAB_OUT ?= outputs/labs
LAB_RUNS = $(LAB_OUT)/$(BUDGET)
LAB_TASKS = $(LAB_OUT)/tasks
TRAIN := $(PY) -m cnnlab.train
LABTASK := $(PY) -m cnnlab.lab
JOBLIB := hydra/launcher=joblib hydra.launcher.n_jobs=2 trainer.num_threads=1
CIFAR_TGZ = $(wildcard $(DATA_ROOT)/cifar10-jpeg.tar.gz)
CIFAR = $(if $(CIFAR_TGZ),dataset.image_folder=$(abspath $(CIFAR_TGZ)))
VARRES = $(if $(filter smoke,$(BUDGET)),++dataset.max_train=6000 ++dataset.max_test=1000)
FULL_ONLY = $(if $(filter full,$(BUDGET)),$(1))
LAB_IDS := dd2427 keras7 mainf6 vu3a rdfia
# A literal comma inside $(call ...) arguments (Hydra sweep lists).
, := ,

.PHONY: lab-data labs labs-clean report collect lab-targets $(LAB_IDS)

lab-data: ## unpack MNIST/Fashion-MNIST IDX files from DATA_ROOT (may be read-only) into data/
	@if [ "$(abspath $(DATA_ROOT))" != "$(abspath $(LAB_DATA))" ]; then \
	  for d in MNIST FashionMNIST; do \
	    for f in $(DATA_ROOT)/$$d/raw/*-ubyte $(DATA_ROOT)/$$d/raw/*-ubyte.gz; do \
	      [ -e "$$f" ] || continue; \
	      out=$(LAB_DATA)/$$d/raw/$$(basename "$${f%.gz}"); \
	      [ -s "$$out" ] && continue; \
	      mkdir -p "$$(dirname "$$out")"; \
	      case "$$f" in *.gz) gunzip -c "$$f" > "$$out.tmp";; *) cp "$$f" "$$out.tmp";; esac; \
	      mv "$$out.tmp" "$$out"; echo "unpacked $$f -> $$out"; \
	    done; \
	  done; \
	fi

# One training run: $(1) = folder under outputs/labs/<budget>/, $(2) = preset and overrides.
# A run whose loss went non-finite exits 1 so that a script notices, yet its divergence is its result
# (a sweep treats a diverged job the same way): the target is made, and the report says it diverged.
define lab_run
$(LAB_RUNS)/$(1)/done: | $(STAMP) lab-data
	$$(TRAIN) $(2) +budget=$$(BUDGET) paths.data_root=$$(LAB_DATA) hydra.run.dir=$$(@D) trainer.resume=true $$(ARGS) \
	  || $$(call diverged,$$(@D))
	touch $$@
endef
diverged = grep -qs '"status": "diverged"' $(1)/summary.json

# One run per seed: $(1) = the recipe's folder, $(2) = its seed folders (seed0 seed1 ...), each
# made by its own lab_run; the recipe is done when every seed is, seed by seed in that order.
define lab_seeds
$(LAB_RUNS)/$(1)/done: $(foreach s,$(2),$(LAB_RUNS)/$(1)/$(s)/done)
	touch $$@
endef

# One sweep (multirun): $(1) = folder, $(2) = preset and sweep overrides.
define lab_sweep
$(LAB_RUNS)/$(1)/done: | $(STAMP) lab-data
	$$(TRAIN) -m $(2) +budget=$$(BUDGET) paths.data_root=$$(LAB_DATA) hydra.sweep.dir=$$(@D) $$(ARGS)
	touch $$@
endef

# A sweep, or one run, at the best values of another sweep's jobs: $(1) = folder, $(2) = the other
# sweep's folder, $(3) = the `python -m cnnlab.experiments best` options that pick its best job and
# name the override keys taken from it (--name, --key ..., --by best|final), $(4) = the training
# arguments (-m first for a sweep), with $$$$best (those keys' key=value pairs) among them,
# $(5) = hydra.sweep.dir for a sweep, hydra.run.dir for a run.
define lab_at_best
$(LAB_RUNS)/$(1)/done: $(LAB_RUNS)/$(2)/done | $(STAMP) lab-data
	best=$$$$($$(PY) -m cnnlab.experiments best $(LAB_RUNS)/$(2) $(3) --overrides) && \
	  $$(TRAIN) $(4) +budget=$$(BUDGET) paths.data_root=$$(LAB_DATA) $(5)=$$(@D) $$(ARGS)
	touch $$@
endef

# One non-training task: $(1) = folder under outputs/labs/tasks/, $(2) = task and overrides.
define lab_task
$(LAB_TASKS)/$(1)/done: | $(STAMP) lab-data
	rm -rf $$(@D)
	$$(LABTASK) $(2) paths.data_root=$$(LAB_DATA) hydra.run.dir=$$(@D)
	touch $$@
endef

# A task that reads a trained run, beside it (per budget): $(1) = folder, $(2) = the run's folder,
# $(3) = task and overrides.
define lab_run_task
$(LAB_RUNS)/$(1)/done: $(LAB_RUNS)/$(2)/done | $(STAMP)
	rm -rf $$(@D)
	$$(LABTASK) $(3) task.run=$(LAB_RUNS)/$(2) paths.data_root=$$(LAB_DATA) hydra.run.dir=$$(@D)
	touch $$@
endef

run_done = $(LAB_RUNS)/$(1)/done
task_done = $(LAB_TASKS)/$(1)/done

include mk/labs.targets

labs: $(LAB_IDS) ## every question of the five labs, then collect and every README (BUDGET=full|smoke)

collect: | $(STAMP) ## copy finished full-budget runs and task results from LAB_OUT into experiments/
	$(PY) -m cnnlab.experiments collect $(LAB_OUT)

report: | $(STAMP) ## rebuild experiments/*/README.md and README.md's scoreboard from experiments/ alone
	$(PY) -m cnnlab.experiments report

lab-targets: | $(STAMP) ## regenerate mk/labs.targets from conf/lab/*.yaml
	$(PY) -m cnnlab.experiments targets > mk/labs.targets.tmp && mv mk/labs.targets.tmp mk/labs.targets

labs-clean: ## forget the lab results of this BUDGET so the next `make <lab>-<q>` reruns them
	rm -rf $(LAB_RUNS) $(LAB_TASKS)
