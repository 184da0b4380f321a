# dp_ros2: every target sets up what it needs first (tools/bootstrap.sh is idempotent).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTEST_ARGS ?=

DEMO_ARGS ?=
CHECKPOINT ?=

.PHONY: help bootstrap build test demo bench clean

help:
	@echo "make demo   - the whole pipeline in simulation (record, convert, train, deploy, evaluate)"
	@echo "make test   - set up, build, lint + type check (tools/lint.sh), and run every package's tests"
	@echo "make bench  - run the benchmarks (JSON on the last line of each)"
	@echo "make clean  - remove build/, install/, log/ (keeps .venv)"

bootstrap build:
	@bash tools/bootstrap.sh

test: bootstrap
	@bash tools/lint.sh
	@bash tools/run_tests.sh $(PYTEST_ARGS)

demo: bootstrap
	@. tools/env.sh && python -m dp_demo $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT)) $(DEMO_ARGS)

bench: bootstrap
	@. tools/env.sh && for b in benchmarks/bench_*.py; do echo "== $$b"; python $$b --json || exit 1; done

clean:
	rm -rf build install log
