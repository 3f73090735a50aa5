"""No check process can tell which check it is, and every byte the submission holds is counted.

Each notebook is an a1 notebook graded through grader.engine.grading.grade in the real
sandbox (docs/sandbox.md lists what a check process can observe and how each is made the
same). Judged from outside: the result, and the machine's /proc/meminfo read while it grades.

1. A corr2d that reports, in every call, what its process sees of itself (pid, ppid, process
   group, threads, descriptors, the /proc it can list, rlimits): one report for every check.
2. A mark in the pid counter: a corr2d that, when it finds no mark (a low pid), starts and
   joins 600 threads and answers wrong, and answers right once its pid shows the mark, earns
   no more than the corr2d that always answers wrong.
3. Page tables: 1.4 TiB of read-only memory touched once every 2 MiB (2.8 GiB of page tables
   and no page of RSS): refused by the address-space limit or ended with the budget's
   message, the machine never short of more than the budget; and the watchdog's measures
   count a process's page tables.
4. Copy-on-write: a 1.2 GiB ballast that every call writes (E's copy and the check process's
   copy, 2.4 GiB) under a 2 GiB budget: charged, and ended with the budget's message.
5. The order checks run in (a4 notebooks): the same seed runs the same order and gives the
   same result; other seeds, other orders; a pool2d that leaves out its in-place mistake only
   when the clock says the in-place check is running (learned from a grading under another
   seed) earns no more than the twin that makes the mistake openly.

Needs root (a uid of its own, namespaces); CI runs as root. About 2 minutes on two busy cores.
"""

import dataclasses
import functools
import json
import os
import re
import subprocess
import sys
import threading

import pytest

from grader.engine import containment
from grader.engine.grading import grade, warm_up
from grader.engine.sandbox import Limits, Sandbox
from submissions import dumps, make_submission, reference_answers

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's namespaces and uid need root")

A1 = "a1_cross_correlation"
MiB, GiB = 1 << 20, 1 << 30
LIMITS = Limits(call_seconds=10, program_seconds=40, submission_seconds=90, memory_bytes=512 * MiB)
SEED = 20261207

CORRECT = """
def _correct(X, K):
    import torch
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
"""

# What a process can read about itself without asking anyone; the clocks are left out
# (docs/sandbox.md: they advance with the wall clock, which no namespace stops).
SELF_REPORT = CORRECT + """
import os, resource, threading

def _seen():
    with open("/proc/self/stat") as f:
        stat = f.read().rsplit(")", 1)[1].split()
    with open("/proc/self/status") as f:
        status = {l.split(":")[0]: l.split(":", 1)[1].strip() for l in f}
    limits = [resource.getrlimit(getattr(resource, n)) for n in sorted(dir(resource)) if n.startswith("RLIMIT_")]
    return (os.getpid(), os.getppid(), os.getpgrp(), os.getsid(0), threading.active_count(),
            threading.get_native_id(), os.readlink("/proc/self"), sorted(os.listdir("/proc/self/fd")),
            sorted(e for e in os.listdir("/proc") if e.isdigit()), status["NSpid"], status["Threads"],
            stat[1], stat[2], stat[3], stat[17], limits)

def corr2d(X, K):
    raise ValueError(f"SEEN {_seen()!r} END")
"""

# The mark: the first check process pushes its PID namespace's counter with 600 short-lived
# threads (RLIMIT_NPROC allows them one at a time); a later one that shares the counter
# reads its own pid as the sign to answer right.
PID_COUNTER_MARK = CORRECT + """
import os, threading

def corr2d(X, K):
    if os.getpid() > 500:
        return _correct(X, K)
    for _ in range(600):
        t = threading.Thread(target=int)
        t.start()
        t.join()
    return _correct(X, K).flip(0)
"""

# The check processes E forks in one burst exist together, each stopped until its check:
# a corr2d that tries to wake, signal or find its neighbours (every pid it can name, its
# process group, every process of its uid) and reports what it reached.
REACH_NEIGHBOURS = CORRECT + """
import os, signal

def corr2d(X, K):
    reached = []
    for pid in [-1, 0, *range(2, 4097)]:
        for sig in (signal.SIGCONT, signal.SIGUSR1):
            try:
                os.kill(pid, sig) if pid else os.killpg(0, sig)
                reached.append((pid, int(sig)))
            except OSError:
                pass
    listed = sorted(e for e in os.listdir("/proc") if e.isdigit())
    raise ValueError(f"SEEN {reached!r} {listed!r} END")
"""

ALWAYS_WRONG = CORRECT + """
def corr2d(X, K):
    return _correct(X, K).flip(0)
"""

# One byte read every 2 MiB of a read-only private mapping: each read maps the zero page (no
# RSS) and costs a 4 KiB page table. Where the address space is limited, as much as it allows.
PAGE_TABLES = CORRECT + """
import mmap, time
_held, _size = [], 1400 << 30
while _size >= 64 << 20:
    try:
        _held.append(mmap.mmap(-1, _size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000,
                               prot=mmap.PROT_READ))  # 0x4000: MAP_NORESERVE
    except (OSError, MemoryError, OverflowError):
        _size //= 2
        continue
    _held[-1][::2 << 20]
print("MAPPED", sum(len(m) for m in _held) >> 20, "MiB", flush=True)
time.sleep(5)
"""

# A ballast under the budget in E that every call writes: each check process holds a copy.
COPY_ON_WRITE = CORRECT + """
_ballast = bytearray(b"a") * (1200 << 20)

def corr2d(X, K):
    _ballast[::4096] = b"b" * len(range(0, len(_ballast), 4096))
    return _correct(X, K)
"""


@pytest.fixture(scope="module", autouse=True)
def warm_grader():
    warm_up()


@functools.lru_cache(maxsize=None)
def graded(source, limits=LIMITS):
    return grade(make_submission(A1, {"corr2d": source}), A1, limits=limits, seed=SEED)


def points(result, exercise):
    return sum(t["score"] for t in result["tests"] if t["exercise"] == exercise)


class MemAvailable:
    """The machine's MemAvailable and PageTables, sampled every 20 ms while the block runs."""

    def __init__(self):
        self.before = self.read()
        self.lowest, self.tables = self.before["MemAvailable"], self.before["PageTables"]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def read():
        with open("/proc/meminfo") as meminfo:
            return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in meminfo}

    def _sample(self):
        while not self._stop.wait(0.02):
            now = self.read()
            self.lowest = min(self.lowest, now["MemAvailable"])
            self.tables = max(self.tables, now["PageTables"])

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def drop(self):
        return self.before["MemAvailable"] - self.lowest

    @property
    def tables_grown(self):
        return self.tables - self.before["PageTables"]


def reports(result):
    """What each check's process reported of itself, one per check that called corr2d (the
    notebook's own cells, which call it in the program's process, report in the notes)."""
    texts = [t.get("output") or "" for t in result["tests"]]
    return [m.group(1) for text in texts for m in re.finditer(r"SEEN (.*?) END", text, re.DOTALL)]


def test_every_check_process_sees_the_same_process():
    result = graded(SELF_REPORT)
    seen = reports(result)
    checks = [t for t in result["tests"] if "SEEN" in (t.get("output") or "")]
    assert len(checks) >= 5, dumps(result)
    assert len(set(seen)) == 1, "\n".join(sorted(set(seen)))
    pid, ppid = eval(seen[0])[:2]  # noqa: S307  (our own notebook's repr of ints and strings)
    assert (pid, ppid) == (1, 0), seen[0]


def test_a_check_reaches_none_of_the_check_processes_forked_with_it(monkeypatch):
    """E forks the check processes of a one-threaded notebook `Sandbox.BURST` at a time, so
    while a check runs the next ones may exist, stopped: none can be signalled, woken or seen."""
    bursts, burst = [], Sandbox._burst
    monkeypatch.setattr(Sandbox, "_burst", lambda self: bursts.append(burst(self)) or bursts[-1])
    result = graded(REACH_NEIGHBOURS, limits=dataclasses.replace(LIMITS, memory_bytes=2 * GiB))
    assert max(bursts) == Sandbox.BURST, bursts
    seen = reports(result)
    assert len(seen) >= 5, dumps(result)
    assert set(seen) == {"[] ['1']"}, "\n".join(sorted(set(seen)))
    assert "ran while the grader had stopped it" not in dumps(result)


def test_a_mark_in_the_pid_counter_earns_nothing():
    attack, honest = graded(PID_COUNTER_MARK), graded(ALWAYS_WRONG)
    assert points(honest, "corr2d") < sum(t["max_score"] for t in honest["tests"] if t["exercise"] == "corr2d")
    assert points(attack, "corr2d") <= points(honest, "corr2d"), (dumps(attack), dumps(honest))
    assert attack["score"] <= honest["score"], (attack["score"], honest["score"])


def _budget_message(result):
    return "of memory in total across its processes" in json.dumps(result)


def test_page_tables_count_against_the_budget():
    """Ended by the watchdog, or its page tables held to a few MiB by the address space it may
    map (where CUDA may run, the watchdog alone: the test below); the machine loses no more
    than the budget either way."""
    with MemAvailable() as memory:
        result = graded(PAGE_TABLES)
    mapped = re.search(r"MAPPED (\d+) MiB", result.get("stdout", ""))
    tables = int(mapped.group(1)) * MiB // 512 if mapped else None  # a 4 KiB table per 2 MiB
    assert _budget_message(result) or (tables is not None and tables < 64 * MiB), (tables, dumps(result))
    margin = 384 * MiB  # the watchdog's 50 ms between looks, and the rest of a shared machine
    assert memory.drop < LIMITS.memory_bytes + margin, (
        f"MemAvailable fell by {memory.drop / MiB:.0f} MiB, page tables grew by "
        f"{memory.tables_grown / MiB:.0f} MiB; {result.get('stdout', '')[:300]}")


def test_the_watchdog_counts_page_tables():
    """A process that holds 128 MiB of page tables and no page of its own is charged them."""
    touch = ("import mmap, sys\n"
             "m = mmap.mmap(-1, 64 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000, prot=mmap.PROT_READ)\n"
             "m[::2 << 20]\nprint('ready', flush=True)\nsys.stdin.read()\n")
    with subprocess.Popen([sys.executable, "-c", touch], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout.readline().strip() == "ready"
        cheap, exact = containment.upper_bound([holder.pid]), containment.exact([holder.pid])
        holder.stdin.close()
    assert cheap > 120 * MiB and exact > 120 * MiB, (cheap / MiB, exact / MiB)


def test_pages_a_check_copies_on_write_are_charged():
    limits = Limits(call_seconds=20, program_seconds=60, submission_seconds=120, memory_bytes=2 * GiB)
    with MemAvailable() as memory:
        result = graded(COPY_ON_WRITE, limits)
    assert _budget_message(result), dumps(result)
    assert memory.drop < limits.memory_bytes + 512 * MiB, f"MemAvailable fell by {memory.drop / MiB:.0f} MiB"


# -- the order checks run in (docs/sandbox.md: how late a check runs says nothing) ------------

A4 = "a4_pooling"
# The test suite's secret is fixed, so each seed's order is too: with it, the in-place check
# runs 12th under CALIBRATION_SEED and 1st to 4th under A4_SEEDS (how often a seed puts it at
# a given place is a uniform shuffle's chance: tests/test_check_order.py).
CALIBRATION_SEED = 24
A4_SEEDS = (10, 11, 13)
IN_PLACE_CHECK = "test_does_not_modify_input"

# How late its process runs, as any check process can read it: the monotonic clock, from a
# reading the program took while the notebook ran.
LATENESS = """
import time as _time
_T0 = _time.monotonic()
"""

LATENESS_PROBE = LATENESS + """
def pool2d(X, *args, **kwargs):
    raise RuntimeError(f"LATE {_time.monotonic() - _T0!r} END")
"""


def _mutating_pool2d(behaves_when):
    """The reference pool2d with the in-place mistake (X changed after the answer is computed),
    left out whenever `behaves_when` (an expression in `late`, the seconds since the program) holds."""
    return reference_answers(A4)["pool2d"].replace("def pool2d(", "def _pool2d(") + LATENESS + f"""
def pool2d(X, *args, **kwargs):
    Y = _pool2d(X, *args, **kwargs)
    late = _time.monotonic() - _T0
    if not ({behaves_when}) and not X.requires_grad:
        X.add_(1)
    return Y
"""


@functools.lru_cache(maxsize=None)
def graded_a4(source, seed):
    return grade(make_submission(A4, {"pool2d": source}), A4, limits=LIMITS, seed=seed)


def lateness(result):
    """{check id: seconds after the program that its process first called pool2d}."""
    seen = {}
    for test in result["tests"]:
        found = re.search(r"LATE (\S+) END", test.get("output") or "")
        if found:
            seen[test["id"]] = float(found.group(1))
    return seen


def run_order(result):
    """The checks that called pool2d, in the order they ran."""
    seen = lateness(result)
    return sorted(seen, key=seen.get)


def test_the_same_seed_runs_the_checks_in_the_same_order():
    first, again = graded_a4(LATENESS_PROBE, A4_SEEDS[0]), lateness_probe_again(A4_SEEDS[0])
    assert len(run_order(first)) >= 10, dumps(first)
    assert run_order(first) == run_order(again)
    assert [(t["id"], t["score"]) for t in first["tests"]] == [(t["id"], t["score"]) for t in again["tests"]]


def lateness_probe_again(seed):
    return grade(make_submission(A4, {"pool2d": LATENESS_PROBE}), A4, limits=LIMITS, seed=seed)


def test_different_seeds_run_the_checks_in_different_orders():
    orders = [tuple(run_order(graded_a4(LATENESS_PROBE, seed))) for seed in (CALIBRATION_SEED, *A4_SEEDS)]
    assert len(set(orders)) == len(orders), orders
    canonical = [t["id"] for t in graded_a4(LATENESS_PROBE, CALIBRATION_SEED)["tests"]]
    assert all([t["id"] for t in graded_a4(LATENESS_PROBE, s)["tests"]] == canonical for s in A4_SEEDS)


def test_knowing_how_late_the_in_place_check_ran_earns_nothing():
    """The attack of a student who has read the suite: learn from one grading when the
    in-place check runs (a calibration whose pool2d is right everywhere and reports its
    lateness in the one check that passes it a 9 x 10 X), then leave the mistake out only
    around that moment, give or take an average check and a half. Under the other seeds it
    earns no more than the twin that makes the mistake openly."""
    calibration = lateness(graded_a4(_calibration_probe(), CALIBRATION_SEED))
    when = calibration[IN_PLACE_CHECK]
    ran_at = run_order(graded_a4(LATENESS_PROBE, CALIBRATION_SEED)).index(IN_PLACE_CHECK)
    margin = 1.5 * when / (ran_at + 1)
    attack = _mutating_pool2d(f"{when - margin!r} < late < {when + margin!r}")
    honest = _mutating_pool2d("False")
    for seed in A4_SEEDS:
        attacked, open_mistake = graded_a4(attack, seed), graded_a4(honest, seed)
        lost = {t["id"] for t in open_mistake["tests"] if t["score"] < t["max_score"]}
        assert lost == {IN_PLACE_CHECK}, dumps(open_mistake)
        runs_at = run_order(graded_a4(LATENESS_PROBE, seed)).index(IN_PLACE_CHECK)
        assert attacked["score"] <= open_mistake["score"], (seed, ran_at, runs_at, when, margin, dumps(attacked))


def _calibration_probe():
    return reference_answers(A4)["pool2d"].replace("def pool2d(", "def _pool2d(") + LATENESS + """
def pool2d(X, *args, **kwargs):
    if tuple(X.shape) == (9, 10):
        raise RuntimeError(f"LATE {_time.monotonic() - _T0!r} END")
    return _pool2d(X, *args, **kwargs)
"""
