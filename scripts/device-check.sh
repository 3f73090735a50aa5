#!/usr/bin/env bash
# The CUDA half of the suites, as one command for a GPU machine (and its CPU half anywhere).
#
#   bash scripts/device-check.sh
#
# Runs the grading core from this source tree (PYTHONPATH; nothing of the service is
# installed) under the machine's own python3 and torch, through the real sandbox: the
# reference solutions (full marks), the released stubs (zero), the whole corpus including
# its `# needs: cuda` entries, the red-team suites, and the time of a warm grade. Where
# CUDA is absent it says so and runs the same parts on the CPU alone. One line per part:
#
#   PASS reference   6 passed in 41.2s (devices: cpu cuda)
#
# The GPU machine has no network: scripts/fetch-device-wheels.sh, run beforehand where an
# index is reachable, puts the core's missing wheels (nbformat and its closure) into
# .device-wheels/, which travels as a carried path; what is missing here is installed
# from it with `pip install --no-index`.
#
# Environment: PYTHON (default python3), DEVICE_WHEELS (default .device-wheels),
#              PART_TIMEOUT seconds per part (default 300), OUT (a folder for the logs),
#              PARTS (default "reference stubs corpus redteam warm-grade": a subset runs
#              only those), JOBS (pytest-xdist processes for the corpus where xdist is
#              installed; default half the cores, at most 6), WARM_ASSIGNMENT (default
#              a5_lenet: the two networks, where a GPU matters most).
# Exit status 0 only when every part passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WHEELS=${DEVICE_WHEELS:-.device-wheels}
PART_TIMEOUT=${PART_TIMEOUT:-300}
LOGS=${OUT:-$(mktemp -d /tmp/convgrade-device-logs.XXXXXX)}
mkdir -p "$LOGS"
started=$(date +%s)
failures=0
PARTS=" ${PARTS:-reference stubs corpus redteam warm-grade} "
wanted() { [[ $PARTS == *" $1 "* ]]; }

line() { printf '%-4s %-10s %s\n' "$1" "$2" "$3"; }

# -- the core's packages: the machine's own, plus the carried wheels for what it lacks ----
# Installed into the interpreter's own environment (a throwaway machine): the sandbox's
# template process gets only the package root on its PYTHONPATH, so pyseccomp must be
# importable from the environment itself. pip installs only what is missing.
missing=$("$PYTHON" - <<'PY'
import importlib.util
print(" ".join(dist for dist, module in (("nbformat", "nbformat"), ("pyseccomp", "pyseccomp"))
               if importlib.util.find_spec(module) is None))
PY
)
if [ -n "$missing" ]; then
    if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
        line FAIL setup "$missing missing and $WHEELS/ holds no wheels (scripts/fetch-device-wheels.sh)"
        exit 1
    fi
    # shellcheck disable=SC2086
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-index --no-compile \
        --find-links "$WHEELS" $missing > "$LOGS/setup.log" 2>&1 || {
        line FAIL setup "pip install --no-index $missing from $WHEELS failed: $(tail -n 3 "$LOGS/setup.log" | tr '\n' ' ')"
        exit 1
    }
    line INFO setup "installed $missing from $WHEELS"
fi
export PYTHONPATH="$PWD:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

about=$("$PYTHON" - <<'PY'
import sys, torch
cuda = torch.cuda.is_available()
name = torch.cuda.get_device_name(0) if cuda else "CUDA absent: the CPU half only"
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, {name}")
PY
) || { line FAIL setup "python or torch does not start"; exit 1; }
cuda=0
case "$about" in *"CUDA absent"*) ;; *) cuda=1 ;; esac
line INFO machine "$about"

# One pytest run per part; its summary line ("6 passed in 41.20s") is the part's line.
part() {
    local name=$1; shift
    wanted "$name" || return 0
    local log="$LOGS/$name.log"
    timeout --kill-after=10 "$PART_TIMEOUT" "$PYTHON" -m pytest -q -p no:cacheprovider -rs "$@" > "$log" 2>&1
    local status=$?
    local summary
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)' "$log" | tail -n 1 | tr -d '=' | sed 's/^ *//')
    [ $status -eq 124 ] && summary="timed out after ${PART_TIMEOUT}s; $summary"
    if [ $status -eq 0 ]; then
        line PASS "$name" "$summary"
    else
        failures=$((failures + 1))
        line FAIL "$name" "${summary:-exit $status}: $(grep -E '^(FAILED|ERROR)' "$log" | head -n 3 | tr '\n' ' ')"
    fi
}

part reference tests/test_corpus.py -k test_reference_solution_scores_full_marks
part stubs     tests/test_corpus.py -k test_released_stubs_score_zero
# The corpus is most of the time: spread it over cores where pytest-xdist is there (the
# sandbox's uid leases are taken across processes).
jobs=${JOBS:-$(( $(nproc) / 2 > 6 ? 6 : $(nproc) / 2 ))}
parallel=()
if [ "$jobs" -gt 1 ] && "$PYTHON" -c 'import xdist' 2>/dev/null; then parallel=(-n "$jobs"); fi
part corpus    "${parallel[@]}" tests/test_corpus.py -k 'corpus_entry or corpus_covers or every_check'
if [ $cuda = 1 ] && wanted corpus; then
    # On a GPU no corpus entry may be skipped: the `# needs: cuda` ones must have run.
    skipped=$(grep -Eo '[0-9]+ skipped' "$LOGS/corpus.log" | tail -n 1)
    if [ -n "$skipped" ]; then
        failures=$((failures + 1)); line FAIL cuda-corpus "$skipped with CUDA present"
    else
        line PASS cuda-corpus "$(grep -c 'needs: cuda' -r tests/corpus) entries marked '# needs: cuda' ran"
    fi
fi
redteam=(tests/test_redteam.py)
[ -f tests/test_redteam_round2.py ] && redteam+=(tests/test_redteam_round2.py)
part redteam "${redteam[@]}"

wanted warm-grade || { line "$([ $failures = 0 ] && echo PASS || echo FAIL)" total "$failures part(s) failed"; [ $failures = 0 ]; exit; }
# A warm grade: the first grade starts the sandbox template and imports the suites, the
# next ones are what a student waits for.
timing=$(WARM_ASSIGNMENT=${WARM_ASSIGNMENT:-a5_lenet} timeout "$PART_TIMEOUT" "$PYTHON" - <<'PY' 2> "$LOGS/warm.log"
import os, time
from grader.engine import grading
from submissions import make_submission

assignment = os.environ["WARM_ASSIGNMENT"]
notebook = make_submission(assignment)
start = time.monotonic(); grading.warm_up(); grading.grade(notebook, assignment)
cold = time.monotonic() - start
times = []
for _ in range(3):
    start = time.monotonic()
    result = grading.grade(notebook, assignment)
    times.append(time.monotonic() - start)
    assert result["score"] == result["max_score"] > 0, result
print(f"{assignment} {result['score']}/{result['max_score']} on {' '.join(result['devices'])}: "
      f"cold {cold:.1f}s, warm {min(times):.2f}s best of 3 (median {sorted(times)[1]:.2f}s)")
PY
)
if [ $? -eq 0 ] && [ -n "$timing" ]; then
    line PASS warm-grade "$timing"
else
    failures=$((failures + 1)); line FAIL warm-grade "$(tail -n 3 "$LOGS/warm.log" | tr '\n' ' ')"
fi

line "$([ $failures = 0 ] && echo PASS || echo FAIL)" total "$failures part(s) failed in $(( $(date +%s) - started ))s; logs in $LOGS"
[ $failures = 0 ]
