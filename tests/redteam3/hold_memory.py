# cell: corr2d
# include: _reach
import os
import time

MIB = 1 << 20
INODES, MEMFDS, MEMFD_MIB, HELPERS, HELPER_MIB, COW_MIB = 100_000, 24, 16, 2, 256, 384


def _touch(buffer):
    for i in range(0, len(buffer), 4096):
        buffer[i] = 1


# Empty files on the sandbox's tmpfs: no bytes against tmp_bytes, kernel memory per inode.
made = 0
try:
    os.mkdir("/tmp/inodes")
    for i in range(INODES):
        os.close(os.open(f"/tmp/inodes/{i}", os.O_CREAT | os.O_WRONLY, 0o600))
        made += 1
except OSError:
    pass
print("note: made", made, "empty files", flush=True)
if made == INODES:
    print("INODES_ALL_MADE", made, flush=True)

# memfds: shared memory outside RLIMIT_DATA, each file under RLIMIT_FSIZE.
memfds = []
for i in range(MEMFDS):
    try:
        fd = os.memfd_create(f"hold{i}")
        os.write(fd, b"\1" * (MEMFD_MIB * MIB - 4096))
        memfds.append(fd)
    except OSError:
        break
if memfds:
    print("MEMFD_HELD", len(memfds) * MEMFD_MIB, "MiB", flush=True)

# Helper processes, each with an RLIMIT_DATA of its own.
for i in range(HELPERS):
    if _fork_helper() == 0:
        try:
            hold = bytearray(HELPER_MIB * MIB)
            _touch(hold)
            print("HELPER_HOLDS", HELPER_MIB, "MiB", flush=True)
            time.sleep(120)
        finally:
            os._exit(0)

# Copy-on-write: under the limit in the program's process, and again in every check's.
_cow = bytearray(COW_MIB * MIB)
_touch(_cow)
print("note: the program holds", COW_MIB, "MiB", flush=True)


def corr2d(X, K):
    _touch(_cow)
    raise NotImplementedError()
