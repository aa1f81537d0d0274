# Mutation testing of the core (benchmarks/mutate.py, benchmarks/mutation.toml): hours, so never in CI.
# Each module is mutated in a copy of the repository; survivors go to benchmarks/results/mutation-*.md.
# Resumable: the sessions live in outputs/mutate/<commit>/, so rerunning it at the same commit runs only
# the mutants still pending (MUTATE_ARGS=--list counts them; --report-only writes the report).
MUTATE_ARGS ?=
MUTATE_NICE ?= 10
.PHONY: mutate

mutate: $(STAMP) ## mutation testing of the core, survivors to benchmarks/results/ (hours, resumable; MUTATE_ARGS="--modules engine/tasks.py")
	@$(PY) -c "import cosmic_ray" 2>/dev/null || $(BIN)/pip install -q -e '.[mutation]'
	nice -n $(MUTATE_NICE) $(PY) benchmarks/mutate.py $(MUTATE_ARGS)

.PHONY: planted-bugs
planted-bugs: $(STAMP) ## plant the bugs of benchmarks/planted_bugs.toml one at a time; each must fail its named test (minutes)
	nice -n $(MUTATE_NICE) $(PY) benchmarks/planted_bugs.py
