"""The installation's secret: hidden inputs that nothing inside the sandbox can predict.

A submission's seed is recorded in its result (so an instructor can replay a grading),
and the suites are readable code. Hidden inputs are therefore drawn from
HMAC(secret, seed, check name), and the sandbox's generators are seeded from a separate
HMAC(secret, seed, "sandbox"): whatever the program reads back (torch.initial_seed(),
numpy's state) says nothing about the inputs, and without the secret neither does the seed.

Where the secret comes from, first found:

* CONVGRADE_SECRET, any string (every process that grades for one course must see the same);
* `<data dir>/.convgrade-secret` (CONVGRADE_DATA_DIR, default `<course>/data`), created once
  with mode 0600. The data directory is hidden from the sandbox like the rest of the
  course; the same file gives the same hidden inputs to the CLI, a pool, the daemon and
  the service's workers, so `convgrade grade --seed N` replays a grading exactly;
* where neither can be had (a read-only data directory), a random secret for this process,
  with a warning: gradings still cannot be predicted, but `--seed` cannot replay them.

The nbgrader door (grader.doors.nbgrader_bridge) never reads either: there the student's code
shares the grading process, so it gets a random secret of its own per process
(`private_secret`). On Gradescope every run starts from a fresh container, so unless the
autograder's environment sets CONVGRADE_SECRET each run makes its own: the inputs stay
unpredictable, but a Gradescope result replays only where that secret is known.
"""

import contextlib
import contextvars
import hashlib
import hmac
import os
import secrets
import sys
import threading

from grader.course import assignments

FILE_NAME = ".convgrade-secret"

_lock = threading.Lock()
_installation = None  # (pid, bytes): a forked worker reads it again, the same file
_process_random = secrets.token_bytes(32)
_override = contextvars.ContextVar("convgrade_secret_override", default=None)


def secret_path():
    return assignments.data_dir() / FILE_NAME


def installation_secret():
    """This installation's secret (bytes), read once per process."""
    global _installation
    with _lock:
        if _installation is None or _installation[0] != os.getpid():
            _installation = (os.getpid(), _load())
        return _installation[1]


def current():
    """The secret hidden inputs are drawn with here and now."""
    return _override.get() or installation_secret()


@contextlib.contextmanager
def private_secret():
    """Within the block (this thread or task only), hidden inputs come from this process's
    own random secret: for a door whose grading shares a process with student code."""
    token = _override.set(_process_random)
    try:
        yield
    finally:
        _override.reset(token)


def input_seed(seed, name, secret=None):
    """The seed of one check's hidden inputs: HMAC(secret, seed, name), 63 bits."""
    return _derive(secret, b"inputs", seed, name)


def sandbox_seed(seed, secret=None):
    """The seed of the sandbox's generators for one submission: HMAC(secret, seed, "sandbox")."""
    return _derive(secret, b"sandbox", seed, "")


def order_seed(seed, secret=None):
    """The seed of the order a submission's checks run in: HMAC(secret, seed, "order")."""
    return _derive(secret, b"order", seed, "")


def _derive(secret, purpose, seed, name):
    key = secret if secret is not None else current()
    message = b"\0".join([purpose, str(int(seed)).encode(), str(name).encode()])
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _load():
    configured = os.environ.get("CONVGRADE_SECRET")
    if configured:
        return configured.encode()
    try:
        return _read_or_create(secret_path())
    except OSError as exc:
        print(f"convgrade: no secret at {secret_path()} ({exc.strerror or exc}); hidden inputs come "
              "from a random secret of this process, and `--seed` cannot replay this grading. "
              "Set CONVGRADE_SECRET or make the data directory writable.", file=sys.stderr)
        return _process_random


def _read_or_create(path):
    """The secret in `path`, created whole (mode 0600) by whichever process comes first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f"{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            try:
                os.link(staged, path)  # atomic, and never over a secret another process made
            except FileExistsError:
                pass
        finally:
            staged.unlink(missing_ok=True)
    text = path.read_text().strip()
    if len(text) < 16:
        raise OSError(f"the secret in {path} is too short")
    return text.encode()
