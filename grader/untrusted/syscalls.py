"""The seccomp filters that hold student code to the system calls it needs, and the one
fork that only the grader can make.

Two filters, both built with libseccomp (through pyseccomp) when this module is imported,
in the zygote, long before any student code runs, and kept as compiled BPF bytes:

* the **program filter** (`install_program_filter`), loaded in the process that runs the
  student's program (E). Default allow; it refuses (EPERM unless noted):
  - creating processes other than by fork: execve/execveat, the fork and vfork syscalls,
    clone without CLONE_THREAD unless its flags are exactly glibc fork()'s
    (SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID): posix_spawn and subprocess
    (CLONE_VM|CLONE_VFORK) and every hand-made clone are refused, threads stay (torch and
    CUDA start them); clone3 answers ENOSYS so glibc falls back to clone, where the flags can
    be read. Fork itself stays allowed on purpose: every process in the sandbox belongs to
    the student, so a filter that let only "the grader" fork would hold nobody (the student
    can run the grader's fork). The student's forks are bounded outside the filter: RLIMIT_NPROC
    on the submission's uid, the trusted side's sweep of every process it did not ask for,
    its memory watchdog over all of them, and SIGSTOP of every process but the one it talks
    to (grader.engine.sandbox). Allowing glibc's own pattern also means every fork runs glibc's and
    the libraries' atfork handlers (malloc's arena locks, OpenBLAS's pool) and CPython's
    after-fork step before any bytecode, so a fork with other threads alive leaves a
    runnable copy;
  - reaching other processes: ptrace, process_vm_readv/writev, pidfd_open/pidfd_getfd,
    kcmp, move_pages/migrate_pages;
  - residue that outlives the process or escapes the limits: SysV IPC (shm*, msg*, sem*),
    POSIX message queues, mknod/mknodat (a FIFO passes data through a read-only mount), and,
    without CUDA, memfd_create (a memfd holds memory outside RLIMIT_DATA, the tmpfs cap and
    every process's footprint once written with write()) and every MAP_SHARED mapping
    (writable shared memory would live on in every later fork and carry state from one
    check to the next; refused whatever the protection, since mprotect could add PROT_WRITE
    later);
  - the network: socket() of every family but AF_UNIX;
  - the kernel's own surface, as Docker's default profile and nsjail deployments refuse it:
    namespaces and mounts (setns, mount, umount2, pivot_root, chroot, the new mount API, and
    every unshare but of a PID or mount namespace alone: the two each check process gets,
    grader.untrusted.jail.fork_check and isolate_call; a mount namespace is of no use to a
    process that cannot mount, and a nested PID namespace stays inside the program's), io_uring (its requests bypass seccomp), bpf, keyring calls, userfaultfd,
    perf_event_open, kexec, modules, reboot, swap, acct, quotas, file handles, iopl/ioperm,
    personality other than 0, clock and syslog calls; prctl(PR_SET_DUMPABLE) (every
    process stays not dumpable: none of the uid can read another's memory or reopen its
    descriptors through /proc);
  - memory that comes without a page fault for each 4 KiB, which the memory watch would
    undercount: prctl(PR_SET_THP_DISABLE) (huge pages stay off, as `jail.lock_down` left
    them) and mmap with MAP_HUGETLB.
* the **call filter** (`install_call_filter`), stacked on top in each check's process (C)
  by the engine's code there (which the student can replace: it narrows what an honest C
  can do by accident; nothing relies on it): no clone without CLONE_THREAD at all, no unshare, no new socket, no
  signal to another process, no file lock (flock, fcntl locks: a lock is one bit another
  process can see), and no scheduling, priority or rlimit change aimed at another process
  (each is a value a same-uid process can read back).

Filters are loaded with the seccomp syscall and SECCOMP_FILTER_FLAG_TSYNC, so threads that
already exist (torch's, CUDA's) are held by them too. A filter can never be removed: not
by the process, not by its children, not with any in-process trick.
"""

import ctypes
import errno
import os
import tempfile
import warnings

import pyseccomp

SIGCHLD = 17
CLONE_THREAD = 0x00010000
CLONE_NEWNS, CLONE_NEWPID = 0x00020000, 0x20000000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x00200000, 0x01000000
FORK_FLAGS = SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID  # glibc fork()'s clone
AF_UNIX = 1
MAP_SHARED = 0x01  # MAP_SHARED_VALIDATE (0x03) has it too
F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 5, 6, 7, 36, 37, 38
F_SETLEASE = 1024
MAP_HUGETLB = 0x40000
SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC = 1, 1
PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_THP_DISABLE = 4, 38, 41

_SYS = {"munmap": 11, "prctl": 157, "seccomp": 317}  # x86_64

REFUSED_ALWAYS = (
    "execve", "execveat", "fork", "vfork",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "kcmp",
    "move_pages", "migrate_pages",
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "mknod", "mknodat",
    "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "bpf", "keyctl", "add_key", "request_key", "userfaultfd", "perf_event_open",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "name_to_handle_at", "open_by_handle_at", "iopl", "ioperm", "lookup_dcookie",
    "syslog", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "vhangup",
    "uselib", "ustat", "sysfs", "_sysctl", "fanotify_init",
)
# Aimed at another process (argument 0 is a pid, 0 meaning the caller): refused in C.
REFUSED_FOR_OTHERS_IN_CALLS = ("prlimit64", "sched_setaffinity", "sched_setscheduler",
                               "sched_setparam", "sched_setattr")
SIGNALS_TO_OTHERS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
                     "pidfd_send_signal")


def _eperm():
    return pyseccomp.ERRNO(errno.EPERM)


def _refuse_process_creation_except(f, pattern):
    """EPERM for every clone without CLONE_THREAD whose lower 32 flag bits are not `pattern`.

    libseccomp allows one comparison per argument in a rule, so "not a thread and not the
    pattern" becomes one rule per bit: a bit the pattern lacks is set, or a bit it has is
    clear, while CLONE_THREAD is clear. (The kernel ignores the upper 32 bits of clone's
    flags.) With pattern None, every non-thread clone is refused.
    """
    if pattern is None:
        f.add_rule(_eperm(), "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, CLONE_THREAD, 0))
        return
    for bit in (1 << i for i in range(32)):
        if bit == CLONE_THREAD:
            continue
        wanted = bit if not pattern & bit else 0
        f.add_rule(_eperm(), "clone", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, CLONE_THREAD | bit, wanted))


def _refuse_unshare_except(f, allowed):
    """EPERM for every unshare with a flag outside `allowed` (one rule per such bit; the
    kernel refuses any flag above the lower 32 bits itself)."""
    for bit in (1 << i for i in range(32)):
        if not allowed & bit:
            f.add_rule(_eperm(), "unshare", pyseccomp.Arg(0, pyseccomp.MASKED_EQ, bit, bit))


def _program_filter(cuda):
    f = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    for name in REFUSED_ALWAYS:
        f.add_rule(_eperm(), name)
    f.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    _refuse_process_creation_except(f, FORK_FLAGS)
    _refuse_unshare_except(f, CLONE_NEWPID | CLONE_NEWNS)
    f.add_rule(_eperm(), "socket", pyseccomp.Arg(0, pyseccomp.NE, AF_UNIX))
    f.add_rule(_eperm(), "personality", pyseccomp.Arg(0, pyseccomp.NE, 0))
    # Stays not dumpable (jail.lock_down): no process of the uid reads another's memory or
    # reopens its descriptors through /proc.
    f.add_rule(_eperm(), "prctl", pyseccomp.Arg(0, pyseccomp.EQ, PR_SET_DUMPABLE))
    # Pages stay 4 KiB, one per page fault, as the memory watch counts them
    # (grader.engine.containment._faults): huge pages stay off and none come from hugetlb.
    f.add_rule(_eperm(), "prctl", pyseccomp.Arg(0, pyseccomp.EQ, PR_SET_THP_DISABLE))
    f.add_rule(_eperm(), "mmap", pyseccomp.Arg(3, pyseccomp.MASKED_EQ, MAP_HUGETLB, MAP_HUGETLB))
    if not cuda:  # CUDA's driver maps its memory shared, through memfds among others
        f.add_rule(_eperm(), "memfd_create")
        f.add_rule(_eperm(), "mmap", pyseccomp.Arg(3, pyseccomp.MASKED_EQ, MAP_SHARED, MAP_SHARED))
    return f


def _call_filter():
    f = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    _refuse_process_creation_except(f, None)
    f.add_rule(_eperm(), "unshare")
    f.add_rule(_eperm(), "socket")
    f.add_rule(_eperm(), "flock")
    for command in (F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE):
        f.add_rule(_eperm(), "fcntl", pyseccomp.Arg(1, pyseccomp.EQ, command))
    for name in REFUSED_FOR_OTHERS_IN_CALLS:
        f.add_rule(_eperm(), name, pyseccomp.Arg(0, pyseccomp.NE, 0))
    f.add_rule(_eperm(), "setpriority", pyseccomp.Arg(1, pyseccomp.NE, 0))
    f.add_rule(_eperm(), "ioprio_set", pyseccomp.Arg(1, pyseccomp.NE, 0))
    for name in SIGNALS_TO_OTHERS:
        f.add_rule(_eperm(), name)
    return f


def _compiled(syscall_filter):
    with tempfile.TemporaryFile() as bpf:
        syscall_filter.export_bpf(bpf)
        bpf.seek(0)
        return bpf.read()


# Compiled once, here, while this process is still trusted (the zygote imports this module).
PROGRAM_FILTERS = {cuda: _compiled(_program_filter(cuda)) for cuda in (False, True)}
CALL_FILTER = _compiled(_call_filter())


# -- raw calls, captured before any student code exists --------------------------------

class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


# PyDLL, not CDLL: the GIL stays held across the call (seccomp's TSYNC, munmap of a range
# another thread could be using).
_syscall = ctypes.PyDLL(None).syscall
_syscall.restype = ctypes.c_long
# errno read through its address (one call, no ctypes errno bookkeeping).
_errno_location = ctypes.PyDLL(None).__errno_location
_errno_location.restype = ctypes.POINTER(ctypes.c_int)
_ulong = ctypes.c_ulong


def _errno():
    return _errno_location()[0]


def _raw(name, *args):
    result = _syscall(_ulong(_SYS[name]), *(_ulong(a) for a in args))
    if result == -1:
        code = _errno()
        raise OSError(code, f"{name}: {os.strerror(code)}")
    return result


def _prepared(bpf):
    """The sock_fprog the kernel reads, built once, in the zygote."""
    program = ctypes.create_string_buffer(bpf, len(bpf))
    return program, _SockFprog(len(bpf) // 8, ctypes.cast(program, ctypes.c_void_p))


_PREPARED = {"program": _prepared(PROGRAM_FILTERS[False]), "program-cuda": _prepared(PROGRAM_FILTERS[True]),
             "call": _prepared(CALL_FILTER)}


def _load(name):
    """Load one prepared filter for every thread of this process (it stacks on any before)."""
    _, fprog = _PREPARED[name]
    _raw("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # required without CAP_SYS_ADMIN; lock_down sets it too
    result = _syscall(_ulong(_SYS["seccomp"]), _ulong(SECCOMP_SET_MODE_FILTER),
                      _ulong(SECCOMP_FILTER_FLAG_TSYNC), ctypes.byref(fprog))
    if result != 0:
        code = _errno()
        raise OSError(code, f"seccomp: {os.strerror(code) if result == -1 else f'thread {result} cannot sync'}")


_shared_mappings_refused = False


def install_program_filter(cuda):
    """Hold this process (E, the student's program) to the program filter; see the module doc."""
    global _shared_mappings_refused
    _load("program-cuda" if cuda else "program")
    _shared_mappings_refused = not cuda


def shared_mappings_refused():
    """Whether this process holds the program filter that refuses every MAP_SHARED mapping
    (and its forks inherit it): then none can be made after it was installed."""
    return _shared_mappings_refused


def install_call_filter():
    """Stack the call filter on this process (C, one check): it can never create a process."""
    _load("call")


def grader_fork():
    """Fork this process (E) for a check: 0 in the child, its pid here.

    os.fork, i.e. glibc's fork() (whose clone pattern the program filter allows) with
    CPython's before/after-fork steps around it, all in C. Nothing else will do: a fork made
    through ctypes runs bytecode in the child before PyOS_AfterFork_Child, and when another
    thread was waiting for the interpreter lock at the fork instant, the child inherits its
    "drop the GIL" request and, at the first bytecode, waits forever for a thread that does
    not exist (drop_gil's switch_cond): that was the deadlock of notebooks that leave a busy
    thread running. Python 3.12 warns about forking a threaded process; that warning is the
    engine's business, not the student's, so it is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def munmap(address, length):
    """Unmap a range of this process's memory (jail.isolate_call uses it, after student code)."""
    _raw("munmap", address, length)
