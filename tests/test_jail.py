"""The kernel's confinement on its own: jail and syscalls, driven by tests/jail_harness.py
the way the engine drives them (lock_down, program filter, program; freeze; then
grader_fork, isolate_call, one check per fork).

Needs root (a uid of its own, namespaces, mounts); CI runs as root. About 40 s: four
harness runs, each a fresh Python that imports torch.
"""

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from grader.course.assignments import COURSE_DIR
from grader.engine.sandbox import UidLease

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's namespaces, mounts and uid need root")

HARNESS = Path(__file__).with_name("jail_harness.py")
MARK = f"jailtest-{uuid.uuid4().hex[:8]}"
MiB = 1 << 20
LIMITS = {"tmp_bytes": 8 * MiB, "cpu_seconds": 60, "memory_bytes": 384 * MiB, "file_bytes": 64 * MiB,
          "open_files": 64, "processes": 32}
EPERM, ENOSPC, EROFS, ENOSYS = 1, 28, 30, 38

# Raw system calls (x86_64 numbers), for snippets that
# use the harness's `libc`: they reach the kernel directly, whatever Python offers.
RAW = """
import ctypes, errno
NR = dict(ptrace=101, process_vm_readv=310, shmget=29, unshare=272, mount=165, bpf=321,
          io_uring_setup=425, perf_event_open=298, keyctl=250, pidfd_open=434, clone=56,
          clone3=435, setns=308, kcmp=312, mknodat=259, personality=135, memfd_create=319,
          kill=62, flock=73, prlimit64=302, prctl=157, mmap=9, pivot_root=155, chroot=161, init_module=175)
def sc(name, *args):
    r = libc.syscall(NR[name], *[ctypes.c_long(a) for a in args])
    return -ctypes.get_errno() if r == -1 else r
"""

PROGRAM = {
    "raw": RAW + "keep_sc = sc",
    "root": "result = sorted(os.listdir('/'))",
    "etc": "result = sorted(os.listdir('/etc'))",
    "checkout": f"result = sorted(os.listdir({str(COURSE_DIR)!r}))",
    "hidden": "result = [p for p in HIDDEN if os.path.lexists(p)]",
    "pids": "result = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())",
    "uid": "result = [os.getuid(), os.geteuid(), os.getgid()]",
    "fill_tmp": "open('/tmp/a', 'wb').write(b'x' * (5 << 20))\nopen('/dev/shm/b', 'wb').write(b'x' * (5 << 20))",
    "run_lock": f"os.makedirs('/run/lock', exist_ok=True)\nopen('/run/lock/{MARK}', 'w').write('left')\n"
                f"open('/tmp/{MARK}', 'w').write('left')\nopen('/var/tmp/{MARK}', 'w').write('left')\nresult = 'written'",
    "sysv_visible": "result = open('/proc/sysvipc/shm').read().splitlines()[1:]",
    "refused": "result = {n: keep_sc(n, *a) for n, a in [('ptrace', (0, 0, 0, 0)), ('shmget', (0, 4096, 0o1600)),"
               " ('unshare', (0x40000000,)), ('mount', (0, 0, 0, 0, 0)), ('bpf', (0, 0, 0)),"
               " ('io_uring_setup', (1, 0)), ('perf_event_open', (0, 0, -1, -1, 0)), ('keyctl', (0, 0)),"
               " ('pidfd_open', (1, 0)), ('setns', (0, 0)), ('kcmp', (1, 1, 0, 0, 0)), ('personality', (0x0040000,)),"
               " ('process_vm_readv', (1, 0, 0, 0, 0, 0)), ('mknodat', (-100, 0, 0o10600, 0)),"
               " ('pivot_root', (0, 0)), ('chroot', (0,)), ('init_module', (0, 0, 0))]}",
    "clone3": "result = keep_sc('clone3', 0, 0)",
    "memfd": "result = keep_sc('memfd_create', 0, 0)",
    # Huge pages back 2 MiB with one page fault, where the memory watch counts 4 KiB a fault:
    # turning them back on, asking for them (MADV_HUGEPAGE, MADV_COLLAPSE over written memory)
    # and hugetlb mappings.
    "huge_pages": "libc.mmap.restype = ctypes.c_void_p\n"
                  "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\n"
                  "def smaps_huge():\n"
                  "    return sum(int(l.split()[1]) for l in open('/proc/self/smaps') if l.startswith('AnonHugePages:'))\n"
                  "area = libc.mmap(None, 64 << 20, 3, 0x22, -1, 0)\n"
                  "aligned = (area + (2 << 20) - 1) & ~((2 << 20) - 1)\n"
                  "advised = libc.madvise(ctypes.c_void_p(aligned), 32 << 20, 14)\n"
                  "ctypes.memset(aligned, 1, 32 << 20)\n"
                  "collapsed = libc.madvise(ctypes.c_void_p(aligned), 32 << 20, 25)\n"
                  "result = {'still_off': keep_sc('prctl', 42, 0, 0, 0, 0), 'turn_on': keep_sc('prctl', 41, 0, 0, 0, 0),"
                  " 'hugetlb': keep_sc('mmap', 0, 2 << 20, 3, 0x22 | 0x40000, -1, 0),"
                  " 'collapsed': collapsed, 'huge_kib': smaps_huge()}",
    "inodes": "os.mkdir('/tmp/inodes')\nmade = 0\ntry:\n    while made < 100000:\n"
              "        os.close(os.open(f'/tmp/inodes/{made}', os.O_CREAT | os.O_WRONLY))\n        made += 1\n"
              "except OSError as e:\n    result = [made, e.errno]\nimport shutil\nshutil.rmtree('/tmp/inodes')",
    "fork": "pid = os.fork()\nif pid == 0:\n    os._exit(7)\nresult = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])",
    "vfork_pattern": "result = keep_sc('clone', 0x4000 | 0x100 | 17, 0, 0, 0, 0)",
    "untraced_pattern": "result = keep_sc('clone', 0x00800000 | 17, 0, 0, 0, 0)",
    "subprocess": "import subprocess\nsubprocess.run(['/usr/bin/true'])",
    "posix_spawn": "os.posix_spawn('/usr/bin/true', ['true'], {})",
    "multiprocessing": "import multiprocessing\np = multiprocessing.Process(target=print)\np.start()\np.join()\n"
                       "result = p.exitcode",
    "execv": "os.execv('/usr/bin/true', ['true'])",
    "inet": "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)",
    "unix": "import socket\nresult = socket.socket(socket.AF_UNIX).family == socket.AF_UNIX",
    "shared_mmap": "import mmap\nmmap.mmap(-1, 4096)",
    "torch": "x = torch.randn(1, 1, 8, 8, requires_grad=True)\n"
             "torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3)).sum().backward()\nresult = x.grad.shape[-1]",
    "memory_bomb": "blocks = []\ntry:\n    while len(blocks) < 64:\n        blocks.append(bytearray(32 << 20))\n"
                   "except MemoryError:\n    pass\nresult = 32 * len(blocks)\ndel blocks",
    "ballast": "keep_ballast = bytearray(160 << 20)\nkeep_file = open('/tmp/a', 'rb')\nkeep_fd = keep_file.fileno()\n"
               "import signal\nsignal.signal(signal.SIGUSR1, lambda *a: None)\nsignal.setitimer(signal.ITIMER_REAL, 1000)\n"
               "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})\nresult = keep_fd",
}

CHECK = {
    "writes": "out = {}\nfor d in ('/tmp', '/dev/shm', '/run', '/var/tmp', '/tmp/work'):\n"
              "    try:\n        open(d + '/check', 'w')\n        out[d] = 'written'\n"
              "    except OSError as e:\n        out[d] = e.errno\nresult = out",
    "reads_program_file": "result = len(open('/tmp/a', 'rb').read())",
    "fds": "result = {}\nfor f in os.listdir('/proc/self/fd'):\n    try:\n"
           "        result[f] = os.readlink('/proc/self/fd/' + f)\n    except OSError:\n        pass",
    "shared_maps": "result = [l for l in open('/proc/self/maps') if l.split()[1][3] == 's']",
    "signals": "import signal\nresult = [int(signal.getsignal(signal.SIGUSR1)), signal.getitimer(signal.ITIMER_REAL)[0],"
               " sorted(signal.pthread_sigmask(signal.SIG_BLOCK, []))]",
    "fork_pattern": "result = keep_sc('clone', 0x01200011, 0, 0, 0, 0)",
    "os_fork": "os.fork()",
    "unix_socket": "import socket\nsocket.socket(socket.AF_UNIX)",
    "kill": "result = [keep_sc('kill', 1, 0), keep_sc('kill', os.getpid(), 0)]",
    "flock": "import fcntl\nfcntl.flock(open('/tmp/a', 'rb'), fcntl.LOCK_EX)",
    "prlimit_other": "result = keep_sc('prlimit64', 1, 7, 0, 0)",
    "thread": "import threading\nt = threading.Thread(target=lambda: None)\nt.start()\nt.join()\nresult = 'ok'",
    "torch": PROGRAM["torch"],
    "memory": PROGRAM["memory_bomb"],
}

# Python introspection is the student's own business in their own process (honest libraries
# read frames, tracebacks and the heap); what would matter is refused by the kernel.
INTROSPECTION_RUNS = {
    "getframe": "import sys\nresult = sys._getframe().f_code.co_filename",
    "tb_frame": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    result = e.__traceback__.tb_frame.f_lineno",
    "gc_objects": "import gc\nresult = len(gc.get_objects()) > 0",
    "settrace": "import sys\nsys.settrace(lambda *a: None)\nsys.settrace(None)\nresult = 'ok'",
    "set_code": "def f():\n    pass\nf.__code__ = (lambda: 1).__code__\nresult = f()",
    "import_ctypes": "import ctypes\nresult = ctypes.CDLL(None).getpid() > 0",
    "namedtuple_typevar_logging": "import collections, typing, logging\ncollections.namedtuple('P', 'x y')\n"
                                  "typing.TypeVar('T')\nlogging.getLogger('x').warning('logged')\nresult = 'ok'",
}
KERNEL_STILL_REFUSES = {"system": "result = os.system('true')"}  # no execve


def harness(request, uid):
    request = {"limits": {**LIMITS, "uid": uid}, **request}
    done = subprocess.run([sys.executable, str(HARNESS)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(COURSE_DIR)})
    assert done.returncode == 0 and done.stdout.strip(), done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def courses():
    """Courses laid out as README says (submitted/<student>/), under /tmp and beside the checkout."""
    made = []
    for parent in (tempfile.gettempdir(), str(COURSE_DIR.parent)):
        course = Path(tempfile.mkdtemp(prefix="course-", dir=parent))
        for path in ("submitted/alice/a1_cross_correlation/a1_cross_correlation.ipynb",
                     "autograde_tests/a1/test_a1.py", "solutions/a1/a1.ipynb", "data/grades.db"):
            (course / path).parent.mkdir(parents=True, exist_ok=True)
            (course / path).write_text("secret")
        made.append(course)
    yield made
    subprocess.run(["rm", "-rf", *map(str, made)], check=True)


@pytest.fixture(scope="module")
def sysv_segment():
    """A SysV shared memory segment of the host's: no sandbox may see it."""
    created = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True, check=True)
    shmid = created.stdout.split()[-1]
    yield shmid
    subprocess.run(["ipcrm", "-m", shmid], check=False)


def _sandbox_processes(uid):
    listing = subprocess.run(["ps", "-eo", "uid=,pid="], capture_output=True, text=True).stdout.split("\n")
    return [line for line in listing if line.split()[:1] == [str(uid)]]


@pytest.fixture(scope="module")
def kernel(courses, sysv_segment):
    """One program and one check under the filters, reaching the kernel through raw syscalls."""
    lease = UidLease.take()
    try:
        hidden = [str(COURSE_DIR / d) for d in ("autograde_tests", "solutions", "tests", ".git", "data")]
        hidden += [str(c / d) for c in courses for d in ("", "submitted", "autograde_tests")]
        program = {"hidden": f"HIDDEN = {hidden!r}\n" + PROGRAM["hidden"], **{k: v for k, v in PROGRAM.items() if k != "hidden"}}
        report = harness({"program": program, "checks": [CHECK]}, lease.uid)
        report["left_processes"] = _sandbox_processes(lease.uid)
    finally:
        lease.release()
    return report


def test_lock_down_applies_fully_and_quickly(kernel):
    assert kernel["weakened"] == [] and kernel["freeze"] == []
    assert kernel["lock_down_seconds"] < 0.25, kernel["lock_down_seconds"]  # ~15-40 ms here; a loaded CI box is slower


def test_root_holds_only_the_allow_list(kernel, courses):
    program = kernel["program"]
    assert set(program["root"]) <= {"dev", "etc", "lib", "lib64", "proc", "run", "tmp", "usr", "var",
                                    "root", "home", "opt", "work", "srv"} | {Path(sys.prefix).parts[1]}, program["root"]
    assert set(program["etc"]) == {"group", "hosts", "ld.so.cache", "localtime", "passwd"}
    assert set(program["checkout"]) <= {"grader", ".venv"}, program["checkout"]
    assert program["hidden"] == [], program["hidden"]
    assert program["pids"] == [1], "a PID namespace of its own"
    assert program["uid"][0] >= UidLease.FIRST_UID and program["uid"][0] == program["uid"][1]


def test_tmp_is_private_capped_and_gone_afterwards(kernel):
    assert kernel["program"]["fill_tmp"].startswith("OSError: [Errno 28]"), "one 8 MiB cap for /tmp and /dev/shm together"
    assert kernel["program"]["run_lock"] == "written"
    for leftover in (f"/run/lock/{MARK}", f"/tmp/{MARK}", f"/var/tmp/{MARK}"):
        assert not os.path.exists(leftover)


def test_no_sysv_ipc_seen_or_made(kernel):
    assert kernel["program"]["sysv_visible"] == [], "the host's segment is in another IPC namespace"
    assert kernel["program"]["refused"]["shmget"] == -EPERM
    owners = subprocess.run(["ipcs", "-m", "-c"], capture_output=True, text=True).stdout
    assert not any(f" {uid} " in owners for uid in range(UidLease.FIRST_UID, UidLease.FIRST_UID + UidLease.COUNT))


def test_kernel_surface_refused(kernel):
    refused = kernel["program"]["refused"]
    assert all(code == -EPERM for code in refused.values()), refused
    assert kernel["program"]["clone3"] == -ENOSYS, "glibc falls back to clone, whose flags the filter reads"
    assert kernel["program"]["memfd"] == -EPERM, "a memfd would hold memory outside every limit"
    assert kernel["program"]["inodes"][1] == ENOSPC and kernel["program"]["inodes"][0] < 4096, \
        kernel["program"]["inodes"]


def test_every_page_comes_with_a_page_fault_of_its_own(kernel):
    """No huge pages: the memory watch charges 4 KiB a page fault (containment._faults)."""
    huge = kernel["program"]["huge_pages"]
    assert huge["still_off"] == 1 and huge["turn_on"] == -EPERM, huge
    assert huge["hugetlb"] == -EPERM and huge["collapsed"] == -1 and huge["huge_kib"] == 0, huge


@pytest.mark.parametrize("way", ["subprocess", "posix_spawn", "execv"])
def test_no_program_is_executed(kernel, way):
    assert "Errno 1]" in str(kernel["program"][way]), kernel["program"][way]


def test_fork_is_glibc_fork_only(kernel):
    """The program may fork (its processes are held from outside: grader.engine.containment), the
    way glibc and CPython do it, so that a fork with threads alive leaves a runnable copy;
    every other clone that makes a process is refused."""
    assert kernel["program"]["fork"] == 7
    assert kernel["program"]["multiprocessing"] == 0
    assert kernel["program"]["vfork_pattern"] == -EPERM
    assert kernel["program"]["untraced_pattern"] == -EPERM


def test_network_and_shared_memory(kernel):
    assert "Errno 1]" in kernel["program"]["inet"]
    assert kernel["program"]["unix"] is True
    assert "Errno 1]" in kernel["program"]["shared_mmap"], "MAP_SHARED is refused without CUDA"


def test_memory_bomb_stopped_by_the_data_limit(kernel):
    assert 64 <= kernel["program"]["memory_bomb"] <= 384, kernel["program"]["memory_bomb"]
    assert kernel["program"]["torch"] == 8


def test_check_cannot_write_anywhere(kernel):
    check = kernel["checks"][0]
    assert check["writes"] == {d: EROFS for d in ("/tmp", "/dev/shm", "/run", "/var/tmp", "/tmp/work")}, check["writes"]
    assert check["reads_program_file"] == 5 << 20


def test_check_starts_clean(kernel):
    check, program_fd = kernel["checks"][0], kernel["program"]["ballast"]
    assert "/tmp/a" not in check["fds"].values() and len(check["fds"]) <= 5, (program_fd, check["fds"])
    assert check["shared_maps"] == []
    assert check["signals"] == [0, 0.0, []], "handlers, timers and mask reset"


def test_check_cannot_create_processes_or_reach_others(kernel):
    check = kernel["checks"][0]
    assert check["fork_pattern"] == -EPERM, "the call filter refuses even glibc fork's pattern"
    assert "Errno 1]" in check["os_fork"]
    assert "Errno 1]" in check["unix_socket"]
    assert check["kill"] == [-EPERM, -EPERM]
    assert "Errno 1]" in check["flock"]
    assert check["prlimit_other"] == -EPERM
    assert check["thread"] == "ok" and check["torch"] == 8


def test_memory_over_program_and_check_stays_bounded(kernel):
    """The check inherits the program's 160 MiB: what it can add keeps the sum under the limit."""
    assert kernel["checks"][0]["memory"] <= 384 - 160 + 32, kernel["checks"][0]["memory"]


def test_no_process_left(kernel):
    assert kernel["left_processes"] == []


def test_shared_memory_of_the_program_is_unmapped_in_checks():
    """With CUDA, MAP_SHARED is allowed in the program; isolate_call removes it from each check."""
    lease = UidLease.take()
    try:
        program = {"map": "import mmap\nkeep_map = mmap.mmap(-1, 4096)\nkeep_map[:1] = b'E'\nresult = 'mapped'",
                   "earlier_sandbox": f"result = [os.path.exists(p) for p in ('/tmp/{MARK}', '/run/lock/{MARK}')]"}
        check = {"shared_maps": CHECK["shared_maps"]}
        report = harness({"cuda": True, "program": program, "checks": [check, check]}, lease.uid)
    finally:
        lease.release()
    assert report["program"] == {"map": "mapped", "earlier_sandbox": [False, False]}
    assert report["checks"] == [{"shared_maps": []}] * 2


def test_introspection_runs_and_processes_stay_refused_by_the_kernel():
    lease = UidLease.take()
    try:
        report = harness({"program": {**INTROSPECTION_RUNS, **KERNEL_STILL_REFUSES}}, lease.uid)
    finally:
        lease.release()
    program = report["program"]
    assert program["getframe"] == "<cell getframe>" and program["tb_frame"] == 4
    assert program["gc_objects"] is True and program["set_code"] == 1 and program["import_ctypes"] is True
    assert program["settrace"] == program["namedtuple_typevar_logging"] == "ok"
    assert program["system"] != 0, program["system"]  # no execve (a fork is allowed and held from outside)


def test_without_the_filter_the_same_snippets_succeed():
    """The refusals above come from the filter: without it, the same calls go through."""
    lease = UidLease.take()
    try:
        program = {"raw": RAW + "keep_sc = sc", "inet": PROGRAM["inet"] + "\nresult = 'socket'",
                   "shm": "result = keep_sc('shmget', 0, 4096, 0o1600) >= 0",
                   "fork": "pid = os.fork()\nif pid == 0:\n    os._exit(0)\nresult = os.waitpid(pid, 0)[1]"}
        report = harness({"filter": False, "program": program}, lease.uid)
    finally:
        lease.release()
    assert report["program"] == {"raw": None, "inet": "socket", "shm": True, "fork": 0}, report["program"]


def test_freeze_makes_the_file_system_itself_read_only():
    """A directory handle and a working directory inside the scratch space, kept from before
    the freeze by a check process that skips isolate_call: both refuse writes (EROFS), since
    the tmpfs's superblock is read-only. A file the program left open for writing is moved
    off the file system by the engine (release_writable_files), so the remount is allowed."""
    lease = UidLease.take()
    try:
        program = {"handles": "keep_dir = os.open('/tmp', os.O_RDONLY | os.O_DIRECTORY)\n"
                              "keep_log = open('/tmp/log', 'w')\nkeep_log.write('x')\nos.chdir('/tmp/work')"}
        check = {"through_dir": "import errno\ntry:\n    os.open('x', os.O_CREAT | os.O_WRONLY, dir_fd=keep_dir)\n"
                                "    result = 'written'\nexcept OSError as e:\n    result = e.errno",
                 "through_cwd": "try:\n    open('relative', 'w')\n    result = 'written'\nexcept OSError as e:\n"
                                "    result = e.errno",
                 "through_log": "try:\n    keep_log.write('y')\n    keep_log.flush()\n    result = 'written'\n"
                                "except (OSError, ValueError) as e:\n    result = type(e).__name__"}
        released = harness({"release": True, "isolate": False, "program": program,
                            "checks": [check]}, lease.uid)
        kept = harness({"release": False, "isolate": False, "program": program,
                        "checks": [check]}, lease.uid)
    finally:
        lease.release()
    assert released["freeze"] == [], released["freeze"]
    assert released["checks"][0]["through_dir"] == EROFS and released["checks"][0]["through_cwd"] == EROFS
    assert released["checks"][0]["through_log"] != "written"
    # Without the engine's release, the kernel refuses the remount; the weaker freeze says so.
    assert any("could not be made read-only" in w for w in kept["freeze"]), kept["freeze"]
