#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu base).
# It makes a Python 3.11 virtualenv in /autograder/venv and installs the grader's pinned
# dependencies (requirements.txt, from convgrade's docker/requirements.lock; torch is the
# CPU build).
#
# Environment (for testing or a mirror; Gradescope sets none of these):
#   CONVGRADE_AUTOGRADER_ROOT  instead of /autograder
#   CONVGRADE_PYTHON           a Python 3.11 to build the venv from (default: python3.11)
#   CONVGRADE_WHEELHOUSE       install offline from this folder of wheels (pip --no-index --find-links)
#   CONVGRADE_TORCH_INDEX      where torch's CPU wheels are (default: PyTorch's CPU index)
#   CONVGRADE_PIP_ARGS         more pip install arguments
# Keep pip's byte-compiling: without .pyc files every sandboxed run compiles torch again.
set -euo pipefail
ROOT="${CONVGRADE_AUTOGRADER_ROOT:-/autograder}"
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${CONVGRADE_PYTHON:-python3.11}"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    if ! apt-get install -y -q python3.11 python3.11-venv; then
        # Ubuntu releases without 3.11 in their archive: the deadsnakes PPA has it.
        apt-get install -y -q software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update -q
        apt-get install -y -q python3.11 python3.11-venv
    fi
fi

# The sandbox's system-call filter (pyseccomp) loads libseccomp.
if ! ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2'; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libseccomp2 || { apt-get update -q && apt-get install -y -q libseccomp2; }
fi

"$PYTHON" -m venv "$ROOT/venv"
if [ -n "${CONVGRADE_WHEELHOUSE:-}" ]; then
    source_args=(--no-index --find-links "$CONVGRADE_WHEELHOUSE")
else
    source_args=(--extra-index-url "${CONVGRADE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}")
fi
"$ROOT/venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    "${source_args[@]}" ${CONVGRADE_PIP_ARGS:-} -r "$SOURCE/requirements.txt"
"$ROOT/venv/bin/python" -c "import torch; print('convgrade autograder: torch', torch.__version__, 'installed')"
