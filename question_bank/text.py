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
    lines = [
        raw.decode(codec, errors="replace") if n in foreign_set else raw.decode("utf-8")
        for n, raw in enumerate(raw_lines, start=1)
    ]
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
_ANY_LOOKALIKE = re.compile("[" + re.escape("".join(sorted(_LOOKALIKE_CHARS))) + "]")
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
    if text.isascii() or not _ANY_LOOKALIKE.search(text):
        return text  # the common case (all-Latin or all-Cyrillic text) without a call per word
    return _WORD.sub(_fix_word, text)


# Text hygiene at the door: every text that can be stored (question, option, topic, twin key)
# passes :func:`forbidden_characters` (refused, with its line) and :func:`clean_text` /
# :func:`clean_option` (invisible characters removed, NFC). Two kinds, two treatments:
#
# * Refused: C0/C1 control characters other than tab and line breaks (NUL cannot even be
#   stored by PostgreSQL; they come from damaged files or binary junk), and the bidirectional
#   controls (LRM, RLM, ALM, LRE…RLO, LRI…PDI). A bidi control changes the *order* in which the
#   letters are displayed, so removing it would change what the author saw into something
#   else ("Trojan Source"); the author has to look at that spot, so the report names it.
# * Removed: the other default-ignorable code points (zero-width space and joiners, word
#   joiner, invisible operators U+2061-U+2064, soft hyphen, combining grapheme joiner, variation
#   selectors, BOM, Hangul fillers, tag characters). They display as nothing, arrive with
#   copy-paste from Word and web pages, and removing them changes nothing a person sees, so
#   "Аст\u2063ана" and "Астана" are the same option and the duplicate check sees it.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200D),
    (0x2060, 0x2065),
    (0x206A, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# A character class, not str.translate with a 4,000-key table: that costs a dict lookup per
# character of every text (0.4 s per 6 MB); the regex scans in C and usually finds nothing.
_INVISIBLE = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _IGNORABLE_RANGES) + "]")
# Inside a value these are line breaks: Word's manual line break is a vertical tab (\x0b) when
# pasted into a spreadsheet cell or saved as text; \x0c is its page break.
_VALUE_BREAKS = re.compile("[\x0b\x0c\u2028\u2029]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")


@dataclass(frozen=True, slots=True)
class ForbiddenCharacter:
    """A refused character: how many lines into the text it stands, and which it is."""

    line_offset: int
    char: str
    bidi: bool

    @property
    def codepoint(self) -> str:
        return f"U+{ord(self.char):04X}"


def forbidden_characters(text: str | None) -> list[ForbiddenCharacter]:
    """The refused characters of ``text``, the first of each kind on each line (linear time)."""
    if not text:
        return []
    found: list[ForbiddenCharacter] = []
    seen: set[tuple[int, bool]] = set()
    for pattern, bidi in ((_CONTROL, False), (_BIDI, True)):
        offset, counted = 0, 0  # line breaks counted incrementally: a million NULs stay linear
        for match in pattern.finditer(text):
            offset += text.count("\n", counted, match.start())
            counted = match.start()
            if (offset, bidi) not in seen:
                seen.add((offset, bidi))
                found.append(ForbiddenCharacter(offset, match.group(0), bidi))
    return sorted(found, key=lambda f: (f.line_offset, f.bidi))


def _clean_lines(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", _VALUE_BREAKS.sub("\n", _INVISIBLE.sub("", text)))
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


_TRAILING_PUNCT = frozenset(".?!:;,…")


def _strip_trailing_punct(text: str) -> str:
    # Not the regex ``[\s.?!:;,…]+$``: searched over ". . . . x" it retries the run from every
    # position (quadratic: 131 s for one 60 KB line); this is one pass from the end.
    end = len(text)
    while end and (text[end - 1] in _TRAILING_PUNCT or text[end - 1].isspace()):
        end -= 1
    return text[:end]


def comparison_key(text: str) -> str:
    """What two texts must share to count as the same question or option: what a person sees.

    Invisible characters removed, NFC, Latin look-alikes folded, spaces and line breaks
    collapsed, trailing punctuation dropped, case folded.
    """
    return _strip_trailing_punct(" ".join(clean_text(text).split())).casefold()


def exact_key(text: str) -> str:
    """Like :func:`comparison_key` but case-sensitive, to tell duplicates from case variants."""
    return _strip_trailing_punct(" ".join(clean_text(text).split()))
