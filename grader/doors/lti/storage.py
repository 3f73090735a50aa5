"""pylti1p3's launch data storage in the service database, shared by every worker process.

The OIDC login and the launch may reach different processes (gunicorn workers, replicas),
so state, nonces and validated launches live in the `lti_cache` table, not in memory.
pylti1p3 only checks that a nonce exists; here a nonce is consumed by the check, so a
replayed id_token is refused.
"""

import datetime
import json

from sqlalchemy import delete, select

from grader.store.db import sessions_for, utcnow
from grader.store.lti_tables import LaunchCache, ensure_tables
from pylti1p3.launch_data_storage.cache import CacheDataStorage

NONCE_KEY = "lti1p3-nonce-"
DEFAULT_LIFETIME = 24 * 3600


class DatabaseCache:
    """The get/set interface pylti1p3's CacheDataStorage expects, over the lti_cache table."""

    def __init__(self, database_url):
        ensure_tables(database_url)
        self.sessions = sessions_for(database_url)

    def get(self, key):
        with self.sessions() as session:
            row = session.get(LaunchCache, key)
        if row is None or row.expires_at < utcnow():
            return None
        return json.loads(row.value_json)

    def set(self, key, value, exp=None):
        expires = utcnow() + datetime.timedelta(seconds=exp or DEFAULT_LIFETIME)
        with self.sessions() as session:
            session.merge(LaunchCache(key=key, value_json=json.dumps(value), expires_at=expires))
            session.execute(delete(LaunchCache).where(LaunchCache.expires_at < utcnow()))
            session.commit()

    def take(self, key):
        """Delete the key; True only for the one caller that found it unexpired."""
        with self.sessions() as session:
            deleted = session.execute(delete(LaunchCache).where(
                LaunchCache.key == key, LaunchCache.expires_at >= utcnow())).rowcount
            session.commit()
        return deleted == 1

    def keys(self):
        with self.sessions() as session:
            return list(session.scalars(select(LaunchCache.key)))


class DatabaseLaunchDataStorage(CacheDataStorage):
    """CacheDataStorage over DatabaseCache, with one-time nonces."""

    def __init__(self, database_url):
        super().__init__()
        self._cache = DatabaseCache(database_url)

    def check_value(self, key):
        if key.startswith(NONCE_KEY):
            return self._cache.take(self._prepare_key(key))
        return super().check_value(key)
