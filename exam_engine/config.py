"""One configuration object, read once at start-up from the environment.

Every setting is validated here so that a bad value stops the server with a
message naming the variable, instead of failing later in the middle of an exam.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from question_bank.limits import ParseLimits

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
    # The autosave's group commit (issue 24): groups written at once (each on its own connection,
    # besides fast_save_pool), saves in one group at most, saves waiting at most (beyond: 503).
    autosave_groups: int = 2
    autosave_group_max: int = 128
    autosave_queue: int = 4096
    # Bounded waits (issue 18): a request body must arrive within body_timeout_s (else 408), and a
    # request waits at most db_wait_s for a pooled database connection (else 503 with Retry-After).
    body_timeout_s: float = 30.0
    # A request's head (request line and headers) must be complete within header_timeout_s of its first
    # byte — of the connection's opening, for its first request — else 408 (nothing came: closed).
    header_timeout_s: float = 20.0
    db_wait_s: float = 10.0
    # Client connections one process holds at once (each an open file); beyond, 503 and closed.
    # 0: the process's open-file limit less a reserve for the database, Redis and files (web.app).
    max_connections: int = 0
    cookie_secure: bool = False
    login_max_failures: int = 5
    login_window_s: int = 3600
    # Successful sign-ins one account may make per minute (a script signing in in a loop).
    login_successes_per_min: int = 10
    # Open sessions one person may hold; a new sign-in ends the oldest beyond it (0: no cap).
    max_sessions_per_user: int = 5
    # Reverse proxies whose X-Forwarded-For is believed (docs/deploy.md); empty: the socket's peer is the client.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # /metrics: a bearer token; without one, only loopback peers that came through no proxy.
    metrics_token: Secret | None = None
    # What one bank upload may make the parser do (question_bank/limits.py, docs/banks.md).
    bank_limits: ParseLimits = field(default_factory=ParseLimits)
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

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _float(
    env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if maximum is not None and not minimum <= value <= maximum:
        raise ConfigError(f"{name}={raw!r} must be between {minimum} and {maximum}")
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


def _load_secret(env: Mapping[str, str], data_dir: Path, *, create: bool, required: bool = True) -> tuple[Secret, bool]:
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
        if not required:  # a command that never uses it (backup, restore, the verifiers)
            return Secret(""), False
        raise ConfigError(f"no EXAM_SECRET_KEY, EXAM_SECRET_KEY_FILE or {path}")
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


def _networks(env: Mapping[str, str], name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """A comma- or space-separated list of addresses and CIDR blocks (``127.0.0.1, 10.0.0.0/8, ::1``)."""
    raw = env.get(name) or ""
    networks = []
    for part in raw.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(
                f"{name}: {part!r} is not an IP address or CIDR block (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return tuple(networks)


def _metrics_token(env: Mapping[str, str]) -> Secret | None:
    raw = env.get("EXAM_METRICS_TOKEN") or ""
    if not raw:
        return None
    if len(raw) < 32 or not re.fullmatch(r"[A-Za-z0-9._~+/=-]+", raw):
        raise ConfigError(
            "EXAM_METRICS_TOKEN must be at least 32 characters of letters, digits or ._~+/=- (use a random value)"
        )
    return Secret(raw)


def _check_recording_tail(env: Mapping[str, str], grace_s: float) -> None:
    """The recording's tail (``EXAM_RECORDING_TAIL_S``, proctor/config.py) is 0 (none) or at least the
    deadline grace. Both count from the deadline: an attempt still takes answers, and recording chunks,
    for the grace; a shorter tail is over before the grace is, so the last chunks of an attempt closed
    at its deadline, uploaded after it, would have no tail at all."""
    from proctor.config import ProctorConfigError, recording_tail_s

    try:
        tail_s = recording_tail_s(env)
    except ProctorConfigError as error:
        raise ConfigError(str(error)) from None
    if 0 < tail_s < grace_s:
        raise ConfigError(
            f"EXAM_RECORDING_TAIL_S={tail_s:g} is shorter than EXAM_NETWORK_GRACE_S={grace_s:g}: the recording's tail "
            f"would end before the deadline's grace does; set it to at least {grace_s:g} (or to 0: no tail)"
        )


def load_settings(
    env: Mapping[str, str] | None = None, *, create_secret: bool = True, require_secret: bool = True
) -> Settings:
    """Build :class:`Settings` from the environment, failing fast on a bad value.

    ``create_secret=False, require_secret=False``: for the operator commands that never use
    the session secret (backup, restore, audit and receipt verification) — a restore into a
    fresh data directory has none yet, and must not invent one either.
    """
    env = os.environ if env is None else env
    data_dir = Path(env.get("EXAM_DATA_DIR") or DEFAULT_DATA_DIR)
    raw_url = env.get("EXAM_DATABASE_URL") or f"sqlite:///{data_dir / 'exam.db'}"
    database_url = normalise_database_url(raw_url, data_dir)
    redis_url = env.get("EXAM_REDIS_URL") or None
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(f"EXAM_REDIS_URL={redis_url!r}: expected redis://host:port/db")
    if database_url.startswith("sqlite"):
        data_dir.mkdir(parents=True, exist_ok=True)
    secret, generated = _load_secret(env, data_dir, create=create_secret, required=require_secret)
    host = env.get("EXAM_HOST") or "127.0.0.1"
    network_grace_s = _float(env, "EXAM_NETWORK_GRACE_S", 1.0)
    _check_recording_tail(env, network_grace_s)
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        secret_key=secret,
        data_dir=data_dir,
        host=host,
        port=_int(env, "EXAM_PORT", 8080, minimum=1, maximum=65535),
        network_grace_s=network_grace_s,
        sweep_interval_s=_float(env, "EXAM_SWEEP_INTERVAL_S", 0.5, minimum=0.05),
        session_ttl_s=_int(env, "EXAM_SESSION_TTL_S", 12 * 3600, minimum=60),
        session_cache_s=_float(env, "EXAM_SESSION_CACHE_S", 60.0),
        session_cache_unsynced_s=_float(env, "EXAM_SESSION_CACHE_UNSYNCED_S", 5.0),
        redis_prefix=_redis_prefix(env),
        session_rate_per_min=_int(env, "EXAM_SESSION_RATE_PER_MIN", 1200, minimum=0),
        fast_save_pool=_int(env, "EXAM_FAST_SAVE_POOL", 8, minimum=0, maximum=200),
        autosave_groups=_int(env, "EXAM_AUTOSAVE_GROUPS", 2, minimum=1, maximum=32),
        autosave_group_max=_int(env, "EXAM_AUTOSAVE_GROUP_MAX", 128, minimum=1, maximum=1000),
        autosave_queue=_int(env, "EXAM_AUTOSAVE_QUEUE", 4096, minimum=1, maximum=100_000),
        body_timeout_s=_float(env, "EXAM_BODY_TIMEOUT_S", 30.0, minimum=1.0),
        header_timeout_s=_float(env, "EXAM_HEADER_TIMEOUT_S", 20.0, minimum=1.0),
        db_wait_s=_float(env, "EXAM_DB_WAIT_S", 10.0, minimum=0.5),
        max_connections=_int(env, "EXAM_MAX_CONNECTIONS", 0, minimum=0, maximum=1_000_000),
        cookie_secure=(env.get("EXAM_COOKIE_SECURE", "0").lower() in ("1", "true", "yes")),
        login_max_failures=_int(env, "EXAM_LOGIN_MAX_FAILURES", 5, minimum=1),
        login_window_s=_int(env, "EXAM_LOGIN_WINDOW_S", 3600, minimum=60),
        login_successes_per_min=_int(env, "EXAM_LOGIN_SUCCESSES_PER_MIN", 10, minimum=1),
        max_sessions_per_user=_int(env, "EXAM_MAX_SESSIONS_PER_USER", 5, minimum=0),
        trusted_proxies=_networks(env, "EXAM_TRUSTED_PROXIES"),
        metrics_token=_metrics_token(env),
        bank_limits=bank_limits(env),
        hold_min_attempts=_int(env, "EXAM_HOLD_MIN_ATTEMPTS", 10, minimum=2),
        hold_discrimination=_float(env, "EXAM_HOLD_DISCRIMINATION", -0.2, minimum=-1.0, maximum=0.0),
        hold_release_at=_clock_time(env, "EXAM_HOLD_RELEASE_AT", (23, 59)),
        secret_generated=generated,
    )


# EXAM_BANK_* variable -> ParseLimits field; sizes in MiB in the environment.
_BANK_LIMITS: dict[str, tuple[str, int]] = {
    "EXAM_BANK_MAX_UNPACKED_MB": ("max_expanded_bytes", 1024 * 1024),
    "EXAM_BANK_MAX_PARTS": ("max_members", 1),
    "EXAM_BANK_MAX_RATIO": ("max_ratio", 1),
    "EXAM_BANK_MAX_PARAGRAPHS": ("max_paragraphs", 1),
    "EXAM_BANK_MAX_ROWS": ("max_rows", 1),
    "EXAM_BANK_MAX_COLUMNS": ("max_columns", 1),
    "EXAM_BANK_MAX_LINE_CHARS": ("max_line_chars", 1),
    "EXAM_BANK_MAX_QUESTIONS": ("max_questions", 1),
    "EXAM_BANK_MAX_OPTIONS": ("max_options", 1),
    "EXAM_BANK_PARSE_CPU_S": ("cpu_seconds", 1),
    "EXAM_BANK_PARSE_MEMORY_MB": ("memory_bytes", 1024 * 1024),
}


def bank_limits(env: Mapping[str, str]) -> ParseLimits:
    """The bank parser's limits from ``EXAM_BANK_*`` (each optional; see docs/banks.md)."""
    default = ParseLimits()
    values: dict[str, object] = {}
    for name, (field_name, unit) in _BANK_LIMITS.items():
        if env.get(name):
            values[field_name] = _int(env, name, 0, minimum=1) * unit
    if env.get("EXAM_BANK_PARSE_TIMEOUT_S"):
        values["wall_seconds"] = _float(env, "EXAM_BANK_PARSE_TIMEOUT_S", default.wall_seconds, minimum=0.1)
    if values.get("memory_bytes", default.memory_bytes) < 64 * 1024 * 1024:  # type: ignore[operator]
        raise ConfigError("EXAM_BANK_PARSE_MEMORY_MB must be at least 64 (Python itself needs that much)")
    return replace(default, **values)  # type: ignore[arg-type]
