"""Throwaway real servers for the tests: a redis-server and a PostgreSQL cluster on loopback.

PostgreSQL comes from Debian's postgresql package (initdb, pg_ctl in
/usr/lib/postgresql/<version>/bin). initdb refuses to run as root, so as root the cluster
belongs to the package's `postgres` user, in a folder of its own under /tmp.
"""

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import redis

HOST = "127.0.0.1"


def redis_server_binary():
    return shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/usr/sbin")


def postgres_bin_dir():
    """The folder with initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(candidates[-1]) if candidates else None


def postgres_missing_reason():
    if postgres_bin_dir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to own the cluster"
    return None


@contextlib.contextmanager
def redis_server(port, workdir):
    server = subprocess.Popen([redis_server_binary(), "--bind", HOST, "--port", str(port), "--save", "",
                               "--appendonly", "no", "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    url = f"redis://{HOST}:{port}/0"
    try:
        _wait(lambda: redis.Redis.from_url(url).ping(), redis.ConnectionError, "redis-server")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def postgres_cluster(port):
    """initdb + pg_ctl start in a temporary folder; yields a SQLAlchemy URL (psycopg 3)."""
    bindir = postgres_bin_dir()
    owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    folder = tempfile.mkdtemp(prefix="convgrade-pg-", dir="/tmp")
    data = os.path.join(folder, "data")
    if owner:
        os.chown(folder, owner.pw_uid, owner.pw_gid)

    def as_owner(*command):
        prefix = ["runuser", "-u", "postgres", "--"] if owner else []
        subprocess.run(prefix + list(command), check=True, capture_output=True, text=True, timeout=120)

    try:
        as_owner(f"{bindir}/initdb", "-D", data, "-U", "convgrade", "-A", "trust", "--no-sync", "-E", "UTF8")
        as_owner(f"{bindir}/pg_ctl", "-D", data, "-w", "-l", os.path.join(folder, "server.log"), "-o",
                 f"-p {port} -k {folder} -c listen_addresses={HOST} -c fsync=off", "start")
        yield f"postgresql+psycopg://convgrade@{HOST}:{port}/postgres"
    finally:
        with contextlib.suppress(Exception):
            as_owner(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def _wait(probe, transient, what, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return probe()
        except transient:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not start")
            time.sleep(0.1)
