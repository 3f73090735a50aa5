import os as _os
import resource as _resource
import threading as _threading
import zlib as _zlib


def _socket_inodes():
    found = []
    for fd in _os.listdir("/proc/self/fd"):
        try:
            target = _os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("socket:[", "pipe:[")):
            found.append(int(target.split("[")[1].rstrip("]")))
    return sorted(found)


# what the program's process saw: a check's own readings are compared with these
_AT_PROGRAM = {"pid": _os.getpid(), "inodes": _socket_inodes()}


def _fingerprint():
    """Everything a check process can read about itself but the call's arguments and the
    clock: identical in every check, or the check can be told apart."""
    fds = []
    for fd in sorted(_os.listdir("/proc/self/fd"), key=int):
        try:
            target = _os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = "?"
        fds.append(f"{fd}:{target.split(':')[0] if ':[' in target else target}")
    limits = [_resource.getrlimit(getattr(_resource, name)) for name in sorted(dir(_resource))
              if name.startswith("RLIMIT_")]
    visible = sorted(int(p) for p in _os.listdir("/proc") if p.isdigit())
    base = min(_AT_PROGRAM["inodes"], default=0)
    inodes = [i - base for i in _socket_inodes()]
    readings = (f"pid={_os.getpid()} ppid={_os.getppid()} pgid={_os.getpgrp()} sid={_os.getsid(0)} "
                f"program_pid={_AT_PROGRAM['pid']} fds={','.join(fds)} threads={_threading.active_count()} "
                f"tasks={len(_os.listdir('/proc/self/task'))} procs={','.join(map(str, visible[:12]))} "
                f"rlimits={limits}")
    # short, so that a check's message (which clips what a call raised) keeps it whole: a hash
    # of every reading, then the two that moved from one check to the next before. Inode numbers
    # come from one counter of the whole machine: they say how late a check runs, never which
    # check it is, since the checks run in an order drawn from the secret (test_check_identity)
    return (f"FINGERPRINT<all={_zlib.crc32(readings.encode()):08x} pid={_os.getpid()} "
            f"inodes={','.join(map(str, inodes))}>")
