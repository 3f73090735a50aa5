"""The service's settings, read from the environment (docs/reference.md)."""

import dataclasses
import os
import secrets
from pathlib import Path

MIB = 1 << 20


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
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def submissions_dir(self):
        return self.data_dir / "submissions"

    def prepare(self):
        """Create the data folders and, when none is configured, a persistent admin token."""
        self.submissions_dir.mkdir(parents=True, exist_ok=True)
        if not self.admin_token:
            self.admin_token = _stored_admin_token(self.data_dir / "admin_token")
        return self


def _stored_admin_token(path):
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(new_token(32))
    return path.read_text().strip()


def new_token(nbytes=24):
    """A URL-safe random token that never starts with "-": pasted after `--token`, one that
    did would be read as an option (about one token in 64)."""
    while (token := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return token
