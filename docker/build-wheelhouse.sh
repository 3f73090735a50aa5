#!/usr/bin/env bash
# Fill docker/wheelhouse/ with a wheel for every Python package the image installs, so
# the image build needs no network (the Dockerfile installs with --no-index from it).
#
#   docker/build-wheelhouse.sh                 # resolve under docker/requirements.lock
#   docker/build-wheelhouse.sh --update-lock   # re-resolve pyproject.toml's ranges afresh
#
# What goes in: [project].dependencies, the server extra and [build-system].requires of pyproject.toml,
# plus pip and wheel. The resolution is written to docker/requirements.lock (exact
# versions, the whole closure); with the lock present, versions already in it are kept,
# so one repository gives one wheelhouse and one image. A dependency added to
# pyproject.toml is resolved and added to the lock on the next run.
#
# Environment:
#   PYTHON      a CPython 3.11 with pip (default: .venv/bin/python, else python3.11, python3)
#   WHEELHOUSE  where to put the wheels (default docker/wheelhouse)
#   LOCK        the lock to keep and write (default docker/requirements.lock)
#   TORCH_REQUIREMENT  replaces pyproject.toml's torch pin, for the GPU image:
#               torch==2.14.1 (a CUDA build, on PyPI and on this disk; it brings its CUDA
#               libraries as nvidia-* wheels, ~3 GB in all)
#               WHEELHOUSE=docker/wheelhouse-cuda LOCK=docker/requirements-cuda.lock \
#               TORCH_REQUIREMENT=torch==2.14.1 docker/build-wheelhouse.sh
#   PIP_ARGS    extra pip arguments (another index, e.g. PyTorch's own for another CUDA)
#
# Run it on any linux x86_64 machine with CPython 3.11 that reaches a package index (or a
# mirror pip is configured for); copy the folder to an air-gapped machine to build there.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELHOUSE=${WHEELHOUSE:-docker/wheelhouse}
LOCK=${LOCK:-docker/requirements.lock}
if [ -z "${PYTHON:-}" ]; then
    for candidate in .venv/bin/python python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then PYTHON=$candidate; break; fi
    done
fi
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null || {
    echo "build-wheelhouse.sh: ${PYTHON:-python3} is not CPython 3.11 (the image's Python); set PYTHON=" >&2
    exit 1
}
# The oldest Python the image may have: Debian bookworm's 3.11.2 (python:3.11-slim has a
# newer 3.11). Versions whose Requires-Python excludes it are not chosen.
TARGET_PYTHON=${TARGET_PYTHON:-3.11.2}
update_lock=0
[ "${1:-}" = "--update-lock" ] && update_lock=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$WHEELHOUSE"

"$PYTHON" - "$work/requirements.txt" <<'PY'
import os, sys, tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)
lines = (list(project["project"]["dependencies"]) + list(project["project"]["optional-dependencies"]["server"])
         + list(project["build-system"]["requires"]))
torch = os.environ.get("TORCH_REQUIREMENT")  # the GPU image's torch (a CUDA build)
lines = [torch if torch and line.split("=")[0].strip() == "torch" else line for line in lines]
open(sys.argv[1], "w").write("\n".join(lines + ["pip", "wheel"]) + "\n")
PY

# Fast path: the lock already names every requirement and the wheelhouse holds every
# wheel of the lock. Nothing to resolve, nothing to fetch.
if [ "$update_lock" = 0 ] && [ -f "$LOCK" ] && [ -z "${PIP_ARGS:-}" ] && "$PYTHON" - "$work/requirements.txt" "$LOCK" "$WHEELHOUSE" <<'PY'
import pathlib, sys
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
pins = {}
hashed = True
for line in open(sys.argv[2]):
    if line.strip() and not line.startswith("#"):
        name, version = line.split()[0].split("==")
        pins[canonicalize_name(name)] = version
        hashed = hashed and "--hash=sha256:" in line
wanted = [Requirement(l.strip()) for l in open(sys.argv[1]) if l.strip()]
have = {(n, v.public) for n, v, _, _ in (parse_wheel_filename(w.name) for w in pathlib.Path(sys.argv[3]).glob("*.whl"))}
ok = all(canonicalize_name(r.name) in pins and r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)
         for r in wanted) and all((n, v) in have for n, v in pins.items()) and hashed
sys.exit(0 if ok else 1)
PY
then
    echo "wheelhouse $WHEELHOUSE already holds all $(grep -vc '^#' "$LOCK") wheels of $LOCK"
    exit 0
fi

# Keep the lock's versions of the packages it names (as constraints) unless re-resolving.
: > "$work/constraints.txt"
if [ "$update_lock" = 0 ]; then
    for lock in "$LOCK" docker/requirements.lock; do  # a new CUDA lock starts from the CPU one
        if [ -f "$lock" ]; then
            grep -v '^#' "$lock" | sed 's/ --hash.*//' | { [ -n "${TORCH_REQUIREMENT:-}" ] && grep -v '^torch==' || cat; } \
                > "$work/constraints.txt" || true
            break
        fi
    done
fi

quiet() {  # pip's complaints about a host's missing local index folders are noise here
    grep -v -e 'is ignored: it is neither a file nor a directory' >&2 || true
}

# Resolve for CPython $TARGET_PYTHON (wheels only: the image builds nothing), then add what a requirement's marker asks for on
# another CPython 3.11.x (Debian bookworm's is 3.11.2: redis wants async-timeout below
# 3.11.3), and resolve again, until nothing is missing.
for round in 1 2 3 4; do
    echo "resolving $(wc -l < "$work/requirements.txt") requirements (round $round)"
    # shellcheck disable=SC2086
    "$PYTHON" -m pip install --quiet --dry-run --ignore-installed --report "$work/report.json" \
        --python-version "$TARGET_PYTHON" --only-binary=:all: --target "$work/target" \
        -r "$work/requirements.txt" -c "$work/constraints.txt" ${PIP_ARGS:-} 2> >(quiet)
    missing=$("$PYTHON" - "$work/report.json" "$work/pins.txt" <<'PY'
import json, sys
from pip._vendor.packaging.markers import default_environment
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name

report = json.load(open(sys.argv[1]))
pins = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}
# A local label (torch 2.13.0+cpu) stays out of the lock: the wheel chosen carries it.
open(sys.argv[2], "w").write("".join(f"{n}=={v.split('+')[0]}\n" for n, v in sorted(pins.items())))
missing = set()
for full in ("3.11.0", "3.11.2", "3.11.99"):
    env = {**default_environment(), "python_version": "3.11", "python_full_version": full, "extra": ""}
    for item in report["install"]:
        for text in item["metadata"].get("requires_dist", []):
            req = Requirement(text)
            if canonicalize_name(req.name) not in pins and (req.marker is None or req.marker.evaluate(env)):
                missing.add(str(req.name) + str(req.specifier))
print("\n".join(sorted(missing)))
PY
)
    [ -z "$missing" ] && break
    echo "  also for other Python 3.11 releases: $(echo $missing)"
    echo "$missing" >> "$work/requirements.txt"
done

"$PYTHON" - "$WHEELHOUSE" "$work/pins.txt" > "$work/fetch.txt" <<'PY'
import pathlib, sys
from pip._vendor.packaging.utils import parse_wheel_filename
have = set()
for wheel in pathlib.Path(sys.argv[1]).glob("*.whl"):
    name, version, _, _ = parse_wheel_filename(wheel.name)
    have.add(f"{name}=={version.public}")
print("".join(line for line in open(sys.argv[2]) if line.strip() not in have), end="")
PY
if [ -s "$work/fetch.txt" ]; then
    echo "fetching $(wc -l < "$work/fetch.txt") of $(wc -l < "$work/pins.txt") wheels into $WHEELHOUSE"
    # `pip wheel` keeps wheels as they are and builds one for any package that ships
    # only a source archive, so the image build never compiles anything.
    # shellcheck disable=SC2086
    "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WHEELHOUSE" --find-links "$WHEELHOUSE" \
        -r "$work/fetch.txt" ${PIP_ARGS:-} 2> >(quiet)
else
    echo "all $(wc -l < "$work/pins.txt") wheels already in $WHEELHOUSE"
fi

# The lock names each wheel's sha256: the Dockerfile installs with --require-hashes, from
# this wheelhouse (air-gapped) or from the index (pip then takes the file with that hash).
{
    echo "# Exact versions of the image's Python packages, with the sha256 of each wheel: the"
    echo "# resolution of pyproject.toml's dependencies and build requirements. Written by"
    echo "# docker/build-wheelhouse.sh; the Dockerfile installs it with --require-hashes."
    echo "# Re-resolve with docker/build-wheelhouse.sh --update-lock."
    "$PYTHON" - "$WHEELHOUSE" "$work/pins.txt" <<'PY'
import hashlib, pathlib, sys
from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename
files = {}
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    name, version, _, _ = parse_wheel_filename(wheel.name)
    files.setdefault((name, str(version.public)), []).append(hashlib.sha256(wheel.read_bytes()).hexdigest())
for line in open(sys.argv[2]):
    name, version = line.strip().split("==")
    digests = files[(canonicalize_name(name), version)]
    print(f"{name}=={version} " + " ".join(f"--hash=sha256:{d}" for d in digests))
PY
} > "$work/lock"
if ! cmp -s "$work/lock" "$LOCK" 2>/dev/null; then
    cp "$work/lock" "$LOCK"
    echo "wrote $LOCK"
fi
echo "wheelhouse $WHEELHOUSE: $(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels, $(du -sh "$WHEELHOUSE" | cut -f1)"
