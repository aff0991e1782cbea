"""One configuration object, read once at start-up from the environment.

Every setting is validated here so that a bad value stops the server with a
message naming the variable, instead of failing later in the middle of an exam.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

from .errors import ConfigError

DEFAULT_DATA_DIR = "./var"


class Secret:
    """A string whose ``repr`` never shows it (logs, tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str | None
    secret_key: Secret
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    # Saves that arrive this many seconds after the deadline are still accepted
    # (network latency); the sweeper waits the same grace before finalising.
    network_grace_s: float = 1.0
    sweep_interval_s: float = 0.5
    session_ttl_s: int = 12 * 3600
    # How long a process may reuse a resolved session before asking the database again: while
    # revocations reach it over Redis (services/session_bus.py), and while they may not.
    session_cache_s: float = 60.0
    session_cache_unsynced_s: float = 5.0
    # Every Redis key and stream of this installation starts with it (several installations,
    # or test runs, can share one Redis).
    redis_prefix: str = "exam:"
    # Requests one signed-in session may make per minute (0: no limit).
    session_rate_per_min: int = 1200
    # Connections of the autosave's one-statement fast path on PostgreSQL (0: always the general path).
    fast_save_pool: int = 8
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_s: int = 300
    # The item-analysis gate before the journal (services/holds.py): an item needs this many
    # attempts before its flags hold an exam's results; discrimination below this holds them;
    # an unresolved hold is released at this local time (Kazakhstan, UTC+5) of its day.
    hold_min_attempts: int = 10
    hold_discrimination: float = -0.2
    hold_release_at: tuple[int, int] = (23, 59)
    secret_generated: bool = field(default=False, compare=False)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def with_overrides(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name}={raw!r} must be {bound}")
    return value


def _clock_time(env: Mapping[str, str], name: str, default: tuple[int, int]) -> tuple[int, int]:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw.strip())
    if not found:
        raise ConfigError(f"{name}={raw!r}: expected a local time of day as HH:MM, e.g. 23:59")
    return int(found.group(1)), int(found.group(2))


def _signed_float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} must be between {low} and {high}")
    return value


def normalise_database_url(url: str, data_dir: Path) -> str:
    """Accept the URLs people type and turn them into async driver URLs."""
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg_async"):
        rest = url.split("://", 1)[1]
        return f"postgresql+psycopg://{rest}"
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        rest = url.split("://", 1)[1]
        return f"sqlite+aiosqlite://{rest}"
    raise ConfigError(
        f"EXAM_DATABASE_URL={url!r}: expected postgresql://user@host:port/db or sqlite:///path/to/file.db"
    )


def _load_secret(env: Mapping[str, str], data_dir: Path, *, create: bool) -> tuple[Secret, bool]:
    raw = env.get("EXAM_SECRET_KEY")
    if raw:
        if len(raw) < 32:
            raise ConfigError("EXAM_SECRET_KEY must be at least 32 characters (use a random value)")
        return Secret(raw), False
    key_file = env.get("EXAM_SECRET_KEY_FILE")
    path = Path(key_file) if key_file else data_dir / "secret.key"
    if path.is_file():
        value = path.read_text().strip()
        if len(value) < 32:
            raise ConfigError(f"the secret key in {path} is shorter than 32 characters")
        return Secret(value), False
    if key_file:
        raise ConfigError(f"EXAM_SECRET_KEY_FILE={key_file!r}: no such file")
    if not create:
        raise ConfigError("no EXAM_SECRET_KEY, EXAM_SECRET_KEY_FILE or ./var/secret.key")
    from proctor.store import create_once  # first run only

    value = secrets.token_urlsafe(48)
    if not create_once(path, (value + "\n").encode()):  # another process started first: its secret
        return Secret(path.read_text().strip()), False
    return Secret(value), True


def _redis_prefix(env: Mapping[str, str]) -> str:
    raw = env.get("EXAM_REDIS_PREFIX") or "exam:"
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,40}", raw):
        raise ConfigError(f"EXAM_REDIS_PREFIX={raw!r}: use 1-40 letters, digits, '.', '_', '-' or ':'")
    return raw


def load_settings(env: Mapping[str, str] | None = None, *, create_secret: bool = True) -> Settings:
    """Build :class:`Settings` from the environment, failing fast on a bad value."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("EXAM_DATA_DIR") or DEFAULT_DATA_DIR)
    raw_url = env.get("EXAM_DATABASE_URL") or f"sqlite:///{data_dir / 'exam.db'}"
    database_url = normalise_database_url(raw_url, data_dir)
    redis_url = env.get("EXAM_REDIS_URL") or None
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"EXAM_REDIS_URL={redis_url!r}: expected redis://host:port/db")
    if database_url.startswith("sqlite"):
        data_dir.mkdir(parents=True, exist_ok=True)
    secret, generated = _load_secret(env, data_dir, create=create_secret)
    host = env.get("EXAM_HOST") or "127.0.0.1"
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret,
        data_dir=data_dir,
        host=host,
        port=_int(env, "EXAM_PORT", 8080, minimum=1, maximum=65535),
        network_grace_s=_float(env, "EXAM_NETWORK_GRACE_S", 1.0),
        sweep_interval_s=_float(env, "EXAM_SWEEP_INTERVAL_S", 0.5, minimum=0.05),
        session_ttl_s=_int(env, "EXAM_SESSION_TTL_S", 12 * 3600, minimum=60),
        session_cache_s=_float(env, "EXAM_SESSION_CACHE_S", 60.0),
        session_cache_unsynced_s=_float(env, "EXAM_SESSION_CACHE_UNSYNCED_S", 5.0),
        redis_prefix=_redis_prefix(env),
        session_rate_per_min=_int(env, "EXAM_SESSION_RATE_PER_MIN", 1200, minimum=0),
        fast_save_pool=_int(env, "EXAM_FAST_SAVE_POOL", 8, minimum=0, maximum=200),
        cookie_secure=(env.get("EXAM_COOKIE_SECURE", "0").lower() in ("1", "true", "yes")),
        login_max_failures=_int(env, "EXAM_LOGIN_MAX_FAILURES", 5, minimum=1),
        login_window_s=_int(env, "EXAM_LOGIN_WINDOW_S", 300, minimum=1),
        hold_min_attempts=_int(env, "EXAM_HOLD_MIN_ATTEMPTS", 10, minimum=2),
        hold_discrimination=_signed_float(env, "EXAM_HOLD_DISCRIMINATION", -0.2, -1.0, 0.0),
        hold_release_at=_clock_time(env, "EXAM_HOLD_RELEASE_AT", (23, 59)),
        secret_generated=generated,
    )
