"""``exam-engine backup`` and ``exam-engine restore``: the encrypted archive of database, evidence and keys.

Exit codes as everywhere in the CLI: 0 done, 1 refused (not a backup, damaged, wrong key, a
non-empty target), 2 configuration (no ``EXAM_BACKUP_KEY``). Refusals are
:class:`exam_engine.errors.Refusal`, printed by the entry point as one line in ``EXAM_LANG``.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import load_settings


def cmd_backup(args: argparse.Namespace) -> int:
    from ..backup import create_backup

    now = datetime.now(UTC)
    output = Path(args.output or f"exam-engine-backup-{now:%Y%m%dT%H%M%SZ}.bin")
    report = create_backup(load_settings(create_secret=False, require_secret=False), os.environ, output, now)
    print(
        f"backup written to {report.path} ({report.size} bytes): {report.backend} database, "
        f"{report.evidence_files} evidence files, keys: {', '.join(report.key_files) or 'none'}"
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ..backup import restore_backup

    # Refusals (no key: exit 2; not a backup, damaged, wrong key, a non-empty target: exit 1) reach the
    # entry point as exam_engine.errors.Refusal and are printed there as one line in EXAM_LANG.
    manifest = restore_backup(load_settings(create_secret=False, require_secret=False), os.environ, Path(args.file))
    print(
        f"restored the {manifest['backend']} backup of {manifest['created_at']}: database, "
        f"{manifest['evidence_files']} evidence files, keys: {', '.join(sorted(manifest['keys'])) or 'none'}"
    )
    return 0


def register(sub: Any) -> None:
    """Add ``backup`` and ``restore`` to the main parser's sub-commands."""
    p = sub.add_parser("backup", help="encrypted backup: database, evidence, keys (needs EXAM_BACKUP_KEY)")
    p.add_argument("--output", "-o", help="archive path (default exam-engine-backup-<time>.bin)")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="restore a backup into an EMPTY database and data directory")
    p.add_argument("file")
    p.set_defaults(func=cmd_restore)
