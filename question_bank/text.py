"""Bytes to text, and the text clean-up every importer shares.

Banks reach the quality department from Word, Notepad and old Windows tools, so the
same file may be UTF-8 (with or without BOM), UTF-16 or a single-byte Cyrillic code
page; Kazakh letters typed with a Russian keyboard layout often become Latin
look-alikes (``i`` for ``і``, ``ə`` for ``ә``). Two questions must compare equal
whatever the keyboard was, so every text goes through :func:`clean_text` /
:func:`clean_option` before it reaches an :class:`~question_bank.model.Item`, and
duplicate checks compare :func:`comparison_key` values.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

# Bytes where KZ-1048 (the Kazakh Windows code page) differs from CP1251: there
# CP1251 has Serbian/Ukrainian letters no Kazakh or Russian bank uses, so their
# presence means the file is KZ-1048.
_KZ1048_BYTES = frozenset(b"\x8d\x8e\x9d\x9e\xa1\xa2\xa3\xa5\xaa\xaf\xb4\xba\xbc\xbd\xbe\xbf")


@dataclass(frozen=True, slots=True)
class DecodedText:
    """Text with ``\\n`` line ends, and how it was decoded."""

    text: str
    encoding: str
    # 1-based numbers of lines that were not UTF-8 in an otherwise UTF-8 file.
    foreign_lines: tuple[int, ...] = ()


def _single_byte_codec(data: bytes) -> str:
    return "kz1048" if any(b in _KZ1048_BYTES for b in data) else "cp1251"


def _utf16_without_bom(data: bytes) -> str | None:
    """Recognise BOM-less UTF-16 by its zero bytes (Cyrillic/ASCII text has many)."""
    sample = data[:4000]
    if len(sample) < 4:
        return None
    half = len(sample) // 2
    odd_zeros = sample[1::2].count(0)
    even_zeros = sample[0::2].count(0)
    if odd_zeros > 0.3 * half and even_zeros < 0.05 * half:
        return "utf-16-le"
    if even_zeros > 0.3 * half and odd_zeros < 0.05 * half:
        return "utf-16-be"
    return None


def _unify_line_ends(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_bytes(data: bytes) -> DecodedText:
    """Decode a text bank, whatever encoding the author's tool used.

    A file that is UTF-8 except for some lines (two files pasted together) is decoded
    line by line rather than garbling either half; those lines are reported back.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            text = data.decode(codec, errors="replace").lstrip("\ufeff")
            return DecodedText(_unify_line_ends(text), codec.replace("-sig", "") + " (BOM)")
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return DecodedText(_unify_line_ends(data.decode(utf16, errors="replace")), utf16)
    try:
        return DecodedText(_unify_line_ends(data.decode("utf-8")), "utf-8")
    except UnicodeDecodeError:
        pass
    raw_lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    utf8_lines: dict[int, str] = {}
    foreign: list[int] = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            foreign.append(number)
            continue
        if not decoded.isascii():
            utf8_lines[number] = decoded
    codec = _single_byte_codec(b"".join(raw_lines[n - 1] for n in foreign))
    if not utf8_lines:
        return DecodedText(_unify_line_ends(data.decode(codec, errors="replace")), codec)
    foreign_set = set(foreign)
    lines = [raw.decode(codec, errors="replace") if n in foreign_set else raw.decode("utf-8") for n, raw in enumerate(raw_lines, start=1)]
    return DecodedText("\n".join(lines), f"utf-8+{codec}", tuple(foreign))


_LOOKALIKES = str.maketrans(
    {
        "a": "а",
        "c": "с",
        "e": "е",
        "o": "о",
        "p": "р",
        "x": "х",
        "y": "у",
        "k": "к",
        "i": "і",
        "h": "һ",
        "\u0259": "ә",
        "\u0275": "ө",
        "\u0473": "ө",
        "A": "А",
        "B": "В",
        "C": "С",
        "E": "Е",
        "H": "Н",
        "K": "К",
        "M": "М",
        "O": "О",
        "P": "Р",
        "T": "Т",
        "X": "Х",
        "Y": "У",
        "I": "І",
        "\u018f": "Ә",
        "\u019f": "Ө",
        "\u0472": "Ө",
    }
)
_LOOKALIKE_CHARS = frozenset(chr(c) for c in _LOOKALIKES)
_WORD = re.compile(r"[^\W\d_]+")


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff" and ch not in _LOOKALIKE_CHARS


def _fix_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.isascii() or not any(_is_cyrillic(ch) for ch in word):
        return word
    if any(ch not in _LOOKALIKE_CHARS and not _is_cyrillic(ch) for ch in word):
        # A Latin letter with no Cyrillic twin: a genuinely mixed word, leave it be.
        return word
    return word.translate(_LOOKALIKES)


def fold_lookalikes(text: str) -> str:
    """Replace Latin look-alikes by Cyrillic letters inside Cyrillic words only.

    ``Microsoft`` and ``x = 5`` stay Latin; ``қазақcтан`` with a Latin ``c`` and
    ``бiлiм`` with Latin ``i`` become all-Cyrillic.
    """
    return _WORD.sub(_fix_word, text)


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")


def _clean_lines(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    text = fold_lookalikes(_unify_line_ends(text))
    return [_SPACES.sub(" ", line).strip() for line in text.split("\n")]


def clean_text(text: str) -> str:
    """Canonical question text: trimmed lines, single spaces, at most one blank line in a row."""
    out: list[str] = []
    for line in _clean_lines(text):
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def clean_option(text: str) -> str:
    """Canonical option text: like :func:`clean_text` but an option has no blank lines."""
    return "\n".join(line for line in _clean_lines(text) if line)


def clean_label(text: str | None) -> str | None:
    """Canonical one-line label (topic): ``None`` when empty."""
    if text is None:
        return None
    label = " ".join(line for line in _clean_lines(text) if line)
    return label or None


_TRAILING_PUNCT = re.compile(r"[\s.?!:;,…]+$")


def comparison_key(text: str) -> str:
    """What two texts must share to count as the same question or option."""
    return _TRAILING_PUNCT.sub("", " ".join(clean_text(text).split())).casefold()


def exact_key(text: str) -> str:
    """Like :func:`comparison_key` but case-sensitive, to tell duplicates from case variants."""
    return _TRAILING_PUNCT.sub("", " ".join(clean_text(text).split()))
