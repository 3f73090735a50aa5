"""scripts/device-check.sh, the one command for a GPU machine, runs green without CUDA.

CI has no GPU: here the script says CUDA is absent and runs its CPU half. This test runs
the quick parts (reference solutions, stubs, a warm grade) through the real sandbox, so a
change that breaks the script is seen before someone carries it to a GPU. The corpus and
red-team parts are the suites CI runs anyway (tests/test_corpus.py, tests/test_redteam.py).
About 100 s on 2 vCPUs, so it runs with `-m slow`.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


# Slow (100 s in CI): its parts are the reference and stub gradings test_corpus runs anyway;
# `pytest -m slow` runs it (on a GPU machine, scripts/device-check.sh runs with CUDA itself).
@pytest.mark.slow
def test_device_check_runs_green_without_cuda(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path), "PARTS": "reference stubs warm-grade"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "device-check.sh")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    print(proc.stdout, proc.stderr)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split()[:2] for line in lines] == [
        ["INFO", "machine"], ["PASS", "reference"], ["PASS", "stubs"], ["PASS", "warm-grade"], ["PASS", "total"]]
    if not torch.cuda.is_available():
        assert "CUDA absent" in lines[0]
    assert all(" passed" in line and "failed" not in line for line in lines[1:3])
