# make run  — set up everything on a fresh clone and serve the bot (Ctrl-C stops it all)
# make test — the same setup, then the whole test suite (and its 30 slowest tests)
# make test-fast — the inner loop: the suite without the tests marked e2e (real servers) or slow (training)
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install run test test-fast train lock clean

$(BIN)/python:
	@py=$$(scripts/python310) || exit 1; echo "Python: $$py"; "$$py" -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade "pip<26"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/cleanbot setup
	$(BIN)/cleanbot run

train: install
	$(BIN)/cleanbot train

test: install
	$(BIN)/cleanbot train
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=30 $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not e2e and not slow" $(PYTEST_ARGS)

lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.in
	( echo "# The whole resolved set, pinned (pip freeze of a working Python 3.10 venv). Regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^cleanbot' ) > requirements.lock

clean:
	rm -rf $(VENV) models var
