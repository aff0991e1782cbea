"""What a first run generates (the session secret, the evidence master key, the result-signing key)
when several processes start at once: one generates it, every process uses the one on disk."""

from __future__ import annotations

import multiprocessing
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

PROCESSES = 6


def _secret(data_dir: str) -> tuple[str, bool]:
    from exam_engine.config import load_settings

    settings = load_settings({"EXAM_DATA_DIR": data_dir})
    return settings.secret_key.reveal(), settings.secret_generated


def _evidence_key(data_dir: str) -> tuple[str, bool]:
    from datetime import datetime

    from proctor.keys import load_or_create

    keyring, generated = load_or_create(
        Path(data_dir) / "keys" / "evidence-master.json", configured=False, now=datetime.now(UTC)
    )
    return keyring.secret(keyring.current).hex(), generated


def _signing_key(data_dir: str) -> tuple[str, bool]:
    from cryptography.hazmat.primitives import serialization

    from exam_engine.config import load_settings
    from exam_engine.services import relay

    keys = relay.bridge_keys(load_settings({"EXAM_DATA_DIR": data_dir, "EXAM_SECRET_KEY": "s" * 40}), env={})
    return keys.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex(), False


def _at_once(barrier: Any, results: Any, which: str, data_dir: str) -> None:
    make = {"secret": _secret, "evidence": _evidence_key, "signing": _signing_key}[which]
    barrier.wait()
    try:
        results.put(("ok",) + make(data_dir))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put(("error", repr(exc), False))


def _on_disk(which: str, data_dir: Path) -> str:
    if which == "secret":
        return (data_dir / "secret.key").read_text().strip()
    if which == "evidence":
        from proctor.keys import read_keyring

        keyring = read_keyring(data_dir / "keys" / "evidence-master.json")
        return keyring.secret(keyring.current).hex()
    return _signing_key(str(data_dir))[0]


@pytest.mark.parametrize("which", ["secret", "evidence", "signing"])
def test_processes_starting_together_on_a_first_run_all_use_the_key_on_disk(tmp_path: Path, which: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    procs = [context.Process(target=_at_once, args=(barrier, results, which, str(tmp_path))) for _ in range(PROCESSES)]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert all(status == "ok" for status, _, _ in got), got
    assert {value for _, value, _ in got} == {_on_disk(which, tmp_path)}
    assert sum(generated for _, _, generated in got) <= 1
    assert not [p for p in tmp_path.rglob("*.tmp")]
