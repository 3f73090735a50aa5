# Two entry points for a fresh machine (README.md): `make serve` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

$(VENV)/installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

.PHONY: setup serve grade test release
setup: $(VENV)/installed

serve: setup
	$(VENV)/bin/convgrade serve --host 127.0.0.1 --port 8000

grade: setup
	$(VENV)/bin/convgrade grade solutions/a1_cross_correlation/a1_cross_correlation.ipynb

test: setup
	$(PY) -m pytest -q

release: setup
	$(VENV)/bin/convgrade release
