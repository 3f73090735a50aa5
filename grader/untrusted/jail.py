"""Locking a freshly forked child down before it runs any student code.

Applied in this order, each step while the process still has the right to take it:
a new session (so the trusted side can kill the whole process group), death with the
parent, only the file descriptors it needs, new mount and network namespaces (no
network; the course directory read-only, its hidden tests, solutions and the data dir
covered by empty mounts; a private size-capped /tmp), resource limits, then an unprivileged user and
no_new_privs. Where the kernel refuses a namespace, the step is recorded in `weakened`
and the others still apply.
"""

import ctypes
import os
import resource
import signal
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data=""):
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode(), ctypes.c_ulong(flags),
                       data.encode() or None), f"mount {target}")


def set_child_subreaper():
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(CHILD_SUBREAPER)")


def lock_down(limits, keep_fds, hidden_paths, read_only_paths):
    """Apply every restriction; return the list of protections the kernel refused."""
    weakened = []
    os.setsid()
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    _close_fds_except(keep_fds)
    uid = limits["uid"] if os.geteuid() == 0 else None
    if not _enter_namespaces(uid is not None):
        weakened.append("namespaces: no network isolation and the hidden paths are only file-permission protected")
    else:
        needed = {sys.base_prefix, sys.prefix, *read_only_paths}
        _private_tmp(limits["tmp_bytes"], keep=needed)
        _expose_for_others({sys.base_prefix, sys.prefix})
        _read_only(read_only_paths)
        _hide(hidden_paths)
    _set_rlimits(limits, per_user_nproc=uid is not None)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(DUMPABLE)")
    os.makedirs("/tmp/work", exist_ok=True)
    os.chdir("/tmp/work")
    os.environ.clear()
    os.environ.update({"HOME": "/tmp/work", "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big file fails the write, not the child
    return weakened


def _close_fds_except(keep):
    for fd in sorted(set(range(3, 1024)) - set(keep)):
        try:
            os.close(fd)
        except OSError:
            pass


def _enter_namespaces(as_root):
    if as_root:
        return _libc.unshare(CLONE_NEWNS | CLONE_NEWNET) == 0 and _make_mounts_private()
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) != 0:
        return False
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    return _make_mounts_private()


def _make_mounts_private():
    return _libc.mount(b"none", b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None) == 0


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _read_only(paths):
    for path in paths:
        if os.path.isdir(path):
            _mount(path, path, "", MS_BIND | MS_REC)
            _mount("none", path, "", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _hide(paths):
    for path in paths:
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k")


def _expose_for_others(paths):
    """Let the sandbox uid read the Python installation when it lives in a private home.

    The first ancestor that others cannot enter (/root, say) is covered by an empty
    tmpfs and only the path's own entry in it is bound back, so the rest of that home
    stays out of reach.
    """
    for path in paths:
        parts = os.path.abspath(path).split(os.sep)[1:]
        for depth in range(1, len(parts)):
            closed = os.sep + os.path.join(*parts[:depth])
            if not os.stat(closed).st_mode & stat.S_IXOTH:
                _cover_all_but(closed, parts[depth])
                break


def _cover_all_but(directory, entry):
    fd = os.open(os.path.join(directory, entry), os.O_PATH | os.O_DIRECTORY)
    try:
        _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,mode=755")
        os.mkdir(os.path.join(directory, entry))
        _mount(f"/proc/self/fd/{fd}", os.path.join(directory, entry), "", MS_BIND | MS_REC)
    finally:
        os.close(fd)


def _private_tmp(size_bytes, keep):
    """Fresh size-capped /tmp, /dev/shm and /var/tmp, with the paths in `keep` that live
    there (a course cloned under /tmp, its virtualenv) bound back in."""
    for tmp in ("/tmp", "/dev/shm", "/var/tmp"):
        if not os.path.isdir(tmp):
            continue
        inside = sorted(os.path.abspath(p) for p in keep if os.path.abspath(p).startswith(tmp + os.sep))
        fds = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in inside if os.path.isdir(path)}
        try:
            _mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_bytes},mode=1777")
            for path, fd in fds.items():
                os.makedirs(path, exist_ok=True)
                _mount(f"/proc/self/fd/{fd}", path, "", MS_BIND | MS_REC)
        finally:
            for fd in fds.values():
                os.close(fd)


def _set_rlimits(limits, per_user_nproc):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"], limits["cpu_seconds"] + 1))
    # RLIMIT_AS would count torch's huge PROT_NONE reservations (and CUDA's) and break it;
    # RLIMIT_DATA counts the writable private memory a memory bomb actually fills.
    data = _current_data_bytes() + limits["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"], limits["file_bytes"]))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    if per_user_nproc:  # counted per real user: only meaningful for the sandbox's own uid
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"], limits["processes"]))


def _current_data_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0
