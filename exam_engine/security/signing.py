"""Ed25519 signing for audit seals, submit receipts and exam results, with the installation's key.

There is one signing key per installation, kept by :func:`bridge_keys` here
(``EXAM_SIGNING_KEY_FILE``, or generated once under ``<data_dir>/keys/`` with mode 600;
the outbox relay, :mod:`exam_engine.services.relay`, signs results with it too).
Audit seals, submit receipts and exam results are all signed with it; each kind of message carries its
own prefix (domain separation), so a signature made for one can never be replayed
as another.

Verification needs only public keys: the current one, plus every ``*.pub.pem`` kept
under ``<data_dir>/keys/`` (so seals and receipts signed before a key rotation still
verify once the old public key is kept there). A key is named by its *key id*: the
first 16 bytes of SHA-256 over the raw public key, in hex.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..config import Settings
from ..errors import ConfigError

log = logging.getLogger(__name__)

KEY_FILE = "exam_signing_ed25519.pem"
PUBLIC_FILE = "exam_signing_ed25519.pub.pem"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class Signer:
    """The private half, named by its key id; ``repr`` never shows the key."""

    private: Ed25519PrivateKey = field(repr=False)
    key_id: str

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode()

    def verifier(self) -> Verifier:
        return Verifier({self.key_id: self.private.public_key()})


@dataclass(frozen=True)
class Verifier:
    """Public keys by key id."""

    keys: Mapping[str, Ed25519PublicKey]

    def verify(self, kid: str, message: bytes, signature: str) -> bool:
        public = self.keys.get(kid)
        if public is None:
            return False
        try:
            public.verify(base64.b64decode(signature, validate=True), message)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def knows(self, kid: str) -> bool:
        return kid in self.keys


@dataclass(frozen=True)
class BridgeKeys:
    """The engine's signing key and the journal's verification key (its public half)."""

    private: Ed25519PrivateKey = field(repr=False)
    public: Ed25519PublicKey


def _write_private(path: Path, key: Ed25519PrivateKey) -> bool:
    """False when another process created the key file first (then theirs is the key)."""
    from proctor.store import create_once

    return create_once(
        path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _read_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: the exam-result signing key must be Ed25519, not {type(key).__name__}")
    return key


@functools.lru_cache(maxsize=8)
def _keys_at(path: Path, generate: bool) -> BridgeKeys:
    if not path.is_file():
        if not generate:
            raise ConfigError(f"EXAM_SIGNING_KEY_FILE={str(path)!r}: no such file")
        if _write_private(path, Ed25519PrivateKey.generate()):
            log.warning(
                "no EXAM_SIGNING_KEY_FILE given: generated the exam-result signing key into %s "
                "(keep it safe; the journal trusts only results signed with it)",
                path,
            )
    private = _read_private(path)
    public = private.public_key()
    pub_path = path.with_name(PUBLIC_FILE)
    if generate and not pub_path.exists():
        pub_path.write_bytes(
            public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
    return BridgeKeys(private, public)


def bridge_keys(settings: Settings, env: Mapping[str, str] | None = None) -> BridgeKeys:
    """The signing key from ``EXAM_SIGNING_KEY_FILE``, or the one kept under ``data_dir/keys``."""
    env = os.environ if env is None else env
    configured = env.get("EXAM_SIGNING_KEY_FILE")
    if configured:
        return _keys_at(Path(configured).resolve(), False)
    return _keys_at((settings.data_dir / "keys" / KEY_FILE).resolve(), True)


def signer_for(settings: Settings, env: Mapping[str, str] | None = None) -> Signer:
    """The installation's signing key (the same one the outbox relay signs results with)."""
    keys = bridge_keys(settings, env)
    return Signer(keys.private, key_id(keys.public))


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: expected an Ed25519 public key, not {type(key).__name__}")
    return key


def verifier_for(
    settings: Settings, extra: Iterable[Path] = (), env: Mapping[str, str] | None = None, *, with_current: bool = True
) -> Verifier:
    """Every public key we can trust: the current key, those kept under data_dir/keys, and ``extra``."""
    keys: dict[str, Ed25519PublicKey] = {}
    if with_current:
        signer = signer_for(settings, env)
        keys[signer.key_id] = signer.private.public_key()
    keep = settings.data_dir / "keys"
    paths = list(sorted(keep.glob("*.pub.pem"))) if keep.is_dir() else []
    for path in [*paths, *extra]:
        public = load_public(path)
        keys[key_id(public)] = public
    return Verifier(keys)
