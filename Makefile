# The two commands a new user needs: `make run` and `make test`.
VENV_PYTHON := .venv/bin/python
RUN_ARGS ?=
PYTEST_ARGS ?=
# Every module in benchmarks/ is a benchmark: `python -m benchmarks.<name>` (rescore reads a
# finished run instead).
BENCHMARKS := $(filter-out __init__ timing datasets rescore,$(basename $(notdir $(wildcard benchmarks/*.py))))

.PHONY: setup run test bench lock clean

setup:  ## create or update .venv from the lock that fits this host
	@scripts/setup.sh

run: setup  ## the whole pipeline on the bundled digits; pushes a generator
	$(VENV_PYTHON) -m pipeline.run_local $(RUN_ARGS)

test: setup  ## unit tests and the end-to-end pipeline test
	$(VENV_PYTHON) -m pytest $(PYTEST_ARGS)

bench: setup  ## every benchmark in benchmarks/ (figures and ratios; minutes)
	@for name in $(BENCHMARKS); do \
		echo "== benchmarks.$$name"; \
		$(VENV_PYTHON) -m benchmarks.$$name || exit 1; \
	done

lock:  ## regenerate both stacks' locks from requirements/*.in
	scripts/lock.sh

clean:  ## remove run outputs (keeps .venv and the data)
	rm -rf outputs
