"""Round-3 attacks: a student who has read every line of the grader gains nothing over an
honest student who makes the same mistake openly, holds no more than one submission's
memory, and carries nothing from one check to the next.

The rule the engine is held to: every process in the sandbox is the student's. So these
attacks assume the student reaches everything in the sandbox's processes (the engine's own
modules through `__main__`, sys.modules or the heap, its fork, its wire encoder) and use it.

Each attack is an a1 notebook in tests/redteam3/ (its answer cells; see the README there),
graded through grader.engine.grading.grade in the real sandbox, next to its honest twin:

1. a forbidden convolution, hidden (torch.conv_tbc, torch._C._DisableTorchDispatch, the
   dispatch stack's length as a sign of being watched, a second thread, another exercise's
   function, a computed name, torch.ops.aten) against an open F.conv2d;
2. points for what the sandbox says about itself (X.__class__ swapped so that .detach() hands
   back a saved copy, a module's named_parameters and state_dict that lie, an exception whose
   text says "does not require grad") against the same mistakes made plainly;
3. NaN in place of values (a NaN corr2d and Conv2D, a learn_edge_kernel that ignores lr and
   answers NaN at lr=0 or adds 4e-5 of jitter) against finite wrong values, and a corr2d
   that returns None against the stub that raises;
4. hidden inputs predicted (the seed read back from torch's and numpy's generators, the
   forward cases rebuilt; or their public shapes recognised) to forge "its own corr2d",
   against which Conv2D's forward is judged;
5. the grader's machinery (its fork, memfds, tmpfs inodes, copy-on-write; a thread and a
   helper writing into the frozen /tmp through a handle opened before the freeze and
   counting the check processes by name): nothing gained, nothing kept, and the
   submission's memory never more than its limit;
6. the trusted process obeying the sandbox's numbers (a reported parameter shape that sizes
   the grader's allocations, a reply naming the dtype `_inductor`) and the message given
   when the sandbox refuses the grader's own message.

Attacks that run in the program print a marker when a step succeeds (BREACHES); a marker in
the result's stdout (or in a check's message, for a check process) is a breach. About 3
minutes on two busy cores (23 gradings).
"""

import functools
import os
import re
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.engine.grading import grade, warm_up
from grader.engine.sandbox import Limits, Zygote
from submissions import dumps, make_submission

A1 = "a1_cross_correlation"
LIMITS = Limits(call_seconds=5, program_seconds=20, submission_seconds=40, memory_bytes=512 << 20)
ATTACKS = Path(__file__).parent / "redteam3"
SEED = 20261202  # fixed, so an attack and its twin face the same hidden inputs
MIB = 1 << 20
# (HELPER_FORKED is a step, not a breach: a fork during the program is honest multiprocessing;
# the helper must be gone before the checks, which the markers below would show.)
BREACHES = ("HELPER_HOLDS", "MEMFD_HELD", "INODES_ALL_MADE", "WROTE_FROZEN_TMP",
            "STATE_CARRIED")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids and namespaces need root")


@pytest.fixture(scope="module", autouse=True)
def warm_grader():
    """The zygote's start (torch and the suites imported once) is not an attack's time."""
    warm_up()


# -- notebooks ---------------------------------------------------------------------

def answer_cells(name):
    """{grade_id: source} of tests/redteam3/<name>.py, its `# include:` files pasted in."""
    text = _with_includes((ATTACKS / f"{name}.py").read_text())
    cells = {}
    for match in re.finditer(r"^# cell: (\S+)\n(.*?)(?=^# cell: |\Z)", text, re.MULTILINE | re.DOTALL):
        cells[match.group(1)] = cells.get(match.group(1), "") + match.group(2)
    if not cells:
        raise ValueError(f"{name}: no '# cell: <grade_id>' section")
    return cells


def _with_includes(text):
    return re.sub(r"^# include: (\S+)\n",
                  lambda m: _with_includes((ATTACKS / f"{m.group(1)}.py").read_text()) + "\n",
                  text, flags=re.MULTILINE)


@functools.lru_cache(maxsize=None)
def graded(name, reference=True):
    """The result of grading notebook `name` (the reference solution, or with reference=False
    the released stubs, in the cells it does not answer); each notebook is graded once."""
    notebook = make_submission(A1, answer_cells(name), reference=reference)
    started = time.monotonic()
    result = grade(notebook, A1, limits=LIMITS, seed=SEED)
    assert time.monotonic() - started < LIMITS.submission_seconds + 20, dumps(result)
    return result


def points(result, exercise):
    return sum(t["score"] for t in result["tests"] if t["exercise"] == exercise)


def max_points(result, exercise):
    return sum(t["max_score"] for t in result["tests"] if t["exercise"] == exercise)


def passed(result, exercise):
    return sorted(t["id"] for t in result["tests"] if t["exercise"] == exercise and t["status"] == "passed")


def assert_no_gain(attack, honest, exercise):
    """The attack earns no more for `exercise` than the honest twin, which must itself lose
    points there (else the comparison proves nothing)."""
    assert points(honest, exercise) < max_points(honest, exercise), dumps(honest)
    gained = sorted(set(passed(attack, exercise)) - set(passed(honest, exercise)))
    assert points(attack, exercise) <= points(honest, exercise), (
        f"{exercise}: the attack earns {points(attack, exercise)}, its honest twin "
        f"{points(honest, exercise)}; checks only the attack passes: {gained}")


def breaches(result):
    """Markers of a step that succeeded: printed by the program (its stdout comes back), or
    returned by a check's call (a check process cannot print; the check's message shows what
    the call returned)."""
    texts = [result.get("stdout", "")] + [t.get("output") or "" for t in result["tests"]]
    return [line[:200] for text in texts for line in text.splitlines()
            if any(marker in line for marker in BREACHES)]


# -- 1. a forbidden convolution, hidden ----------------------------------------------

HIDDEN_CONVOLUTIONS = ["conv_tbc", "dispatch_disabled", "probe_detected", "second_thread",
                       "other_exercise_convolves", "computed_name", "torch_ops_aten"]


@pytest.mark.parametrize("name", HIDDEN_CONVOLUTIONS)
def test_hidden_convolution_earns_no_more_than_an_open_f_conv2d(name):
    # the other exercises left as stubs: only corr2d is compared, and stubs grade fast
    assert_no_gain(graded(name, reference=False), graded("honest_corr2d_f_conv2d", reference=False), "corr2d")


# -- 2. what the sandbox says about itself --------------------------------------------

SELF_REPORTS = {
    "corr2d": "X.__class__ swapped: .detach() hands the engine a saved copy of X",
    "Conv2D": "plain tensors behind a named_parameters() and state_dict() that call them parameters",
    "learn_edge_kernel": "an attached kernel whose backward raises 'does not require grad'",
}


# What no value the trusted side receives can show: no check pays for it (the point went to a
# behaviour the check still judges), so the honest twin loses nothing there and the attack
# has nothing to gain.
UNOBSERVABLE = {
    "learn_edge_kernel": "whether the returned kernel is detached shows only inside the sandbox (its "
                         "backward, the requires_grad its reply reports); the check pays for the (1, 2) shape",
}


@pytest.mark.parametrize("exercise", sorted(SELF_REPORTS))
def test_what_the_sandbox_says_about_itself_earns_nothing(exercise):
    attack, honest = graded("self_reports"), graded("honest_self_reports")
    if exercise in UNOBSERVABLE:
        assert points(honest, exercise) == max_points(honest, exercise), (UNOBSERVABLE[exercise], dumps(honest))
        assert points(attack, exercise) <= points(honest, exercise), dumps(attack)
        return
    assert_no_gain(attack, honest, exercise)


# -- 3. NaN in place of values --------------------------------------------------------

NAN_PAIRS = [
    ("nan_fill", "honest_fill", "corr2d"),               # NaN corr2d vs one that returns 7s
    ("nan_fill", "honest_fill", "Conv2D"),               # NaN Conv2D (and its own corr2d NaN) vs 7s
    ("nan_fill", "honest_fill", "learn_edge_kernel"),    # ignores lr, NaN at lr=0
    ("nan_conv2d_and_jitter", "honest_conv2d_fill", "Conv2D"),             # NaN Conv2D, right corr2d
    ("nan_conv2d_and_jitter", "honest_conv2d_fill", "learn_edge_kernel"),  # ignores lr, 4e-5 jitter
]


@pytest.mark.parametrize("attack, honest, exercise", NAN_PAIRS)
def test_nan_earns_no_more_than_a_finite_wrong_value(attack, honest, exercise):
    assert_no_gain(graded(attack), graded(honest), exercise)


def test_a_non_answer_earns_no_more_than_the_stub():
    """`return None` is the stub without its exception: the checks that look only for one
    wrong value ("not flipped", "does not modify X") must not pay for an answer never given."""
    assert_no_gain(graded("non_answer", reference=False), graded("honest_stub", reference=False), "corr2d")


# -- 4. hidden inputs predicted --------------------------------------------------------

@pytest.mark.parametrize("name", ["seed_rebuilt", "shapes_recognised"])
def test_a_forged_own_corr2d_earns_conv2d_nothing(name):
    """Conv2D's forward is wrong off the course's example in both; the attack's corr2d
    recognises the hidden forward cases (rebuilt from the seed it reads back, or by their
    public shapes) and returns there what that forward returns, and torch's values elsewhere."""
    assert_no_gain(graded(name), graded("honest_conv2d_doubled"), "Conv2D")


# -- 5. the grader's machinery ---------------------------------------------------------

def _children():
    children = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(pid))
    return children


def sandbox_processes():
    """Every process under this grader's zygote: the submission's, whatever it forked."""
    children, found = _children(), []
    todo = list(children.get(Zygote.shared().pid, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _private_bytes(pid):
    """The pages only this process holds (copy-on-write copies included)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            text = rollup.read()
    except OSError:
        return 0
    return sum(int(v) * 1024 for v in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+) kB", text, re.MULTILINE))


def _meminfo():
    with open("/proc/meminfo") as meminfo:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in meminfo}


class SubmissionMemory:
    """The memory the submission holds, sampled while it is graded: the private pages of
    every process under the zygote, plus the machine's growth in shared memory (memfds,
    tmpfs files) and in kernel slab (tmpfs inodes) since grading began."""

    def __init__(self):
        self.peak, self.parts, self._stop = 0, {}, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self.baseline = _meminfo()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def grown(self):
        now = _meminfo()
        return {key: max(0, now[key] - self.baseline[key]) for key in ("Shmem", "Slab")}

    def _sample(self):
        while not self._stop.wait(0.1):
            parts = {"private": sum(_private_bytes(pid) for pid in sandbox_processes()), **self.grown()}
            if sum(parts.values()) > self.peak:
                self.peak, self.parts = sum(parts.values()), parts


def mib(n):
    return f"{n / MIB:.0f} MiB"


def assert_nothing_kept(memory):
    """Within a few seconds of the result, no process, shared memory or inode is left."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = sandbox_processes()
        grown = memory.grown()
        if not left and all(value < 64 * MIB for value in grown.values()):
            return
        time.sleep(0.2)
    assert not left, f"processes left: {left}"
    assert all(value < 64 * MIB for value in grown.values()), {k: mib(v) for k, v in grown.items()}


@as_root
def test_memory_beyond_the_limit_through_forks_memfds_inodes_and_copy_on_write():
    """Two 256 MiB helpers from the grader's own fork, 24 memfds of 16 MiB, 100,000 empty
    files, and a 384 MiB buffer (under the limit) of which each check writes its own copy:
    about 2 GiB attempted against a 512 MiB limit. An honest notebook holds about 15 MiB
    here (its processes share the zygote's pages)."""
    with SubmissionMemory() as memory:
        result = grade(make_submission(A1, answer_cells("hold_memory"), reference=False), A1,
                       limits=LIMITS, seed=SEED)
    slack = 256 * MIB  # the sampler's view of a machine other programs use too
    held = (f"the submission held {mib(memory.peak)} against a limit of {mib(LIMITS.memory_bytes)} ("
            + ", ".join(f"{k} {mib(v)}" for k, v in memory.parts.items()) + f"); markers: {breaches(result)}")
    assert memory.peak <= LIMITS.memory_bytes + slack, held
    assert result["score"] == 0, dumps(result)
    assert not breaches(result), held
    assert_nothing_kept(memory)


@as_root
def test_no_state_crosses_from_one_check_to_the_next():
    """A thread left in the program's process and a helper forked with the grader's fork count
    the check processes by name and write the count into the frozen /tmp through a directory
    handle opened before the freeze; each check reads it back."""
    with SubmissionMemory() as memory:
        result = graded("carry_state", reference=False)
    assert not breaches(result), breaches(result)
    assert result["score"] == 0, dumps(result)
    assert_nothing_kept(memory)


# -- 6. the trusted process and the sandbox's numbers ------------------------------------

def _vm(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field + ":"))


@functools.lru_cache(maxsize=None)
def measured(name):
    """(result, growth of this grading process's peak memory, modules it imported) for notebook
    `name`, graded in this process: the process that makes every verdict."""
    graded("honest_corr2d_f_conv2d", reference=False)  # a grading first: what any grading imports is imported
    before_modules, before_rss = set(sys.modules), _vm("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # the peak (VmHWM) starts again from here
    result = graded(name)
    return result, _vm("VmHWM") - before_rss, sorted(set(sys.modules) - before_modules)


def test_trusted_side_numbers_earn_nothing():
    attack, honest = measured("trusted_side")[0], measured("honest_trusted_side")[0]
    for exercise in ("corr2d", "Conv2D"):
        assert_no_gain(attack, honest, exercise)


def test_a_reported_parameter_shape_does_not_size_the_graders_memory():
    """Conv2D reports a weight of (n, kh, kw), n * kh * kw * 4 bytes just over 256 MiB, backed
    by one float in the sandbox; the grader must not build a tensor of that size."""
    _, attack_growth, _ = measured("trusted_side")
    _, honest_growth, _ = measured("honest_trusted_side")
    assert attack_growth <= honest_growth + 64 * MIB, (
        f"the grading process grew by {mib(attack_growth)} (its honest twin: {mib(honest_growth)})")


def test_a_reply_cannot_make_the_grader_import_modules():
    """A reply naming the dtype `_inductor`: the trusted side must not look it up in torch's namespace."""
    _, _, attack_modules = measured("trusted_side")
    _, _, honest_modules = measured("honest_trusted_side")
    imported = f"the grading process imported {len(attack_modules)} modules: {attack_modules[:8]} ..."
    assert "torch._inductor" not in attack_modules, imported
    assert len(attack_modules) <= len(honest_modules) + 5, imported


def test_a_refused_grader_message_is_not_called_the_students_crash():
    """The grader's own message (the claimed 256 MiB weight, sent to load it) is over the
    sandbox's cap: the student's process did not die of anything it did, and must not be told so."""
    result = measured("trusted_side")[0]
    claims = [t["id"] for t in result["tests"] if "died (os._exit" in (t.get("output") or "")]
    assert not claims, [t["output"] for t in result["tests"] if t["id"] in claims]
