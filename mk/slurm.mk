# A real Slurm cluster on this machine (README "Clusters"): tests/slurm/cluster.sh installs Debian's
# slurm-wlm and munge, starts a one-node cluster whose state stays in a temp dir, and
# tests/slurm/ sweeps through hydra/launcher=slurm on it. Root only; CI does not run it.
.PHONY: test-slurm

test-slurm: $(STAMP) ## root only, ~10 min: sweeps on a one-node Slurm cluster (installs slurm-wlm, munge)
	@[ "$$(id -u)" = 0 ] || { echo "make test-slurm: run it as root (it installs slurm-wlm and munge and starts their daemons)" >&2; exit 2; }
	tests/slurm/cluster.sh install
	CNNLAB_SLURM_TEST=1 nice -n 5 $(PY) -m pytest -q -rs -m slow -p no:cacheprovider tests/slurm
