"""A room scan travels and is stored as one item: several JPEG frames in one blob.

No image library here: the server packs and unpacks bursts without loading OpenCV.
"""

from __future__ import annotations

import struct

from proctor.errors import ImageUnreadable

_BURST_MAGIC = b"EXB1"


def pack_burst(frames: list[bytes]) -> bytes:
    """A room scan as one item: magic, count, then (length, JPEG) per frame."""
    parts = [_BURST_MAGIC, struct.pack(">I", len(frames))]
    for frame in frames:
        parts += [struct.pack(">I", len(frame)), frame]
    return b"".join(parts)


def unpack_burst(blob: bytes) -> list[bytes]:
    if blob[:4] != _BURST_MAGIC:
        raise ImageUnreadable("image_unreadable", "The image cannot be decoded")
    (count,), offset, frames = struct.unpack_from(">I", blob, 4), 8, []
    for _ in range(count):
        (length,) = struct.unpack_from(">I", blob, offset)
        frames.append(blob[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return frames
