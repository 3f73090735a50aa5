"""Locking the sandbox down at the kernel: an allow-listed root, private namespaces, limits.

Three moments, three functions:

* `lock_down` runs once per submission, in the process the zygote forked, before any
  student code. It builds a root that holds nothing but what the sandbox needs, read-only:
  the Python installation (its lib dir, every site-packages / dist-packages on sys.path,
  the torch install among them; by their real paths, and every symbolic link on the way
  to them as Python names them, so a venv reached through a link imports lazily inside as
  it does outside), the paths the engine names (the `grader` package),
  /usr/lib and /lib (shared libraries), a generated /etc (passwd, group, hosts) with the
  host's ld.so.cache and localtime, a minimal /dev (null, zero, full, random, urandom, and
  the NVIDIA nodes when there are any), a fresh /proc of its own PID namespace. Nothing
  else exists: not the course directory, its hidden suites, solutions, tests, submitted/
  notebooks, data dir or .git, wherever they are checked out, not the host's /tmp, /run
  or home directories. One private tmpfs, capped at limits["tmp_bytes"] for all of them
  together, backs /tmp, /dev/shm, /run and /var/tmp. New mount, network (no interface but
  a down loopback), IPC (no SysV object of anyone else, none left behind), UTS and PID
  namespaces (the process that continues is pid 1 of its own namespace: when it dies,
  every process it left dies with it). Then rlimits (DATA; AS, above what the process holds
  by the budget and ADDRESS_SPACE_SLACK, but not where CUDA may reserve its ranges; CPU,
  NOFILE, FSIZE, CORE, NPROC per uid), the leased uid,
  no_new_privs, not dumpable (no other process of the uid may read its memory or follow
  its /proc links). Where the kernel refuses a namespace (not root and no user namespaces)
  the rlimits, uid and no_new_privs still apply and the gap is recorded in `weakened`.
  With root, the uid then gets a user namespace of its own, in which E may give each check
  process namespaces of its own (`fork_check`, docs/sandbox.md).
  RLIMIT_NPROC is set on the submission's own uid, which nothing else uses, and counts its
  threads as well as its processes (`Limits.processes`: the grader's eight and what honest
  code needs); the /proc the sandbox sees hides every process but the reader's own
  (hidepid: all of them are not dumpable).
* `isolate_call` runs in each check's process (C), right after `fork_check`: it unshares a
  mount namespace (for the /proc of its own that the trusted side mounts there,
  `mount_own_proc`), closes every descriptor but the engine's, unmaps shared memory inherited from the
  program where the program filter allowed it (CUDA), and stacks the call filter; what is the
  same for every copy (signal handlers and mask, the shared mappings E took from the template)
  E did once before its first fork (`prepare_copies`). Like all
  code in the sandbox it runs in a process the student controls, so it keeps honest
  programs from tripping over each other and nothing more: the trusted side checks from
  /proc that each check process holds no inherited descriptor, and holds every process of
  the submission from outside (grader.engine.containment).
* `freeze_writable` runs in a root process forked from the zygote once the program has
  finished: it remounts the sandbox's tmpfs (/tmp, /dev/shm, /run, /var/tmp) read-only,
  so no check can leave a file for another, whatever handle it holds.
"""

import _thread
import ctypes
import fcntl
import os
import resource
import signal
import stat
import sys
import time

from grader.untrusted import syscalls

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
PR_SET_THP_DISABLE = 41
WRITABLE = ("/tmp", "/dev/shm", "/run", "/var/tmp")
DEVICES = ("null", "zero", "full", "random", "urandom")
SHARED_LIBRARIES = ("/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/lib32", "/lib32")
SANDBOX_HOME = "/tmp/work"
TMP_INODES = 4096  # files and directories on the sandbox's tmpfs, all four paths together
# Address space beyond the memory budget that honest code reserves without using it: glibc's
# 64 MiB arena and 8 MiB stack per thread (Limits.processes of them), torch's allocator. An
# honest notebook's processes reach about 0.7 GiB of address space in all.
ADDRESS_SPACE_SLACK = 4 << 30
_STAGE = "/proc/self/fd/{}"
_SAFE = MS_NOSUID | MS_NODEV

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
SYS_PIVOT_ROOT = 155  # x86_64; glibc has no wrapper
# Mount flags a bind inherits and, inside a user namespace, may not drop (statvfs's f_flag).
_KEPT_FLAGS = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | 1024 | 2048


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data=""):
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, flags, data.encode() or None),
           f"mount {target}")


def _prctl(option, value):
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


def set_child_subreaper():
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def fork_sandbox():
    """For the zygote, instead of os.fork(): the child starts as pid 1 of a new PID namespace.

    lock_down then need not fork again to get there (a fork of a process with torch loaded
    costs tens of ms). The zygote unshares a PID namespace for its next child only, forks
    (glibc's fork, every atfork handler run), and goes back to its own namespace for
    later children. Where the kernel refuses (not root), a plain fork; lock_down then
    forks into a namespace itself.
    """
    if _libc.unshare(CLONE_NEWPID) != 0:
        return os.fork()
    try:
        return os.fork()
    finally:
        if os.getpid() != 1:
            _setns_fd(_own_pid_namespace(), CLONE_NEWPID, "setns(own pid)")


def _own_pid_namespace():
    if _own_pid_namespace.fd is None:
        _own_pid_namespace.fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    return _own_pid_namespace.fd


_own_pid_namespace.fd = None


# -- lock_down -------------------------------------------------------------------------

def lock_down(limits, keep_fds, visible_paths, *legacy):
    """Confine this process for the student's program; return what the kernel refused.

    `limits`: uid (None when not root), tmp_bytes, cpu_seconds, memory_bytes, file_bytes,
    open_files, processes. `keep_fds`: descriptors beyond 0-2 that stay open. A process
    made by `fork_sandbox` is already pid 1 of its own PID namespace; any other forks once
    here (a new PID namespace starts with the next child): it waits for that child and
    exits with it, never returning; the child returns, as pid 1, in the same process
    group. `visible_paths`: directories bound read-only at their own path (the engine's
    `grader` package).

    (Transitional: the round-1 zygote calls lock_down(limits, fds, hidden, read_only); with
    those extra arguments the grader package alone is made visible.)
    """
    started = time.monotonic()
    if legacy:
        visible_paths = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
    weakened = []
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _close_fds_except(keep_fds)
    uid = limits.get("uid") if os.geteuid() == 0 else None
    sources, links = _bind_sources(visible_paths)
    if _enter_namespaces(as_root=uid is not None, new_pid=os.getpid() != 1):
        if os.getpid() != 1:
            _become_pid_one()
        weakened += _build_root(sources, links, limits["tmp_bytes"], uid)
    else:
        weakened.append("namespaces: no private root, network, IPC or PID namespace; the "
                        "course is protected only by file permissions")
    _set_rlimits(limits, per_user_nproc=uid is not None)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        weakened += _own_user_namespace()
    # Again: the kernel clears the parent-death signal when a process's credentials change
    # (the uid above, a user namespace's). Without it, a submission whose zygote was killed
    # lives on, stopped, for good.
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_DUMPABLE, 0)
    # Every page then comes with a page fault of its own, which the memory watch counts
    # (containment._faults); the program filter keeps it so, and the forks inherit it.
    _prctl(PR_SET_THP_DISABLE, 1)
    _settle_environment()
    lock_down.seconds = time.monotonic() - started
    return weakened


lock_down.seconds = None


def _own_user_namespace():
    """As the sandbox's uid: a user namespace of its own, mapping that uid alone, in which the
    program's process may make each check process a PID namespace (`fork_check`) and each
    check process a mount namespace (`isolate_call`). Every namespace the program already
    lives in (mounts, network, IPC, UTS, PID) belongs to the host's user namespace, so the
    capabilities this grants reach none of them; seccomp refuses mount, setns and every
    unshare but those two. (Without root, `_enter_namespaces` made one already.)"""
    uid, gid = os.getuid(), os.getgid()
    _prctl(PR_SET_DUMPABLE, 1)  # setuid made /proc/self root's; the maps are written there
    try:
        _check(_libc.unshare(CLONE_NEWUSER), "unshare(user)")
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as exc:
        return [f"per-check namespaces: no user namespace for the sandbox ({exc.strerror}); every "
                "check process shares the program's PID namespace and /proc"]
    finally:
        _prctl(PR_SET_DUMPABLE, 0)
    return []


def _close_fds_except(keep):
    keep = sorted(fd for fd in set(keep) if fd > 2)
    low = 3
    for fd in keep + [1 << 20]:
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1


def _enter_namespaces(as_root, new_pid):
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWPID if new_pid else 0)
    if as_root:
        ok = _libc.unshare(flags) == 0
    else:
        uid, gid = os.getuid(), os.getgid()
        ok = _libc.unshare(flags | CLONE_NEWUSER) == 0
        if ok:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return ok and _libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0


def _become_pid_one():
    """Fork into the new PID namespace; this process only waits and passes the status on."""
    pid = os.fork()
    if pid == 0:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    _close_fds_except([])
    for fd in (0, 1, 2):
        os.close(fd)
    try:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    except BaseException:
        code = 1
    os._exit(code if code >= 0 else 128 - code)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _bind_sources(visible_paths):
    """Every path the sandbox may read: its real paths, without ones inside another, to bind;
    and {link: target} for each symbolic link on the way to it by the path Python uses (a venv
    at a linked path, a linked home), to make again in the root, so that what Python imports
    later, by the names it already holds, resolves there as it does outside."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    prefixes = {sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix}
    # prefix/lib, not only lib/pythonX.Y: libpython and its siblings live there too.
    wanted = [os.path.join(prefix, "lib") for prefix in prefixes
              if os.path.isdir(os.path.join(prefix, "lib", version))]
    wanted += [p for p in sys.path if p and _is_installation(p)]
    wanted += [p for p in SHARED_LIBRARIES if os.path.isdir(p) and not os.path.islink(p)]
    wanted += list(visible_paths)
    wanted = [os.path.abspath(p) for p in wanted if os.path.exists(p)]
    real = sorted({os.path.realpath(p) for p in wanted})
    sources = [p for p in real if not any(p.startswith(other + os.sep) for other in real if other != "/")]
    return sources, _links_on_the_way(wanted)


def _links_on_the_way(paths, limit=64):
    """{link: its target} for every symbolic link met in resolving `paths`, component by
    component, the links' own targets included."""
    links, pending = {}, list(paths)
    while pending and len(links) < limit:
        walked = "/"
        for name in pending.pop().strip(os.sep).split(os.sep):
            step = os.path.join(walked, name)
            if os.path.islink(step):
                if step not in links:
                    links[step] = os.readlink(step)
                    pending.append(os.path.join(walked, links[step]))  # a relative target starts here
                walked = os.path.realpath(step)
            else:
                walked = step
    return links


def _is_installation(path):
    """sys.path entries that belong to Python itself: never a checkout put there by PYTHONPATH."""
    real = os.path.realpath(path)
    prefixes = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    inside = any(real == p or real.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes if p != "/")
    return inside or os.path.basename(real) in ("site-packages", "dist-packages")


def _build_root(sources, links, tmp_bytes, uid):
    """A tmpfs root with the allow-list bound into it, then pivot_root (or chroot) into it;
    returns the protections the kernel refused."""
    handles = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in sources}
    handles.update(_extra_files())
    try:
        root = "/tmp"  # only in this mount namespace; the host's /tmp is not touched
        _mount("tmpfs", root, "tmpfs", _SAFE, "size=4m,mode=755")
        # A checkout (and its virtualenv) under /tmp is bound in after the writable tmpfs is
        # mounted there, or the tmpfs would hide it (CI clones under /tmp).
        under_writable = {p for p in handles if p.startswith(tuple(w + "/" for w in WRITABLE))}
        for path, fd in handles.items():
            if path not in under_writable:
                _bind(fd, root + path, device=path.startswith("/dev/"))
        for link in SHARED_LIBRARIES:
            if os.path.islink(link) and not os.path.lexists(root + link):
                os.symlink(os.readlink(link), root + link)
        _make_etc(root, uid)
        _make_writable(root, tmp_bytes, uid, stage=_stage_directory())
        for path in sorted(under_writable):
            _bind(handles[path], root + path)
        _make_links(root, links)
        _make_dev(root)
        os.makedirs(root + "/proc", exist_ok=True)
        # hidepid=invisible: a process sees only the processes it could ptrace, i.e. none but
        # itself (every one is not dumpable): no process of the submission reads another's
        # /proc (its name, state, memory size), so a check's process has no way to show
        # anything to E or to the spare.
        _mount("proc", root + "/proc", "proc", _SAFE | MS_NOEXEC, "hidepid=2")
        os.chdir(root)
    finally:
        for fd in handles.values():
            os.close(fd)
    if _libc.syscall(SYS_PIVOT_ROOT, b".", b".") == 0:  # new root over old, then drop the old
        _check(_libc.umount2(b".", MNT_DETACH), "umount old root")  # the scratch stage goes with it
        os.chdir("/")
        _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | _SAFE)
        return []
    # Docker's default seccomp profile refuses pivot_root even with CAP_SYS_ADMIN. chroot into
    # the same allow-listed root: the host's tree stays mounted in this namespace but out of
    # reach, since the sandbox drops every capability (and seccomp refuses chroot) before
    # student code runs, and no descriptor into it survives.
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | _SAFE)
    os.chroot(".")
    os.chdir("/")
    return ["pivot_root refused (a container's seccomp profile): the allow-listed root is entered "
            "with chroot, the host's tree stays mounted outside it"]


def _make_links(root, links):
    """The links Python's paths go through, made again in the root (those inside a bound
    directory are there already)."""
    for link, target in sorted(links.items()):
        if not os.path.lexists(root + link):
            os.makedirs(os.path.dirname(root + link), mode=0o755, exist_ok=True)
            os.symlink(target, root + link)


def _extra_files():
    """Host files bound in beside the installation: the loader cache, the time zone, and
    for CUDA the device nodes and /sys (the driver reads its PCI devices there)."""
    paths = {"/etc/ld.so.cache": "/etc/ld.so.cache", "/etc/localtime": os.path.realpath("/etc/localtime")}
    for name in DEVICES:
        paths[f"/dev/{name}"] = f"/dev/{name}"
    nvidia = [f"/dev/{n}" for n in os.listdir("/dev") if n.startswith("nvidia")]
    for path in nvidia + ["/dev/dri"]:
        paths[path] = path
    if nvidia:
        paths["/sys"] = "/sys"
    return {target: os.open(source, os.O_PATH | os.O_CLOEXEC)
            for target, source in paths.items() if os.path.exists(source)}


def _bind(fd, target, device=False):
    """Bind what `fd` names read-only at `target` (device nodes keep working: no nodev)."""
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(_STAGE.format(fd), target, None, MS_BIND)
    _read_only(target, MS_NOSUID | (0 if device else MS_NODEV))


def _read_only(target, flags):
    kept = os.statvfs(target).f_flag & _KEPT_FLAGS
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags | kept)


def _make_etc(root, uid):
    etc = root + "/etc"
    os.makedirs(etc, exist_ok=True)
    names = [("root", 0), ("student", uid if uid is not None else os.getuid()), ("nobody", 65534)]
    _write(etc + "/passwd", "".join(f"{n}:x:{i}:{i}:{n}:/tmp/work:/bin/false\n" for n, i in names))
    _write(etc + "/group", "".join(f"{n}:x:{i}:\n" for n, i in names))
    _write(etc + "/hosts", "127.0.0.1 localhost\n::1 localhost\n")


def _stage_directory():
    """A directory of the old root, outside the new one, to mount the scratch tmpfs on: it
    leaves with the old root, in the one detach that pivot_root needs anyway."""
    for path in ("/run", "/mnt", "/media", "/srv", "/opt", "/home"):
        if os.path.isdir(path) and not os.path.islink(path):
            return path
    raise OSError(2, "no directory to stage the sandbox's tmpfs on")


def _make_writable(root, tmp_bytes, uid, stage):
    """One capped tmpfs behind /tmp, /dev/shm, /run and /var/tmp (the caps are for all four):
    `tmp_bytes` of data and TMP_INODES files (each inode is kernel memory outside the byte
    cap: a million empty files would cost about a GiB)."""
    _mount("tmpfs", stage, "tmpfs", _SAFE, f"size={tmp_bytes},nr_inodes={TMP_INODES},mode=755")
    for path in WRITABLE:
        inside = stage + "/" + path.strip("/").replace("/", "-")
        os.mkdir(inside)
        os.chmod(inside, 0o1777)
        os.makedirs(root + path, exist_ok=True)
        _mount(inside, root + path, None, MS_BIND)
    home = root + SANDBOX_HOME
    os.mkdir(home, 0o700)
    if uid is not None:
        os.chown(home, uid, uid)


def _make_dev(root):
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        if not os.path.lexists(f"{root}/dev/{name}"):
            os.symlink(target, f"{root}/dev/{name}")


def _set_rlimits(limits, per_user_nproc):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    # RLIMIT_DATA counts the writable private memory a memory bomb actually fills.
    data = _current_bytes("VmData") + limits["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    # RLIMIT_AS bounds what no page count shows: the page tables of a huge read-only mapping
    # touched once every 2 MiB (4 KiB of kernel memory each, up to 1/512 of the address space).
    # CUDA's driver reserves address space the size of the device and host memory together,
    # so where it may run only the memory watchdog (which counts page tables) holds it.
    if not os.path.exists("/dev/nvidiactl"):
        space = _current_bytes("VmSize") + limits["memory_bytes"] + ADDRESS_SPACE_SLACK
        resource.setrlimit(resource.RLIMIT_AS, (space, space))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if per_user_nproc:  # counted per real user (threads included): only meaningful for the sandbox's own uid
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def _current_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _settle_environment():
    os.makedirs(SANDBOX_HOME, exist_ok=True)
    os.chdir(SANDBOX_HOME)
    os.environ.clear()
    os.environ.update({"HOME": SANDBOX_HOME, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file fails the write, not the child


# -- the check processes' namespaces -----------------------------------------------------

def fork_check(run_child, before=None):
    """E, for each check: fork a process that is pid 1 of a PID namespace of its own, in
    which `run_child()` runs (it ends the process); returns its pid.

    unshare(CLONE_NEWPID) gives the calling thread's next child a new namespace, nested in
    E's, and the kernel refuses a second one until that thread forks back into its own
    (setns, which needs a privilege E lacks). So a fresh thread unshares and forks, once,
    and ends: E's own threads stay in its namespace, and each check process is pid 1 of a
    namespace no other process ever had. No pid, thread id or counter of one check process
    is then seen by the next: each is pid 1, its parent is outside (ppid 0) and its
    threads count from 2. In the child the forking thread is the only one, and CPython
    makes it the main thread. Where the kernel refuses (no user namespace of the sandbox's
    own), a plain fork: the trusted side sees it and says so. `before()` runs in that thread
    right before the fork (`_fork_holding_the_interpreter`)."""
    forked, done = [], _thread.allocate_lock()
    done.acquire()

    def fork_in_a_thread_of_its_own():
        try:
            _libc.unshare(CLONE_NEWPID)
            pid = _fork_holding_the_interpreter(before)
            if pid == 0:
                run_child()
            forked.append(pid)
        finally:
            done.release()

    _thread.start_new_thread(fork_in_a_thread_of_its_own, ())
    done.acquire()
    if not forked:
        raise OSError("the check process could not be forked")
    return forked[0]


def _fork_holding_the_interpreter(before):
    """Fork after `before()` (which waits for the locks a copy needs at its start), keeping the
    interpreter lock from then to the fork: a thread the notebook left running may be inside
    torch or numpy without it, holding a lock the copy will take, and once `before` has had that
    lock the thread waits for the interpreter lock, holding none. The switch interval is
    raised meanwhile, so a waiting thread does not ask this one to let go (one that began to
    wait a moment before still may: the trusted side then forks the copy again, Sandbox._hellos)."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        if before is not None:
            before()
        return syscalls.grader_fork()
    finally:
        sys.setswitchinterval(interval)


def mount_own_proc(pid):
    """Mount, in `pid`'s mount namespace, a /proc of its own PID namespace over the program's
    (hidepid=invisible as that one): the check process then sees itself as pid 1 there as in
    getpid(), and no trace of the program's namespace and its counter. Run by a root process
    with one thread (setns); it is left in that mount namespace (`back_to_mount_namespace`).
    Returns what could not be done."""
    opened = []
    try:
        opened.append(os.open(f"/proc/{pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC))
        _enter_mount_namespace_of(pid)
        opened.append(_fs_call("fsopen", b"proc", FSOPEN_CLOEXEC))
        context = opened[-1]
        _fs_call("fsconfig", context, FSCONFIG_SET_FD, b"pidns", None, opened[0])
        _fs_call("fsconfig", context, FSCONFIG_SET_STRING, b"hidepid", b"invisible", 0)
        _fs_call("fsconfig", context, FSCONFIG_CMD_CREATE, None, None, 0)
        opened.append(_fs_call("fsmount", context, FSMOUNT_CLOEXEC,
                               MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC))
        _fs_call("move_mount", opened[-1], b"", AT_FDCWD, b"/proc", MOVE_MOUNT_F_EMPTY_PATH)
    except OSError as exc:
        return [f"per-check /proc: {exc.strerror or exc}; a check process sees the program's /proc"]
    finally:
        for fd in opened:
            os.close(fd)
    return []


def back_to_mount_namespace(fd):
    """Return to the mount namespace `fd` names (the zygote's own, after `mount_own_proc`)."""
    _setns_fd(fd, CLONE_NEWNS, "setns(own mnt)")
    os.chdir("/")


_FS_SYSCALLS = {"move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432}  # x86_64
FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC = 1, 1
FSCONFIG_SET_STRING, FSCONFIG_SET_FD, FSCONFIG_CMD_CREATE = 1, 5, 6
MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC = 0x2, 0x4, 0x8
MOVE_MOUNT_F_EMPTY_PATH, AT_FDCWD = 4, -100


def _fs_call(name, *args):
    result = _libc.syscall(ctypes.c_long(_FS_SYSCALLS[name]), *(
        ctypes.c_long(a) if isinstance(a, int) else a for a in args))
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")
    return result


# -- isolate_call ----------------------------------------------------------------------

def isolate_call(keep_fds):
    """Make a freshly forked check process (C) a clean copy of the program, before any
    student code runs in it again.

    Leaves the program's mount namespace for a copy of its own (in which the trusted side
    mounts the check process's own /proc: `mount_own_proc`); closes every descriptor but
    0-2 and `keep_fds` (no pipe, socket or file the program
    opened reaches the check); where the program filter lets the program map shared memory
    (CUDA's driver needs it), unmaps every shared mapping but the NVIDIA driver's (memory
    shared with the program, or with an earlier check, cannot carry anything); re-enters the
    working directory by name (after `freeze_writable` the name leads to the read-only view);
    then stacks the call filter (no process creation, no socket, no signal or lock another
    process could see). What is the same for every copy was done once in E before the first
    was forked (`prepare_copies`): signals, and the shared mappings where none can be made
    again. (Interval timers are not inherited across fork.)
    """
    _libc.unshare(CLONE_NEWNS)  # a mount namespace of its own, for its own /proc (mount_own_proc)
    _close_fds_except(keep_fds)
    if not syscalls.shared_mappings_refused():  # else E has none (prepare_copies) and can make none
        _unmap_shared()
    try:
        os.chdir(os.getcwd())
    except OSError:
        os.chdir("/")
    syscalls.install_call_filter()


def prepare_copies():
    """Once in E, after the program and before its first check process is forked: what each
    copy would otherwise do at its start, done here so a copy's first work is its check.
    Every signal handler reset (SIGPIPE and SIGXFSZ stay ignored, SIGCHLD as E set it: the
    engine's E ignores it, so the check processes the grader kills leave no zombie), the
    signal mask emptied (each forking thread inherits this thread's), the interval timers
    stopped; and, where the program filter refuses shared memory, the shared mappings E took
    from the template unmapped (then no copy has any: E can make none again)."""
    chld_ignored = signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN
    _reset_signals(ignored=(signal.SIGPIPE, signal.SIGXFSZ) + ((signal.SIGCHLD,) if chld_ignored else ()))
    if syscalls.shared_mappings_refused():
        _unmap_shared()


def _unmap_shared():
    with open("/proc/self/maps") as maps:
        lines = maps.read().splitlines()
    for line in lines:
        fields = line.split(maxsplit=5)
        path = fields[5] if len(fields) > 5 else ""
        if fields[1][3] != "s" or path.startswith("/dev/nvidia"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        syscalls.munmap(start, end - start)


def _reset_signals(ignored):
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(number, signal.SIG_IGN if number in ignored else signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # numbers that are not signals here, or reserved by the C library
    for timer in (signal.ITIMER_REAL, signal.ITIMER_VIRTUAL, signal.ITIMER_PROF):
        signal.setitimer(timer, 0)
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass


# -- freeze_writable -------------------------------------------------------------------

def freeze_writable(pid):
    """Make the sandbox of `pid` unable to write anywhere; return what could not be done.

    Run in a root process forked from the zygote (single-threaded: setns into a mount
    namespace refuses threaded callers), once the program has run and the trusted side has
    stopped E (SIGSTOP) and killed every other process of the submission. It enters pid's
    mount namespace and remounts the sandbox's one tmpfs read-only at its superblock: every
    path, every bind of it, and every handle opened before (a directory descriptor, a
    working directory inside it) then refuses writes (EROFS), in E and in every check
    process forked from it. Files the program wrote stay readable.

    The kernel refuses that remount (EBUSY) while a file on it is open for writing. E's
    engine closes those after the program (`release_writable_files`); a program that kept
    one anyway (by replacing the engine's code in its own process) gets the weaker freeze of
    the earlier design, and the result says so: a read-only bind over each path, so every
    path leads to a read-only view, while the descriptor kept open stays writable. What
    still holds then: E is stopped while any check runs, and each check process closes
    what it inherited (`isolate_call`); a check process that skips that could write through
    the kept descriptor, which the next check's process inherits too.
    """
    try:
        _enter_mount_namespace_of(pid)
    except OSError as exc:
        return [f"freeze: cannot enter the sandbox's mount namespace ({exc.strerror})"]
    try:
        _mount(None, WRITABLE[0], None, MS_REMOUNT | MS_RDONLY | _SAFE)
        return []
    except OSError as exc:
        refused = exc.strerror
    weakened = [f"freeze: the scratch space's file system could not be made read-only ({refused}, "
                "a file still open for writing); its paths are covered by read-only binds"]
    for path in WRITABLE:
        try:
            _mount(path, path, None, MS_BIND)
            _read_only(path, _SAFE | MS_NOEXEC)
        except OSError as exc:
            weakened.append(f"freeze: {path} stays writable ({exc.strerror})")
    return weakened


def release_writable_files(keep_fds):
    """E, after the program: every descriptor open for writing on a file, but `keep_fds`,
    now reads /dev/null instead (the number stays taken, so no later descriptor reuses it
    under a file object the notebook still holds), so that `freeze_writable` can make the
    file system itself read-only. A notebook that left a log or output file open loses
    nothing: its checks run on a read-only file system, closed descriptors, anyway."""
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd in keep_fds or fd == null:
                continue
            try:
                writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE != os.O_RDONLY
                regular = stat.S_ISREG(os.fstat(fd).st_mode)
            except OSError:
                continue
            if writable and regular:
                os.dup2(null, fd, inheritable=False)
    finally:
        os.close(null)


def _enter_mount_namespace_of(pid):
    if os.geteuid() != 0:
        _setns(pid, "user", CLONE_NEWUSER)
    _setns(pid, "mnt", CLONE_NEWNS)
    os.chdir("/")


def _setns(pid, kind, flag):
    fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns_fd(fd, flag, f"setns({kind})")
    finally:
        os.close(fd)


def _setns_fd(fd, flag, what):
    _check(_libc.setns(fd, flag), what)
