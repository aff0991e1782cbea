"""Errors of the proctoring core: nouns with a stable code.

::

    ProctorError            (code, English msgid with {placeholders}, params)
    ├── ImageUnreadable     a frame or photo that is not a decodable image
    ├── DetectorUnavailable the configured face detector cannot be loaded
    ├── MasterKeyUnknown    a wrapped data key names a master key we do not hold
    └── EvidenceUnreadable  ciphertext that fails authentication (altered, or the
                            wrong attempt/seq/key)

``proctor`` imports nothing of ours, so these do not subclass the server's
``DomainError``; they carry the same ``code``/``msgid``/``params`` triple so the
server's error middleware can map them without knowing this package.
"""

from __future__ import annotations

from typing import Any


class ProctorError(Exception):
    """Base of every error raised by the proctoring core."""

    def __init__(self, code: str, msgid: str, /, **params: Any) -> None:
        super().__init__(msgid.format(**params) if params else msgid)
        self.code = code
        self.msgid = msgid
        self.params = params


class ImageUnreadable(ProctorError):
    pass


class DetectorUnavailable(ProctorError):
    pass


class MasterKeyUnknown(ProctorError):
    pass


class EvidenceUnreadable(ProctorError):
    pass
