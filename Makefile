# Two entry points for a fresh machine (README.md): `make serve` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The grader and the tests: the server extra and the test tools. Installing builds the
# JupyterLab extension (setup.py, with node); without node it is left out and its tests skip.
$(VENV)/installed: pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@if command -v node >/dev/null; then $(PY) -m pip install -q -e '.[server,dev]'; \
	else echo "node is not installed: the JupyterLab extension is not built (tests/test_lab.py skips)"; \
		CONVGRADE_SKIP_LABEXTENSION=1 $(PY) -m pip install -q -e '.[server,dev]'; fi
	touch $@

# The JupyterLab extension (labextension/, TypeScript) is built with JupyterLab's own toolchain
# (jlpm, from the jupyterlab package) into grader/doors/lab/labextension/, which the wheel ships
# prebuilt. Rebuilt only when its sources or lock file change; skipped where node is absent.
LABEXT_BUILT := grader/doors/lab/labextension/package.json
LABEXT_SOURCES := $(wildcard labextension/src/*.ts labextension/style/* labextension/schema/*) \
	labextension/package.json labextension/yarn.lock labextension/tsconfig.json
LABEXT_LINKED := $(VENV)/share/jupyter/labextensions/convgrade

$(LABEXT_BUILT): $(LABEXT_SOURCES) | $(VENV)/installed
	@if command -v node >/dev/null; then \
		cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable \
		&& PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build; \
	else echo "node is not installed: the JupyterLab extension is not built (tests/test_lab.py skips)"; fi

# The editable install copied the build into .venv once; link it instead, so a rebuild of the
# sources (`make labextension`) is what JupyterLab loads.
$(LABEXT_LINKED): $(LABEXT_BUILT)
	@if [ -f $(LABEXT_BUILT) ]; then \
		mkdir -p $(dir $@) $(VENV)/etc/jupyter/jupyter_server_config.d $(VENV)/etc/jupyter/labconfig/page_config.d \
		&& rm -rf $@ && ln -sfn $(CURDIR)/grader/doors/lab/labextension $@ \
		&& cp grader/doors/lab/jupyter-config/convgrade.json $(VENV)/etc/jupyter/jupyter_server_config.d/ \
		&& cp grader/doors/lab/jupyter-config/labconfig/convgrade.json $(VENV)/etc/jupyter/labconfig/page_config.d/; fi

# JupyterHub's proxy, for tests/test_hub.py only (so `make test` installs it, not `make serve`):
# an npm package from the npm registry, kept inside the venv. Where it cannot be installed, npm's
# own error is shown and that one test skips.
HUB_PROXY := $(VENV)/chp/node_modules/.bin/configurable-http-proxy
$(HUB_PROXY): | $(VENV)/installed
	@if ! command -v npm >/dev/null; then \
		echo "npm is not installed: no configurable-http-proxy (tests/test_hub.py skips)"; \
	elif ! npm install --no-audit --no-fund --loglevel=error --prefix $(VENV)/chp --no-save --no-package-lock \
		configurable-http-proxy@5.3.0; then \
		echo "configurable-http-proxy could not be installed from the npm registry (npm's error above): tests/test_hub.py skips"; fi

# The student's package: one wheel with the JupyterLab extension built in (setup.py's hook).
wheel: | $(VENV)/installed
	$(PY) -m pip wheel --no-deps -w dist .
	@ls dist/convgrade-*.whl

# docs/lab-panel.png, docs/course-home.png and docs/mistake-groups.png, taken by the browser tests in real Chromium.
screenshots: setup
	CONVGRADE_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q tests/test_lab.py -k wrong_answer
	CONVGRADE_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q tests/test_course.py -k gradebook_downloaded
	CONVGRADE_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q tests/test_groups.py -k chromium
	CONVGRADE_UPDATE_SCREENSHOT=1 $(PY) -m pytest -q tests/test_hints.py -k lab_panel

.PHONY: setup serve grade test release labextension wheel screenshots
setup: $(VENV)/installed $(LABEXT_LINKED)

labextension: $(LABEXT_LINKED)

serve: setup
	$(VENV)/bin/convgrade serve --host 127.0.0.1 --port $(PORT)

grade: setup
	$(VENV)/bin/convgrade grade solutions/a1_cross_correlation/a1_cross_correlation.ipynb

# The layer contracts first (pyproject.toml [tool.importlinter], docs/architecture.md): an
# import that points up a layer, or an import circle, fails before any test runs.
test: setup $(HUB_PROXY)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q --durations=30

release: setup
	$(VENV)/bin/convgrade release
