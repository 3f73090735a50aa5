# Two entry points for a fresh machine (README.md): `make serve` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python

$(VENV)/installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The JupyterLab extension (labextension/, TypeScript) is built with JupyterLab's own toolchain
# (jlpm, from the jupyterlab package) into grader/lab/labextension/, which the wheel ships
# prebuilt. Rebuilt only when its sources or lock file change; skipped where node is absent.
LABEXT_BUILT := grader/lab/labextension/package.json
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/style/* labextension/schema/*) \
	labextension/package.json labextension/yarn.lock labextension/tsconfig.json
LABEXT_LINKED := $(VENV)/share/jupyter/labextensions/convgrade

$(LABEXT_BUILT): $(LABEXT_SOURCES) | $(VENV)/installed
	@if command -v node >/dev/null; then \
		cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable \
		&& PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build; \
	else echo "node is not installed: the JupyterLab extension is not built (tests/test_lab.py skips)"; fi

# An editable install does not copy data-files: link the build where a wheel would put it.
$(LABEXT_LINKED): $(LABEXT_BUILT)
	@if [ -f $(LABEXT_BUILT) ]; then \
		mkdir -p $(dir $@) $(VENV)/etc/jupyter/jupyter_server_config.d \
		&& ln -sfn $(CURDIR)/grader/lab/labextension $@ \
		&& cp grader/lab/jupyter-config/convgrade.json $(VENV)/etc/jupyter/jupyter_server_config.d/; fi

# JupyterHub's proxy, for tests/test_hub.py: an npm package, kept inside the venv.
HUB_PROXY := $(VENV)/chp/node_modules/.bin/configurable-http-proxy
$(HUB_PROXY): | $(VENV)/installed
	@if command -v npm >/dev/null; then \
		npm install --silent --prefix $(VENV)/chp --no-save --no-package-lock configurable-http-proxy@5.3.0; \
	else echo "npm is not installed: no configurable-http-proxy (tests/test_hub.py skips)"; fi

.PHONY: setup serve grade test release labextension
setup: $(VENV)/installed $(LABEXT_LINKED) $(HUB_PROXY)

labextension: $(LABEXT_LINKED)

serve: setup
	$(VENV)/bin/convgrade serve --host 127.0.0.1 --port 8000

grade: setup
	$(VENV)/bin/convgrade grade solutions/a1_cross_correlation/a1_cross_correlation.ipynb

test: setup
	$(PY) -m pytest -q

release: setup
	$(VENV)/bin/convgrade release
