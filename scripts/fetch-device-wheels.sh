#!/usr/bin/env bash
# Fetch, here (where an index is reachable), the wheels the grading core needs on the GPU
# machine and that its image lacks: nbformat and its closure (fastjsonschema, jsonschema,
# jsonschema-specifications, referencing, rpds-py, attrs, traitlets, jupyter_core,
# platformdirs, typing-extensions), pyseccomp (the sandbox's filters; it loads the
# system's libseccomp.so.2) and IPython with its closure (the sandbox runs each cell in
# IPython's shell; all pure Python). That machine has Python 3.12, torch, numpy, pytest,
# hypothesis, safetensors, jinja2 and requests, and no network. About 9 MB.
#
#   scripts/fetch-device-wheels.sh                 # into .device-wheels/ (git-ignored)
#   DEVICE_PYTHON=3.11 scripts/fetch-device-wheels.sh  # for another interpreter
#
# Then carry `.device-wheels` to the GPU machine; scripts/device-check.sh installs them
# what is missing there with `pip install --no-index`.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEVICE_WHEELS:-.device-wheels}
DEVICE_PYTHON=${DEVICE_PYTHON:-3.12}
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
# The only third-party packages of the grading core the GPU image does not hold.
REQUIREMENTS=("nbformat>=5.9" "pyseccomp>=0.1.2" "ipython>=8.18")

mkdir -p "$DEST"
# --only-binary with explicit platforms: pip picks rpds-py's cp312 manylinux wheel
# (its one compiled part) however this machine's own Python differs.
"$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
    --python-version "$DEVICE_PYTHON" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST" "${REQUIREMENTS[@]}" 2> >(grep -v 'is ignored: it is neither' >&2 || true)
echo "$DEST: $(ls "$DEST"/*.whl | wc -l) wheels, $(du -sh "$DEST" | cut -f1) (Python $DEVICE_PYTHON)"
