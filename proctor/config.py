"""Deployment settings of proctoring, read once from an environment mapping.

The caller passes the mapping (``os.environ`` at start-up, a dict in tests), so a
bad value fails the start with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


class ProctorConfigError(ValueError):
    """A proctoring setting is malformed; the server refuses to start."""


@dataclass(frozen=True)
class ProctorConfig:
    evidence_dir: Path
    key_file: Path
    key_file_configured: bool
    """True when ``EXAM_EVIDENCE_KEY_FILE`` names the file: it must then exist."""
    redis_url: str | None = None
    frame_interval_s: float = 5.0
    screen_interval_s: float = 10.0
    noise_batch_s: float = 10.0
    retention_days: int = 365
    max_frame_bytes: int = 2 * MIB
    max_burst_bytes: int = 10 * MIB
    """A room scan (several frames in one request); below the server's 12 MB body limit."""
    max_event_batch: int = 200
    pool_workers: int = 1
    claim_idle_ms: int = 60_000
    """A worker that held a frame this long without acknowledging it is presumed dead."""
    rescue_after_s: float = 60.0
    """Items unanalysed in the database for this long are analysed by a worker outside the queue
    (their jobs were lost with a Redis restart); ``EXAM_PROCTOR_RESCUE_AFTER_S``, 10 s to a day."""
    live_page_timeout_s: float = 45.0
    """A second exam page is refused while the first polled within this many seconds."""
    redis_prefix: str = "exam:"
    """Shared with the server's other Redis keys (``EXAM_REDIS_PREFIX``)."""
    max_uploads_per_min: int = 150
    """Evidence uploads (frames, screenshots, event batches, loudness batches, scans) one student
    may make in a minute (``EXAM_EVIDENCE_UPLOADS_PER_MIN``): the page sends about 25 at the default
    intervals and about 100 at the fastest an exam may set (a frame a second, a screenshot every 2 s)."""
    max_attempt_bytes: int = 2048 * MIB
    """Evidence bytes one attempt may store in all (``EXAM_EVIDENCE_MAX_MB``): a three-hour exam stores
    about 0.2 GB at the default intervals and about 1.5 GB at the fastest."""
    recording: bool = True
    """Whether the exam page records camera and microphone as video (``EXAM_RECORDING``, 1/0)."""
    recording_kbps: int = 250
    """Target bit rate of the recording, video and sound together (``EXAM_RECORDING_KBPS``, 50–2000)."""
    recording_chunk_s: float = 5.0
    """The page uploads a chunk of the recording every this many seconds (``EXAM_RECORDING_CHUNK_S``, 2–30)."""
    recording_view_audit_s: float = 300.0
    """One audit row per reviewer, attempt and segment for each viewing window this long
    (``EXAM_RECORDING_VIEW_AUDIT_MIN``, 0–60 minutes, default 5; 0: a row for every range served)."""
    recording_queue_bytes: int = 48 * MIB
    """Recorded bytes the page keeps (in IndexedDB) while they wait for the connection
    (``EXAM_RECORDING_QUEUE_MB``, 4–1024; 48 MB is about 25 minutes at 250 kbit/s). When full, the
    recording pauses until the queue is half sent; the proctor is told."""
    recording_tail_s: float = 120.0
    """Recording chunks of a finished attempt (handed in, or closed at its deadline) are still taken
    this long after its end (``EXAM_RECORDING_TAIL_S``, 0–900 s; 0: none): the page's last chunks
    upload after the hand-in. Only for segments opened before the end, only chunks up to the end."""

    @property
    def max_chunk_bytes(self) -> int:
        """The largest chunk accepted: four times the chunk's size at the target bit rate (encoders
        overshoot on movement, and a chunk sent late after a stall covers more time), at least 1 MB and at
        most 10 MB (below the server's and nginx's 12 MB body limit; 2000 kbit/s × 30 s is 7.5 MB)."""
        return min(10 * MIB, max(MIB, int(self.recording_kbps * 1000 / 8 * self.recording_chunk_s * 4)))

    @property
    def stream(self) -> str:
        return f"{self.redis_prefix}proctor:jobs"

    @property
    def group(self) -> str:
        return "analysers"


def _number(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float | None = None) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ProctorConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ProctorConfigError(f"{name}={raw!r} must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise ProctorConfigError(f"{name}={raw!r} must be at most {maximum}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ProctorConfigError(f"{name}={raw!r} must be 1 or 0")
    return raw in ("1", "true", "yes", "on")


def recording_tail_s(env: Mapping[str, str]) -> float:
    """``EXAM_RECORDING_TAIL_S`` (0–900 s, default 120): the server's start-up checks it against its
    deadline grace (exam_engine/config.py) before anything else reads it."""
    return _number(env, "EXAM_RECORDING_TAIL_S", 120.0, 0.0, 900.0)


def load_config(
    env: Mapping[str, str], data_dir: Path, redis_url: str | None, redis_prefix: str = "exam:"
) -> ProctorConfig:
    key_file = env.get("EXAM_EVIDENCE_KEY_FILE")
    default_workers = max(1, (os.cpu_count() or 2) - 1)
    return ProctorConfig(
        evidence_dir=Path(env.get("EXAM_EVIDENCE_DIR") or data_dir / "evidence"),
        key_file=Path(key_file) if key_file else data_dir / "keys" / "evidence-master.json",
        key_file_configured=bool(key_file),
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        frame_interval_s=_number(env, "EXAM_PROCTOR_FRAME_INTERVAL_S", 5.0, 1.0),
        screen_interval_s=_number(env, "EXAM_PROCTOR_SCREEN_INTERVAL_S", 10.0, 2.0),
        retention_days=int(_number(env, "EXAM_EVIDENCE_RETENTION_DAYS", 365, 1)),
        pool_workers=int(_number(env, "EXAM_PROCTOR_WORKERS", default_workers, 1)),
        claim_idle_ms=int(_number(env, "EXAM_PROCTOR_CLAIM_IDLE_MS", 60_000, 100)),
        rescue_after_s=_number(env, "EXAM_PROCTOR_RESCUE_AFTER_S", 60.0, 10.0, 86_400.0),
        max_uploads_per_min=int(_number(env, "EXAM_EVIDENCE_UPLOADS_PER_MIN", 150, 1)),
        max_attempt_bytes=int(_number(env, "EXAM_EVIDENCE_MAX_MB", 2048, 0.01) * MIB),
        recording=_flag(env, "EXAM_RECORDING", True),
        recording_kbps=int(_number(env, "EXAM_RECORDING_KBPS", 250, 50, 2000)),
        recording_chunk_s=_number(env, "EXAM_RECORDING_CHUNK_S", 5.0, 2.0, 30.0),
        recording_view_audit_s=_number(env, "EXAM_RECORDING_VIEW_AUDIT_MIN", 5, 0, 60) * 60,
        recording_queue_bytes=int(_number(env, "EXAM_RECORDING_QUEUE_MB", 48, 4, 1024)) * MIB,
        recording_tail_s=recording_tail_s(env),
    )
