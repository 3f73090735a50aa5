"""The service's settings, read from the environment (docs/reference.md)."""

import dataclasses
import ipaddress
import os
import secrets
from pathlib import Path

MIB = 1 << 20
MIN_ADMIN_TOKEN = 32
# Admin tokens printed in convgrade's own files (an older compose default, the docs' example):
# anyone can read them, so they never guard a grader that others can reach.
PUBLISHED_ADMIN_TOKENS = {"convgrade-local-admin-token", "choose-a-long-random-string"}


@dataclasses.dataclass
class Settings:
    data_dir: Path
    admin_token: str = ""
    database_url: str = ""
    queue_url: str = ""
    resubmit_seconds: float = 0.0
    max_upload_bytes: int = 8 * MIB
    workers: int = 0
    max_wait_seconds: float = 300.0
    trusted_proxies: str = ""

    def __post_init__(self):
        self.data_dir = Path(self.data_dir).resolve()
        self.database_url = self.database_url or f"sqlite:///{self.data_dir / 'convgrade.sqlite3'}"
        self.workers = int(self.workers) or len(os.sched_getaffinity(0)) or 1

    @classmethod
    def from_env(cls, env=None, **overrides):
        env = os.environ if env is None else env
        values = {
            "data_dir": env.get("CONVGRADE_DATA_DIR", "./data"),
            "admin_token": env.get("CONVGRADE_ADMIN_TOKEN", ""),
            "database_url": env.get("CONVGRADE_DATABASE_URL", ""),
            "queue_url": env.get("CONVGRADE_QUEUE_URL", ""),
            "resubmit_seconds": float(env.get("CONVGRADE_RESUBMIT_SECONDS", 0) or 0),
            "max_upload_bytes": int(env.get("CONVGRADE_MAX_UPLOAD_BYTES", 8 * MIB) or 8 * MIB),
            "workers": int(env.get("CONVGRADE_WORKERS", 0) or 0),
            "trusted_proxies": env.get("CONVGRADE_TRUSTED_PROXIES", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def submissions_dir(self):
        return self.data_dir / "submissions"

    def prepare(self):
        """Create the data folders (0700, whatever the umask) and, when none is configured, a
        persistent admin token (0600)."""
        for folder in (self.data_dir, self.submissions_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            if folder.stat().st_uid == os.geteuid():
                folder.chmod(0o700)
        if not self.admin_token:
            self.admin_token = _stored_admin_token(self.data_dir / "admin_token")
        return self

    def public_bind_refusal(self, host):
        """Why this service must not listen on `host`, or None. Off loopback, the admin token
        is the course's one key: it must be long and private."""
        if _is_loopback(host):
            return None
        token = self.admin_token
        if token in PUBLISHED_ADMIN_TOKENS:
            return (f"the admin token is the one printed in convgrade's own files; set a private "
                    f"CONVGRADE_ADMIN_TOKEN of at least {MIN_ADMIN_TOKEN} characters (or unset it to "
                    f"have one generated into {self.data_dir / 'admin_token'}) before serving on {host}")
        if len(token) < MIN_ADMIN_TOKEN:
            return (f"the admin token is {len(token) or 'no'} characters long; serving on {host} needs "
                    f"CONVGRADE_ADMIN_TOKEN of at least {MIN_ADMIN_TOKEN} random characters (or unset it "
                    f"to have one generated into {self.data_dir / 'admin_token'})")
        return None


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stored_admin_token(path):
    """Read the generated token, or write one: whole, 0600, and once, however many processes
    (the service, compose's workers) start on the same data dir at the same moment."""
    if not path.exists():
        staged = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_token(32))
        try:
            os.link(staged, path)      # fails if another process was first: then theirs is kept
        except FileExistsError:
            pass
        finally:
            staged.unlink()
    return path.read_text().strip()


def new_token(nbytes=24):
    """A URL-safe random token that never starts with "-": pasted after `--token`, one that
    did would be read as an option (about one token in 64)."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token
